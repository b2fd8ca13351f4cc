#pragma once
// CUDA kernels of the depthwise 2-D convolution (groups == C_in == C_out, PyTorch semantics:
// zero padding, stride, dilation) over NHWC (channels_last) dense activations:
//   x[((n*H + iy)*W + ix)*C + c],  y[((n*OH + oy)*OW + ox)*C + c].
// Output (oy, ox), tap (ky, kx) reads input pixel
//   iy = oy*sh - ph + ky*dh,  ix = ox*sw - pw + kx*dw   (nothing when outside [0,H) x [0,W)).
// The weight is read through a DepthwiseWeightLayout, so it can be
//  - PyTorch's [C, 1, KH, KW] or any view of it, in place: an elastic kernel's centre taps are
//    read straight from the shared larger weight, with no copy (the fused path), or
//  - packed tap-major, channel fastest (the composed reference path, HWNAS_FUSED=0: a copy
//    first, then coalesced weight loads).
// The per-element work is HWNAS_HD functions, which the kernels run per thread and
// tests/cuda/depthwise_bodies_test.cpp runs on the host against the CPU convolution.
// Plain C++ (no CUDA types) so that the ops can include it; pointers are device memory on
// `device`, and everything runs on that device's stream.
#include <cstdint>

#include "cuda/host_device.h"
#include "ops/activation_kind.h"

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

// Weight element (c, ky, kx) is at w[c*c_stride + ky*ky_stride + kx*kx_stride].
struct DepthwiseWeightLayout {
  int64_t c_stride = 1, ky_stride = 0, kx_stride = 0;
  static DepthwiseWeightLayout packed(const DepthwiseGeom& g) { return {1, g.kw * g.c, g.c}; }
  static DepthwiseWeightLayout pytorch(const DepthwiseGeom& g) { return {g.kh * g.kw, g.kw, 1}; }  // dense [C,1,KH,KW]
};

// y element i of [n, oy, ox, c] (bias nullptr: none).
HWNAS_HD float depthwise_forward_at(const DepthwiseGeom& g, const float* x, const float* w,
                                    const DepthwiseWeightLayout& wl, const float* bias, int64_t i) {
  const int64_t c = i % g.c, pix = i / g.c, ox = pix % g.ow, r = pix / g.ow, oy = r % g.oh, n = r / g.oh;
  float acc = bias ? bias[c] : 0.f;
  const float* wc = w + c * wl.c_stride;
  for (int64_t ky = 0; ky < g.kh; ++ky) {
    const int64_t iy = oy * g.sh - g.ph + ky * g.dh;
    if (iy < 0 || iy >= g.h) continue;
    const float* xrow = x + (n * g.h + iy) * g.w * g.c + c;
    for (int64_t kx = 0; kx < g.kw; ++kx) {
      const int64_t ix = ox * g.sw - g.pw + kx * g.dw;
      if (ix < 0 || ix >= g.w) continue;
      acc += xrow[ix * g.c] * wc[ky * wl.ky_stride + kx * wl.kx_stride];
    }
  }
  return acc;
}

// gx element i of [n, iy, ix, c]: gather, for each tap, the output (oy, ox) that read (iy, ix)
// through it, if any.
HWNAS_HD float depthwise_backward_data_at(const DepthwiseGeom& g, const float* gy, const float* w,
                                          const DepthwiseWeightLayout& wl, int64_t i) {
  const int64_t c = i % g.c, pix = i / g.c, ix = pix % g.w, r = pix / g.w, iy = r % g.h, n = r / g.h;
  float acc = 0.f;
  const float* wc = w + c * wl.c_stride;
  for (int64_t ky = 0; ky < g.kh; ++ky) {
    const int64_t ty = iy + g.ph - ky * g.dh;  // = oy * sh
    if (ty < 0 || ty % g.sh != 0) continue;
    const int64_t oy = ty / g.sh;
    if (oy >= g.oh) continue;
    const float* gyrow = gy + (n * g.oh + oy) * g.ow * g.c + c;
    for (int64_t kx = 0; kx < g.kw; ++kx) {
      const int64_t tx = ix + g.pw - kx * g.dw;  // = ox * sw
      if (tx < 0 || tx % g.sw != 0) continue;
      const int64_t ox = tx / g.sw;
      if (ox >= g.ow) continue;
      acc += gyrow[ox * g.c] * wc[ky * wl.ky_stride + kx * wl.kx_stride];
    }
  }
  return acc;
}

