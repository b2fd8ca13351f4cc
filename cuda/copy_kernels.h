#pragma once
// Strided copy (with f32 <-> i64 conversion and broadcasting through stride 0) and fill on the
// device: what Tensor::copy_, contiguous() and fill_ need on CUDA. Plain types only, so the .cu
// side includes neither Tensor nor fmt.
#include <cstdint>

namespace hwnas::cuda {

constexpr int kMaxDims = 8;
enum class ElemType : int { f32 = 0, i64 = 1 };

struct StridedLayout {
  int nd = 0;
  int64_t shape[kMaxDims] = {};
  int64_t stride[kMaxDims] = {};  // in elements
};

// dst[i] = convert(src[i]) for every logical index of dst's shape (src has the same shape).
void launch_copy_strided(void* dst, ElemType dst_type, const StridedLayout& dst_layout, const void* src,
                         ElemType src_type, const StridedLayout& src_layout, int64_t n, void* stream);
void launch_fill(void* dst, ElemType type, const StridedLayout& layout, double value, int64_t n, void* stream);

}  // namespace hwnas::cuda
