#pragma once
// cuDNN convolution for ops/conv (every case but depthwise, which has its own kernel in
// cuda/conv_depthwise.cu): NHWC activations and NHWC-ordered filters [C_out, kH, kW, C_in/groups]
// (cuDNN's fast NHWC kernels want the filter in the activations' order; ops/conv permutes the
// PyTorch-layout weight, a small copy). Descriptors and the chosen algorithms are cached per
// shape (bounded, least recently used out); FMA math only, no TF32, so results match the CPU
// to fp32 rounding. A shape with bf16 set (bf16 autocast, ops/autocast.h) converts its f32
// operands into bf16 scratch buffers, runs cuDNN's bf16 convolution on the tensor cores (f32
// accumulation) and widens the bf16 result into the f32 output; callers pass and get f32.
#include <cstddef>
#include <cstdint>

#include "ops/activation_kind.h"

namespace hwnas::cuda {

struct ConvShape {
  int64_t n = 0, c_in = 0, h = 0, w = 0;
  int64_t c_out = 0, kh = 1, kw = 1, oh = 0, ow = 0;
  int64_t sh = 1, sw = 1, ph = 0, pw = 0, dh = 1, dw = 1, groups = 1;
  bool bf16 = false;  // autocast: bf16 operands and result, f32 accumulation
  bool operator==(const ConvShape&) const = default;
};

// y = conv(x, w) (+ bias[c_out] when given).
void conv_forward(const ConvShape& s, const float* x, const float* w, const float* bias, float* y, int device);
// Inference with batch norm folded into w and bias: y = act(conv(x, w) + bias) (+ residual,
// added after the activation, as ops/conv.h's conv2d_inference). ReLU and ReLU6 with a bias run
// as one cudnnConvolutionBiasActivationForward (bias and activation in the convolution's
// epilogue); other activations, or a shape that call does not support, take the convolution,
// the bias and the activation kernel (cuda/activation.h). residual nullptr: none.
void conv_forward_epilogue(const ConvShape& s, const float* x, const float* w, const float* bias, Activation act,
                           const float* residual, float* y, int device);
void conv_backward_data(const ConvShape& s, const float* gy, const float* w, float* gx, int device);
void conv_backward_filter(const ConvShape& s, const float* gy, const float* x, float* gw, int device);
size_t conv_plan_cache_size();  // plans cached now (tests)
constexpr size_t kConvPlanCacheLimit = 512;

}  // namespace hwnas::cuda
