#pragma once
// CUDA kernels of the depthwise 2-D convolution (groups == C_in == C_out, PyTorch semantics:
// zero padding, stride, dilation) over NHWC (channels_last) dense activations:
//   x[((n*H + iy)*W + ix)*C + c],  y[((n*OH + oy)*OW + ox)*C + c],
// with the weight PACKED tap-major, channel fastest: wt[(ky*KW + kx)*C + c] (the caller packs
// PyTorch's [C, 1, KH, KW] into it). Output (oy, ox), tap (ky, kx) reads input pixel
//   iy = oy*sh - ph + ky*dh,  ix = ox*sw - pw + kx*dw   (nothing when outside [0,H) x [0,W)).
// Plain C++ (no CUDA types) so that the ops can include it; pointers are device memory on
// `device`, and everything runs on that device's stream.
#include <cstdint>

namespace hwnas::cuda {

struct DepthwiseGeom {
  int64_t n = 0, c = 0;    // batch, channels (= groups = input = output channels)
  int64_t h = 0, w = 0;    // input height, width
  int64_t oh = 0, ow = 0;  // output height, width (the caller computes them)
  int64_t kh = 0, kw = 0;  // kernel height, width
  int64_t sh = 1, sw = 1;  // stride (>= 1)
  int64_t ph = 0, pw = 0;  // zero padding (>= 0)
  int64_t dh = 1, dw = 1;  // dilation (>= 1)
};

// y[n,oy,ox,c] = bias[c] + sum_{ky,kx} x[n,iy,ix,c] * wt[ky,kx,c]; bias nullptr: none.
void depthwise_forward(const DepthwiseGeom& g, const float* x, const float* wt, const float* bias, float* y,
                       int device);
// gx[n,iy,ix,c] = sum over the taps of gy[n,oy,ox,c] * wt[ky,kx,c] for the outputs (oy, ox) that
// read (iy, ix) with that tap. Writes every element of gx (no need to zero it first).
void depthwise_backward_data(const DepthwiseGeom& g, const float* gy, const float* wt, float* gx, int device);
// gwt[ky,kx,c] = sum_{n,oy,ox} gy[n,oy,ox,c] * x[n,iy,ix,c] (packed like wt); gbias[c] = sum of gy
// over n, oy, ox (gbias nullptr: skipped). Overwrites gwt and gbias. When there are few channel
// blocks the pixels are split across blocks combined with atomics, so sums are then not
// bit-reproducible run to run (as in cuda/batch_norm.h).
void depthwise_backward_weight(const DepthwiseGeom& g, const float* gy, const float* x, float* gwt, float* gbias,
                               int device);

}  // namespace hwnas::cuda