// Part of the weight gradient of channel `ch` and tap `tap` (tap == kh*kw: the bias, the sum of
// gy): the sum over output rows r = first, first + step, ... (< n*oh) of gy * x. The kernel
// gives each (row lane, pixel split) its own `first` and adds the parts up.
HWNAS_HD float depthwise_weight_grad_part(const DepthwiseGeom& g, const float* gy, const float* x, int64_t tap,
                                          int64_t ch, int64_t first, int64_t step) {
  const int64_t rows = g.n * g.oh;
  float acc = 0.f;
  if (tap == g.kh * g.kw) {
    for (int64_t r = first; r < rows; r += step) {
      const float* gyrow = gy + r * g.ow * g.c + ch;
      for (int64_t ox = 0; ox < g.ow; ++ox) acc += gyrow[ox * g.c];
    }
    return acc;
  }
  const int64_t ky = tap / g.kw, kx = tap % g.kw;
  for (int64_t r = first; r < rows; r += step) {
    const int64_t oy = r % g.oh, n = r / g.oh;
    const int64_t iy = oy * g.sh - g.ph + ky * g.dh;
    if (iy < 0 || iy >= g.h) continue;
    const float* gyrow = gy + r * g.ow * g.c + ch;
    const float* xrow = x + (n * g.h + iy) * g.w * g.c + ch;
    for (int64_t ox = 0; ox < g.ow; ++ox) {
      const int64_t ix = ox * g.sw - g.pw + kx * g.dw;
      if (ix < 0 || ix >= g.w) continue;
      acc += gyrow[ox * g.c] * xrow[ix * g.c];
    }
  }
  return acc;
}

// y[n,oy,ox,c] = bias[c] + sum_{ky,kx} x[n,iy,ix,c] * w(c,ky,kx); bias nullptr: none.
void depthwise_forward(const DepthwiseGeom& g, const float* x, const float* w, const DepthwiseWeightLayout& wl,
                       const float* bias, float* y, int device);
// Inference with batch norm folded into w and bias: y = act(conv + bias) (+ residual, added
// after the activation, as ops/conv.h's conv2d_inference), all in the kernel's epilogue.
// residual nullptr: none; it is dense NHWC like y.
void depthwise_forward_epilogue(const DepthwiseGeom& g, const float* x, const float* w, const DepthwiseWeightLayout& wl,
                                const float* bias, Activation act, const float* residual, float* y, int device);
// gx[n,iy,ix,c] = sum over the taps of gy[n,oy,ox,c] * w(c,ky,kx) for the outputs (oy, ox) that
// read (iy, ix) with that tap. Writes every element of gx (no need to zero it first).
void depthwise_backward_data(const DepthwiseGeom& g, const float* gy, const float* w, const DepthwiseWeightLayout& wl,
                             float* gx, int device);
// gw(c,ky,kx) = sum_{n,oy,ox} gy[n,oy,ox,c] * x[n,iy,ix,c], written through `gl` (gw dense in
// that layout: every element is written); gbias[c] = sum of gy over n, oy, ox (gbias nullptr:
// skipped). When there are few channel blocks the pixels are split across blocks combined with
// atomics, so sums are then not bit-reproducible run to run (as in cuda/batch_norm.h).
void depthwise_backward_weight(const DepthwiseGeom& g, const float* gy, const float* x, float* gw,
                               const DepthwiseWeightLayout& gl, float* gbias, int device);

}  // namespace hwnas::cuda
