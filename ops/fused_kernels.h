#pragma once
// Whether the CUDA paths of the supernet ops (mixed-op weighted sum, Split-Attention combine,
// ordered dropout; the depthwise conv reading an elastic kernel in place) run their fused kernels
// (cuda/fused_supernet.h, cuda/conv_depthwise.h) or the composed reference paths built from the
// device's elementwise ops and copies. On by default; off with HWNAS_FUSED=0 in the
// environment (to measure what the fusion buys) or with FusedKernelsScope (tests compare the two).
namespace hwnas {

bool fused_kernels_enabled();
void set_fused_kernels_enabled(bool on);

class FusedKernelsScope {
 public:
  explicit FusedKernelsScope(bool on) : saved_(fused_kernels_enabled()) { set_fused_kernels_enabled(on); }
  ~FusedKernelsScope() { set_fused_kernels_enabled(saved_); }
  FusedKernelsScope(const FusedKernelsScope&) = delete;
  FusedKernelsScope& operator=(const FusedKernelsScope&) = delete;

 private:
  bool saved_;
};

}  // namespace hwnas
