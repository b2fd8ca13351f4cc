#pragma once
// Internal to the conv family (ops/conv*.cpp): the geometry of one convolution and the three
// CPU kernels behind conv2d. Activations are dense NHWC (channels_last) pointers; the kernels do
// no argument checking (ops/conv.cpp does).
#include <cstdint>

#include "ops/activation.h"

namespace hwnas::conv_detail {

struct ConvGeom {
  int64_t n = 0, c_in = 0, h = 0, w = 0;
  int64_t c_out = 0, kh = 1, kw = 1, oh = 0, ow = 0;
  int64_t sh = 1, sw = 1, ph = 0, pw = 0, dh = 1, dw = 1, groups = 1;
};

// Applied to output rows while they are still in cache: y = act(y + bias) + residual.
struct Epilogue {
  const float* bias = nullptr;  // [c_out]
  Activation act = Activation::none;
  const float* residual = nullptr;  // same layout as y
  bool empty() const { return !bias && act == Activation::none && !residual; }
};

// y (and residual) point at the first of `rows` rows of `c` channels.
void apply_epilogue(float* y, const float* residual, int64_t rows, int64_t c, const Epilogue& ep);

// ---- pointwise (1x1, stride 1, pad 0): a GEMM over rows = N*H*W pixels -----------------------
// w: element (o, i) of the [c_out, c_in/groups] weight at w[o * ldw + i].
void pointwise_forward(int64_t rows, int64_t c_in, int64_t c_out, int64_t groups, const float* x, const float* w,
                       int64_t ldw, const Epilogue& ep, float* y);
void pointwise_backward_data(int64_t rows, int64_t c_in, int64_t c_out, int64_t groups, const float* gy, const float* w,
                             int64_t ldw, float* gx);
// gw: dense [c_out, c_in/groups].
void pointwise_backward_weight(int64_t rows, int64_t c_in, int64_t c_out, int64_t groups, const float* gy,
                               const float* x, float* gw);

// ---- depthwise (groups == c_in == c_out): own channel-vectorized kernels ----------------------
// Kernels up to this size per axis (the data gradient indexes taps in fixed arrays); larger
// depthwise convolutions go to oneDNN.
inline constexpr int64_t kDepthwiseMaxKernel = 64;
// wt: the weight repacked as [kh * kw, C] so that channels are the unit-stride dimension.
void depthwise_forward(const ConvGeom& g, const float* x, const float* wt, const Epilogue& ep, float* y);
void depthwise_backward_data(const ConvGeom& g, const float* gy, const float* wt, float* gx);
// gwt: [kh * kw, C]; gb: [C] or null.
void depthwise_backward_weight(const ConvGeom& g, const float* gy, const float* x, float* gwt, float* gb);

// ---- everything else: oneDNN convolution primitives, built once per shape and cached ----------
// w: dense [c_out, c_in/groups, kh, kw]. When `residual` is set, y already holds it on entry
// (it is added after the activation as a oneDNN sum post-op).
void dnnl_conv_forward(const ConvGeom& g, const float* x, const float* w, const float* bias, Activation act,
                       bool residual, bool training, float* y);
// Any of gx, gw (dense like w), gb may be null when not wanted.
void dnnl_conv_backward(const ConvGeom& g, const float* x, const float* w, const float* gy, float* gx, float* gw,
                        float* gb);
// The implementation oneDNN picked for a forward of this geometry ("jit:avx2", ...): for tests
// and benchmarks that want to know no reference kernel slipped in.
const char* dnnl_conv_impl(const ConvGeom& g, bool has_bias);

}  // namespace hwnas::conv_detail
