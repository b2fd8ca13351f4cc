#pragma once
// CUDA kernels of ops/pool (max and average pooling), with the per-element bodies they run as
// HWNAS_HD functions, so tests check them on the host against the CPU op
// (tests/cuda/pool_bodies_test.cpp) and the CPU-vs-CUDA test checks the launches on a GPU.
//
// Geometry as the CPU op walks memory: [n, h, w, c] with channels innermost. channels_last
// [N, C, H, W] is n = N, c = C; contiguous is n = N*C images of c = 1 channel.
//
// Every body gathers: one thread per output element forward, one per input element backward
// (the windows that cover it, in the CPU op's order), so no atomics and the sums add up in the
// same order as on the CPU. Plain C++: no Tensor, no fmt, no CUDA types.
#include <cmath>
#include <cstdint>

#include "cuda/host_device.h"

namespace hwnas::cuda {

struct PoolArgs {
  int64_t n = 0, c = 0, h = 0, w = 0, oh = 0, ow = 0, k = 0, s = 0, p = 0;
  bool count_include_pad = true;  // average pooling only
};

// Valid input range [lo, hi) of a window of k starting at `start` (negative: padding).
HWNAS_HD void pool_window(int64_t start, int64_t k, int64_t size, int64_t* lo, int64_t* hi) {
  *lo = start > 0 ? start : 0;
  *hi = start + k < size ? start + k : size;
}

// Output element o of [n, oh, ow, c]: the window's maximum, and in *idx its position h * W + w
// in the image. NaN wins (a diverging run shows in the output); ties keep the first.
HWNAS_HD float max_pool_at(const PoolArgs& g, const float* x, int64_t o, int64_t* idx) {
  const int64_t j = o % g.c, t = o / g.c, ow = t % g.ow, t2 = t / g.ow, oh = t2 % g.oh, n = t2 / g.oh;
  int64_t h0, h1, w0, w1;
  pool_window(oh * g.s - g.p, g.k, g.h, &h0, &h1);
  pool_window(ow * g.s - g.p, g.k, g.w, &w0, &w1);
  const float* xi = x + n * g.h * g.w * g.c + j;
  float best = -INFINITY;
  int64_t at = h0 * g.w + w0;
  for (int64_t hh = h0; hh < h1; ++hh)
    for (int64_t ww = w0; ww < w1; ++ww) {
      const float v = xi[(hh * g.w + ww) * g.c];
      if (v > best || v != v) {
        best = v;
        at = hh * g.w + ww;
      }
    }
  *idx = at;
  return best;
}

HWNAS_HD float avg_pool_scale(const PoolArgs& g, int64_t h0, int64_t h1, int64_t w0, int64_t w1) {
  return 1.f / static_cast<float>(g.count_include_pad ? g.k * g.k : (h1 - h0) * (w1 - w0));
}

HWNAS_HD float avg_pool_at(const PoolArgs& g, const float* x, int64_t o) {
  const int64_t j = o % g.c, t = o / g.c, ow = t % g.ow, t2 = t / g.ow, oh = t2 % g.oh, n = t2 / g.oh;
  int64_t h0, h1, w0, w1;
  pool_window(oh * g.s - g.p, g.k, g.h, &h0, &h1);
  pool_window(ow * g.s - g.p, g.k, g.w, &w0, &w1);
  const float* xi = x + n * g.h * g.w * g.c + j;
  float sum = 0.f;
  for (int64_t hh = h0; hh < h1; ++hh)
    for (int64_t ww = w0; ww < w1; ++ww) sum += xi[(hh * g.w + ww) * g.c];
  return sum * avg_pool_scale(g, h0, h1, w0, w1);
}

// The outputs [lo, hi) along one axis whose windows cover input position `pos`.
HWNAS_HD void covering_outputs(int64_t pos, const PoolArgs& g, int64_t out_size, int64_t* lo, int64_t* hi) {
  // o covers pos when o*s - p <= pos < o*s - p + k.
  const int64_t first = pos + g.p - g.k + 1;
  *lo = first <= 0 ? 0 : (first + g.s - 1) / g.s;
  const int64_t last = (pos + g.p) / g.s + 1;
  *hi = last < out_size ? last : out_size;
}

// Input element i of [n, h, w, c]: the sum of gy over the windows that cover it, each scaled
// by its window's 1/size, in output order (the CPU op's order).
HWNAS_HD float avg_pool_backward_at(const PoolArgs& g, const float* gy, int64_t i) {
  const int64_t j = i % g.c, t = i / g.c, ww = t % g.w, t2 = t / g.w, hh = t2 % g.h, n = t2 / g.h;
  int64_t oh0, oh1, ow0, ow1;
  covering_outputs(hh, g, g.oh, &oh0, &oh1);
  covering_outputs(ww, g, g.ow, &ow0, &ow1);
  const float* go = gy + n * g.oh * g.ow * g.c + j;
  float sum = 0.f;
  for (int64_t oh = oh0; oh < oh1; ++oh) {
    int64_t h0, h1;
    pool_window(oh * g.s - g.p, g.k, g.h, &h0, &h1);
    for (int64_t ow = ow0; ow < ow1; ++ow) {
      int64_t w0, w1;
      pool_window(ow * g.s - g.p, g.k, g.w, &w0, &w1);
      sum += go[(oh * g.ow + ow) * g.c] * avg_pool_scale(g, h0, h1, w0, w1);
    }
  }
  return sum;
}

// Input element i: the sum of gy over the covering windows whose maximum it was.
HWNAS_HD float max_pool_backward_at(const PoolArgs& g, const float* gy, const int64_t* idx, int64_t i) {
  const int64_t j = i % g.c, t = i / g.c, ww = t % g.w, t2 = t / g.w, hh = t2 % g.h, n = t2 / g.h;
  int64_t oh0, oh1, ow0, ow1;
  covering_outputs(hh, g, g.oh, &oh0, &oh1);
  covering_outputs(ww, g, g.ow, &ow0, &ow1);
  const int64_t base = n * g.oh * g.ow * g.c + j, pos = hh * g.w + ww;
  float sum = 0.f;
  for (int64_t oh = oh0; oh < oh1; ++oh)
    for (int64_t ow = ow0; ow < ow1; ++ow) {
      const int64_t o = base + (oh * g.ow + ow) * g.c;
      if (idx[o] == pos) sum += gy[o];
    }
  return sum;
}

// Launches (device pointers, dense in the [n, h, w, c] walk above, on `device`'s stream).
void max_pool_forward(const PoolArgs& g, const float* x, float* y, int64_t* idx, int device);
void max_pool_backward(const PoolArgs& g, const float* gy, const int64_t* idx, float* dx, int device);
void avg_pool_forward(const PoolArgs& g, const float* x, float* y, int device);
void avg_pool_backward(const PoolArgs& g, const float* gy, float* dx, int device);

}  // namespace hwnas::cuda
