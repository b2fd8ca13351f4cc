#include "ops/ordered_dropout.h"

#include <omp.h>

#include <cstring>
#include <memory>
#include <optional>

#include "cuda/fused_supernet.h"
#include "ops/bypass.h"
#include "ops/fused_kernels.h"
#include "ops/kernel_util.h"
#include "ops/width_mask_args.h"

namespace hwnas {

namespace {

// dst <- src with channels >= the sample's width zeroed. Outer block o (C * inner floats)
// belongs to sample o / per_sample: channels_last tensors have one block per pixel, contiguous
// ones one per sample.
void masked_copy(const float* src, float* dst, const ChannelBlocks& b, const std::vector<int64_t>& widths) {
  const int64_t per_sample = widths.empty() ? 1 : b.outer / static_cast<int64_t>(widths.size());
  const int64_t block = b.channels * b.inner;
#pragma omp parallel for if (b.outer * block > kernel::kParallelGrain)
  for (int64_t o = 0; o < b.outer; ++o) {
    const int64_t keep = widths[o / per_sample] * b.inner;
    std::memcpy(dst + o * block, src + o * block, keep * sizeof(float));
    std::memset(dst + o * block + keep, 0, (block - keep) * sizeof(float));
  }
}

// The same on any device through strided copies, one per run of equal widths: the composed
// reference path of the GPU's fused kernel.
void masked_copy_views(const Tensor& src, Tensor dst, const std::vector<int64_t>& widths) {
  dst.zero_();
  for (const WidthGroup& g : width_groups(widths))
    if (g.width > 0)
      dst.narrow(0, g.begin, g.end - g.begin).narrow(1, 0, g.width).copy_(
          src.narrow(0, g.begin, g.end - g.begin).narrow(1, 0, g.width));
}

// On the GPU: every width group in one launch (cuda/fused_supernet.h), or the composed copies
// when fused kernels are off or there are more runs of equal width than one launch takes.
void masked_copy_cuda(const Tensor& src, Tensor dst, const ChannelBlocks& b, const std::vector<int64_t>& widths) {
  const std::optional<cuda::WidthMaskArgs> a = fused_kernels_enabled() ? width_mask_args(b, widths) : std::nullopt;
  if (!a) return masked_copy_views(src, dst, widths);
  cuda::width_masked_copy(*a, src.device_data<float>(), dst.device_data<float>(), src.device().index);
}

}  // namespace

std::optional<cuda::WidthMaskArgs> width_mask_args(const ChannelBlocks& b, const std::vector<int64_t>& sample_widths) {
  const std::vector<WidthGroup> groups = width_groups(sample_widths);
  if (sample_widths.empty() || groups.size() > static_cast<size_t>(cuda::kMaxWidthGroups)) return std::nullopt;
  cuda::WidthMaskArgs a;
  a.outer = b.outer;
  a.channels = b.channels;
  a.inner = b.inner;
  a.per_sample = b.outer / static_cast<int64_t>(sample_widths.size());
  a.groups = static_cast<int>(groups.size());
  for (size_t g = 0; g < groups.size(); ++g) {
    a.group_end[g] = groups[g].end;
    a.group_width[g] = groups[g].width;
  }
  return a;
}

Variable ordered_dropout(const Variable& x, const std::vector<int64_t>& sample_widths) {
  HWNAS_CHECK(x.defined() && x.data().dtype() == DType::f32 && x.dim() >= 2,
              "ordered_dropout: x must be an f32 tensor [N, C, ...], got {}",
              x.defined() ? x.data().str() : "undefined");
  const int64_t n = x.size(0), c = x.size(1);
  HWNAS_CHECK(static_cast<int64_t>(sample_widths.size()) == n,
              "ordered_dropout: {} sample widths for a batch of {} (x {}); expected one per sample",
              sample_widths.size(), n, shape_str(x.shape()));
  for (size_t i = 0; i < sample_widths.size(); ++i)
    HWNAS_CHECK(sample_widths[i] >= 0 && sample_widths[i] <= c,
                "ordered_dropout: width {} of sample {} out of range [0, {}] for x {}", sample_widths[i], i, c,
                shape_str(x.shape()));
  const MemoryFormat fmt = channel_format(x.data());
  const ChannelBlocks b = channel_blocks(x.shape(), fmt);
  Tensor xd = x.data().contiguous(fmt);
  Tensor out = Tensor::empty(x.shape(), DType::f32, fmt, xd.device());
  if (xd.is_cuda()) masked_copy_cuda(xd, out, b, sample_widths);
  else masked_copy(xd.data<float>(), out.data<float>(), b, sample_widths);
  if (!needs_grad({x})) return make_result(out, "ordered_dropout", {x}, nullptr);
  auto widths = std::make_shared<const std::vector<int64_t>>(sample_widths);
  return make_result(out, "ordered_dropout", {x}, [widths, b](const Tensor& gy_in) -> std::vector<Tensor> {
    Tensor gy = gy_in.contiguous(b.fmt);
    Tensor gx = Tensor::empty(gy.shape(), DType::f32, b.fmt, gy.device());
    if (gy.is_cuda()) masked_copy_cuda(gy, gx, b, *widths);
    else masked_copy(gy.data<float>(), gx.data<float>(), b, *widths);
    return {gx};
  });
}

std::vector<WidthGroup> width_groups(const std::vector<int64_t>& sample_widths) {
  std::vector<WidthGroup> groups;
  const int64_t n = static_cast<int64_t>(sample_widths.size());
  for (int64_t i = 0; i < n; ++i) {
    if (!groups.empty() && groups.back().width == sample_widths[i]) groups.back().end = i + 1;
    else groups.push_back({sample_widths[i], i, i + 1});
  }
  return groups;
}

std::vector<int64_t> ordered_sample_widths(int64_t batch, const std::vector<int64_t>& choices, int64_t groups,
                                           Generator& gen) {
  HWNAS_CHECK(groups >= 1 && groups <= batch,
              "ordered_sample_widths: {} groups for a batch of {}; expected 1 <= groups <= batch", groups, batch);
  HWNAS_CHECK(!choices.empty(), "ordered_sample_widths: no width choices");
  for (auto w : choices) HWNAS_CHECK(w >= 0, "ordered_sample_widths: negative width in choices {}", shape_str(choices));
  std::vector<int64_t> widths(static_cast<size_t>(batch));
  const int64_t size = batch / groups;
  for (int64_t g = 0; g < groups; ++g) {
    const int64_t w = choices[gen.below(choices.size())];
    const int64_t end = g + 1 == groups ? batch : (g + 1) * size;
    for (int64_t i = g * size; i < end; ++i) widths[i] = w;
  }
  return widths;
}

}  // namespace hwnas
