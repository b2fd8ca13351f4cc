#pragma once
// 2-D convolution, NCHW shapes (PyTorch/ONNX semantics) on channels_last memory.
// Weight [C_out, C_in/groups, kH, kW] in PyTorch layout; it may be a strided view (a slice of a
// larger shared weight). The CPU path picks a kernel per case: 1x1 convs are one GEMM over
// N*H*W rows, depthwise convs use our own channel-vectorized kernel, everything else goes to a
// oneDNN convolution primitive built once per shape and cached.
#include "autograd/variable.h"
#include "ops/activation.h"

namespace hwnas {

struct Conv2dOptions {
  int64_t stride_h = 1, stride_w = 1;
  int64_t pad_h = 0, pad_w = 0;
  int64_t dilation_h = 1, dilation_w = 1;
  int64_t groups = 1;
  static Conv2dOptions make(int64_t stride, int64_t padding, int64_t dilation = 1, int64_t groups = 1) {
    return {stride, stride, padding, padding, dilation, dilation, groups};
  }
};

// x [N, C_in, H, W], w [C_out, C_in/groups, kH, kW], bias [C_out] or undefined.
// The output is channels_last.
Variable conv2d(const Variable& x, const Variable& w, const Variable& bias, const Conv2dOptions& opts);

// Batch-1 inference after batch-norm folding, on Tensors (no autograd): out = act(conv(x) + bias),
// then + *residual when given (the residual is added after the activation, as in MBConv where
// act is none). Bias and activation are applied while each block of output is still in cache;
// nothing is allocated beyond the output. bias may be undefined; the output is channels_last.
// On a GPU the bias, activation and residual are the epilogue of the depthwise kernel or of
// cuDNN's fused convolution (cuda/conv.h, cuda/conv_depthwise.h).
Tensor conv2d_inference(const Tensor& x, const Tensor& w, const Tensor& bias, const Conv2dOptions& opts,
                        Activation act = Activation::none, const Tensor* residual = nullptr);

// Output spatial size, shared with shape inference elsewhere.
int64_t conv_out_size(int64_t in, int64_t kernel, int64_t stride, int64_t pad, int64_t dilation);

}  // namespace hwnas
