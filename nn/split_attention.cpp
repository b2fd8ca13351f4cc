#include "nn/split_attention.h"

#include <algorithm>

#include "ops/batch_norm.h"
#include "ops/conv.h"
#include "ops/elementwise.h"
#include "ops/pool.h"
#include "ops/shape_ops.h"
#include "ops/split_attention.h"

namespace hwnas {

namespace {

// A narrow that is skipped when it keeps everything: a full-size "slice" would only add an
// autograd node whose backward copies the whole gradient once more.
Variable narrow_if(const Variable& v, int64_t dim, int64_t start, int64_t len) {
  return start == 0 && len == v.size(dim) ? v : narrow(v, dim, start, len);
}
Tensor narrow_if(const Tensor& t, int64_t dim, int64_t start, int64_t len) {
  return start == 0 && len == t.size(dim) ? t : t.narrow(dim, start, len);
}

// Batch norm on entries [start, start + c) of a larger BatchNorm2d, its running statistics
// updated in place through the views.
Variable sliced_bn(const Variable& x, BatchNorm2d& bn, int64_t start, int64_t c, bool training) {
  return batch_norm(x, narrow_if(bn.weight, 0, start, c), narrow_if(bn.bias, 0, start, c),
                    narrow_if(bn.running_mean, 0, start, c), narrow_if(bn.running_var, 0, start, c),
                    {training, bn.momentum, bn.eps, bn.act});
}

void check_range(const char* what, int64_t v, int64_t hi) {
  if (v < 1 || v > hi) fail("SplitAttentionConv: {} {} is out of range, expected 1..{}", what, v, hi);
}

}  // namespace

int64_t SplitAttentionConv::attention_width(int64_t channels, int64_t radix) {
  return std::max<int64_t>(channels * radix / 4, 32);
}

SplitAttentionConv::SplitAttentionConv(int64_t max_c, int64_t max_k, int64_t max_r, int64_t s, Activation a,
                                       Generator& gen)
    : max_channels(max_c), max_kernel(max_k), max_radix(max_r), stride(s), act(a) {
  if (max_c < 1 || max_r < 1 || max_k < 1 || s < 1)
    fail("SplitAttentionConv: max_channels {}, max_kernel {}, max_radix {} and stride {} must be positive", max_c,
         max_k, max_r, s);
  if (max_k % 2 == 0) fail("SplitAttentionConv: max_kernel {} must be odd (smaller kernels are its centre)", max_k);
  max_attention = attention_width(max_c, max_r);
  const int64_t split_channels = max_r * max_c;
  dw = register_module("dw", std::make_shared<Conv2d>(split_channels, split_channels, max_k,
                                                      Conv2dOptions::make(s, max_k / 2, 1, split_channels),
                                                      /*bias=*/false, gen));
  bn = register_module("bn", std::make_shared<BatchNorm2d>(split_channels, 1e-5f, 0.1f, a));
  fc1 = register_module("fc1", std::make_shared<Conv2d>(max_c, max_attention, 1, Conv2dOptions{}, true, gen));
  fc1_bn = register_module("fc1_bn", std::make_shared<BatchNorm2d>(max_attention, 1e-5f, 0.1f, Activation::relu));
  fc2 = register_module("fc2", std::make_shared<Conv2d>(max_attention, split_channels, 1, Conv2dOptions{}, true, gen));
}

Variable SplitAttentionConv::dw_weight(int64_t split, int64_t channels, int64_t kernel) const {
  const int64_t off = (max_kernel - kernel) / 2;
  Variable w = narrow_if(dw->weight, 0, split * max_channels, channels);
  return narrow_if(narrow_if(w, 2, off, kernel), 3, off, kernel);
}

Variable SplitAttentionConv::fc1_weight(int64_t channels, int64_t radix) const {
  return narrow_if(narrow_if(fc1->weight, 0, 0, attention_width(channels, radix)), 1, 0, channels);
}

Variable SplitAttentionConv::fc1_bias(int64_t channels, int64_t radix) const {
  return narrow_if(fc1->bias, 0, 0, attention_width(channels, radix));
}

Variable SplitAttentionConv::fc2_weight(int64_t split, int64_t channels, int64_t radix) const {
  return narrow_if(narrow_if(fc2->weight, 0, split * max_channels, channels), 1, 0, attention_width(channels, radix));
}

Variable SplitAttentionConv::fc2_bias(int64_t split, int64_t channels) const {
  return narrow_if(fc2->bias, 0, split * max_channels, channels);
}

Variable SplitAttentionConv::forward(const Variable& x) { return forward(x, max_channels, max_kernel, max_radix); }

Variable SplitAttentionConv::forward(const Variable& x, int64_t channels, int64_t kernel, int64_t radix) {
  check_range("channels", channels, max_channels);
  check_range("kernel", kernel, max_kernel);
  check_range("radix", radix, max_radix);
  if (kernel % 2 == 0)
    fail("SplitAttentionConv: kernel {} must be odd (the centre of the {}x{} weights)", kernel, max_kernel,
         max_kernel);
  if (!x.defined() || x.dim() != 4 || x.size(1) != channels)
    fail("SplitAttentionConv: expected an input [N, {}, H, W], got {}", channels,
         x.defined() ? shape_str(x.shape()) : "undefined");
  const bool tr = is_training();
  const Conv2dOptions dw_opts = Conv2dOptions::make(stride, kernel / 2, 1, channels);
  std::vector<Variable> splits;
  for (int64_t m = 0; m < radix; ++m)
    splits.push_back(
        sliced_bn(conv2d(x, dw_weight(m, channels, kernel), {}, dw_opts), *bn, m * max_channels, channels, tr));
  if (radix == 1) return splits[0];

  // The pool of the splits' sum, in one pass and without materializing the sum.
  Variable pooled = reshape(split_attention_pool(splits), {x.size(0), channels, 1, 1});
  const int64_t a = attention_width(channels, radix);
  const Conv2dOptions fc_opts{};
  Variable h = sliced_bn(conv2d(pooled, fc1_weight(channels, radix), fc1_bias(channels, radix), fc_opts), *fc1_bn,
                         0, a, tr);
  std::vector<Variable> logits;
  for (int64_t m = 0; m < radix; ++m)
    logits.push_back(conv2d(h, fc2_weight(m, channels, radix), fc2_bias(m, channels), fc_opts));
  return split_attention_combine(splits, logits);
}

}  // namespace hwnas
