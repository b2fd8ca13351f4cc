// Depthwise convolution (one filter per channel) on channels_last activations. Channels are the
// unit-stride dimension of both the activations and the repacked [kh*kw, C] weight, so every tap
// is a vector multiply-add across channels. Accumulators (16-32 channels, up to 4 pixels) stay in
// registers across all taps; they are written with GCC vector types because `omp simd` on such a
// fixed-size block vectorizes the tap loop (with gathers) instead. Each clone of a
// HWNAS_MULTIVERSION row function gets these 8-lane vectors in its own ISA.
#include <omp.h>

#include <algorithm>
#include <cstring>
#include <vector>

#include "ops/conv_kernels.h"
#include "ops/simd.h"
#include "tensor/error.h"

#pragma GCC diagnostic ignored "-Wpsabi"

namespace hwnas::conv_detail {
namespace {

typedef float v8 __attribute__((vector_size(32)));
#define HWNAS_AI inline __attribute__((always_inline))
HWNAS_AI v8 ld8(const float* p) {
  v8 v;
  std::memcpy(&v, p, sizeof v);
  return v;
}
HWNAS_AI void st8(float* p, v8 v) { std::memcpy(p, &v, sizeof v); }

// Taps k in [lo, hi) with 0 <= base + k * d < size.
HWNAS_AI void tap_range(int64_t base, int64_t d, int64_t size, int64_t k, int64_t& lo, int64_t& hi) {
  lo = base < 0 ? (-base + d - 1) / d : 0;
  const int64_t last = size - 1 - base;
  hi = last < 0 ? 0 : std::min(k, last / d + 1);
  hi = std::max(hi, lo);
}

// Sum over an nkh x nkw grid of taps of x * w for NV * 8 channels. x and w step by
// (xh, xw) and (wh, ww) elements between taps.
template <int NV>
HWNAS_AI void tap_block(const float* __restrict x, const float* __restrict w, const float* __restrict bias,
                        float* __restrict y, int64_t nkh, int64_t nkw, int64_t xh, int64_t xw, int64_t wh, int64_t ww) {
  v8 acc[NV];
  for (int v = 0; v < NV; ++v) acc[v] = bias ? ld8(bias + 8 * v) : v8{};
  for (int64_t i = 0; i < nkh; ++i) {
    const float* xr = x + i * xh;
    const float* wr = w + i * wh;
    for (int64_t j = 0; j < nkw; ++j) {
      for (int v = 0; v < NV; ++v) acc[v] += ld8(xr + 8 * v) * ld8(wr + 8 * v);
      xr += xw;
      wr += ww;
    }
  }
  for (int v = 0; v < NV; ++v) st8(y + 8 * v, acc[v]);
}

// The same for P output pixels at once (x steps by xp between them): each weight vector loaded
// serves P multiply-adds, which takes the kernel off the load-port limit.
template <int P, int NV>
HWNAS_AI void tap_block_px(const float* __restrict x, const float* __restrict w, const float* __restrict bias,
                           float* __restrict y, int64_t nkh, int64_t nkw, int64_t xh, int64_t xw, int64_t wh,
                           int64_t ww, int64_t xp, int64_t yp) {
  v8 acc[P][NV];
  for (int v = 0; v < NV; ++v) {
    const v8 b = bias ? ld8(bias + 8 * v) : v8{};
    for (int p = 0; p < P; ++p) acc[p][v] = b;
  }
  for (int64_t i = 0; i < nkh; ++i) {
    const float* xr = x + i * xh;
    const float* wr = w + i * wh;
    for (int64_t j = 0; j < nkw; ++j) {
      v8 wv[NV];
      for (int v = 0; v < NV; ++v) wv[v] = ld8(wr + 8 * v);
      for (int p = 0; p < P; ++p)
        for (int v = 0; v < NV; ++v) acc[p][v] += ld8(xr + p * xp + 8 * v) * wv[v];
      xr += xw;
      wr += ww;
    }
  }
  for (int p = 0; p < P; ++p)
    for (int v = 0; v < NV; ++v) st8(y + p * yp + 8 * v, acc[p][v]);
}

HWNAS_AI void tap_scalar(const float* x, const float* w, const float* bias, float* y, int64_t nkh, int64_t nkw,
                         int64_t xh, int64_t xw, int64_t wh, int64_t ww) {
  float acc = bias ? *bias : 0.f;
  for (int64_t i = 0; i < nkh; ++i)
    for (int64_t j = 0; j < nkw; ++j) acc += x[i * xh + j * xw] * w[i * wh + j * ww];
  *y = acc;
}

// P neighbouring output pixels, all channels, all taps inside the image.
template <int P>
HWNAS_AI void pixels(const float* x, const float* w, const float* bias, float* y, int64_t C, int64_t nkh, int64_t nkw,
                     int64_t xh, int64_t xw, int64_t wh, int64_t ww, int64_t step) {
  int64_t c = 0;
  for (; c + 16 <= C; c += 16)
    tap_block_px<P, 2>(x + c, w + c, bias ? bias + c : nullptr, y + c, nkh, nkw, xh, xw, wh, ww, step, C);
  for (; c + 8 <= C; c += 8)
    tap_block_px<P, 1>(x + c, w + c, bias ? bias + c : nullptr, y + c, nkh, nkw, xh, xw, wh, ww, step, C);
  for (int p = 0; p < P; ++p)
    for (int64_t cc = c; cc < C; ++cc)
      tap_scalar(x + p * step + cc, w + cc, bias ? bias + cc : nullptr, y + p * C + cc, nkh, nkw, xh, xw, wh, ww);
}

// One output row (image n, row oh) of the forward. Pixels go in the outer loop and channels in
// the inner one, so that memory is walked in order (channel-block-outer orders measured slower).
HWNAS_MULTIVERSION
void fwd_row(const ConvGeom& g, const float* __restrict x, const float* __restrict wt, const float* __restrict bias,
             float* __restrict y, int64_t oh) {
  const int64_t C = g.c_in, W = g.w;
  const int64_t ih0 = oh * g.sh - g.ph;
  int64_t kh_lo, kh_hi;
  tap_range(ih0, g.dh, g.h, g.kh, kh_lo, kh_hi);
  const int64_t xh = g.dh * W * C, xw = g.dw * C, wh = g.kw * C, ww = C;
  // Output columns whose taps all fall inside the row, [full_lo, full_hi), go several at a time.
  const int64_t span = (g.kw - 1) * g.dw;
  const int64_t full_lo = (g.pw + g.sw - 1) / g.sw;
  const int64_t full_hi = W - 1 - span + g.pw < 0 ? 0 : std::min(g.ow, (W - 1 - span + g.pw) / g.sw + 1);
  const int64_t nkh = kh_hi - kh_lo;
  for (int64_t ow = 0; ow < g.ow;) {
    const int64_t iw0 = ow * g.sw - g.pw;
    if (ow >= full_lo && ow + 2 <= full_hi && nkh > 0) {
      const float* xp = x + ((ih0 + kh_lo * g.dh) * W + iw0) * C;
      const float* wp = wt + kh_lo * g.kw * C;
      const int64_t step = g.sw * C;
      if (ow + 4 <= full_hi) {
        pixels<4>(xp, wp, bias, y + ow * C, C, nkh, g.kw, xh, xw, wh, ww, step);
        ow += 4;
      } else {
        pixels<2>(xp, wp, bias, y + ow * C, C, nkh, g.kw, xh, xw, wh, ww, step);
        ow += 2;
      }
      continue;
    }
    int64_t kw_lo, kw_hi;
    tap_range(iw0, g.dw, W, g.kw, kw_lo, kw_hi);
    const int64_t nkw = kw_hi - kw_lo;
    const int64_t xo = (nkh > 0 && nkw > 0) ? ((ih0 + kh_lo * g.dh) * W + iw0 + kw_lo * g.dw) * C : 0;
    const float* xp = x + xo;
    const float* wp = wt + (kh_lo * g.kw + kw_lo) * C;
    float* yp = y + ow * C;
    int64_t c = 0;
    for (; c + 32 <= C; c += 32)
      tap_block<4>(xp + c, wp + c, bias ? bias + c : nullptr, yp + c, nkh, nkw, xh, xw, wh, ww);
    for (; c + 8 <= C; c += 8)
      tap_block<1>(xp + c, wp + c, bias ? bias + c : nullptr, yp + c, nkh, nkw, xh, xw, wh, ww);
    for (; c < C; ++c) tap_scalar(xp + c, wp + c, bias ? bias + c : nullptr, yp + c, nkh, nkw, xh, xw, wh, ww);
    ++ow;
  }
}

// Taps that reach input index i: k with (i + pad - k * d) a multiple of s in [0, out). Fills the
// output index and the tap index; returns how many.
HWNAS_AI int64_t reaching_taps(int64_t i, int64_t pad, int64_t d, int64_t s, int64_t k, int64_t out, int64_t* o_idx,
                               int64_t* k_idx) {
  int64_t n = 0;
  for (int64_t t = 0; t < k; ++t) {
    const int64_t num = i + pad - t * d;
    if (num < 0 || num % s) continue;
    const int64_t o = num / s;
    if (o >= out) continue;
    o_idx[n] = o;
    k_idx[n] = t;
    ++n;
  }
  return n;
}

template <int NV>
HWNAS_AI void gather_block(const float* __restrict gy, const float* __restrict w, float* __restrict gx,
                           const int64_t* hy, const int64_t* hw, int64_t nh, const int64_t* wy, const int64_t* ww,
                           int64_t nw) {
  v8 acc[NV];
  for (int v = 0; v < NV; ++v) acc[v] = v8{};
  for (int64_t i = 0; i < nh; ++i)
    for (int64_t j = 0; j < nw; ++j) {
      const float* a = gy + hy[i] + wy[j];
      const float* b = w + hw[i] + ww[j];
      for (int v = 0; v < NV; ++v) acc[v] += ld8(a + 8 * v) * ld8(b + 8 * v);
    }
  for (int v = 0; v < NV; ++v) st8(gx + 8 * v, acc[v]);
}

// One input row (image n, row ih) of the data gradient, as a gather over the output gradient
// so that rows can be computed independently.
HWNAS_MULTIVERSION
void bwd_data_row(const ConvGeom& g, const float* __restrict gy, const float* __restrict wt, float* __restrict gx,
                  int64_t ih) {
  const int64_t C = g.c_in;
  int64_t oh_i[kDepthwiseMaxKernel], kh_i[kDepthwiseMaxKernel], ow_i[kDepthwiseMaxKernel], kw_i[kDepthwiseMaxKernel];
  const int64_t nh = reaching_taps(ih, g.ph, g.dh, g.sh, g.kh, g.oh, oh_i, kh_i);
  for (int64_t i = 0; i < nh; ++i) {
    oh_i[i] *= g.ow * C;
    kh_i[i] *= g.kw * C;
  }
  for (int64_t iw = 0; iw < g.w; ++iw) {
    const int64_t nw = reaching_taps(iw, g.pw, g.dw, g.sw, g.kw, g.ow, ow_i, kw_i);
    for (int64_t j = 0; j < nw; ++j) {
      ow_i[j] *= C;
      kw_i[j] *= C;
    }
    float* out = gx + iw * C;
    int64_t c = 0;
    for (; c + 32 <= C; c += 32) gather_block<4>(gy + c, wt + c, out + c, oh_i, kh_i, nh, ow_i, kw_i, nw);
    for (; c + 8 <= C; c += 8) gather_block<1>(gy + c, wt + c, out + c, oh_i, kh_i, nh, ow_i, kw_i, nw);
    for (; c < C; ++c) {
      float acc = 0.f;
      for (int64_t i = 0; i < nh; ++i)
        for (int64_t j = 0; j < nw; ++j) acc += gy[oh_i[i] + ow_i[j] + c] * wt[kh_i[i] + kw_i[j] + c];
      out[c] = acc;
    }
  }
}

// dW of one tap for 8*NV channels over one output row: sum over its columns of gy * x.
template <int NV>
HWNAS_AI void wgrad_block(const float* __restrict gy, const float* __restrict x, float* __restrict part, int64_t n,
                          int64_t gys, int64_t xs) {
  v8 acc[NV];
  for (int v = 0; v < NV; ++v) acc[v] = v8{};
  for (int64_t i = 0; i < n; ++i)
    for (int v = 0; v < NV; ++v) acc[v] += ld8(gy + i * gys + 8 * v) * ld8(x + i * xs + 8 * v);
  for (int v = 0; v < NV; ++v) st8(part + 8 * v, ld8(part + 8 * v) + acc[v]);
}

// Adds the dW (and dbias) contributions of output row oh of one image. Row by row, pixel-major
// like the forward: blocking over rows or over channel blocks first measured slower (the rows
// then fall out of L1).
HWNAS_MULTIVERSION
void bwd_weight_row(const ConvGeom& g, const float* __restrict gy, const float* __restrict x, float* __restrict part,
                    float* __restrict pbias, int64_t oh) {
  const int64_t C = g.c_in, W = g.w;
  const int64_t ih0 = oh * g.sh - g.ph;
  int64_t kh_lo, kh_hi;
  tap_range(ih0, g.dh, g.h, g.kh, kh_lo, kh_hi);
  const int64_t xs = g.sw * C;
  for (int64_t kh = kh_lo; kh < kh_hi; ++kh) {
    const float* xr = x + (ih0 + kh * g.dh) * W * C;
    for (int64_t kw = 0; kw < g.kw; ++kw) {
      // Output columns whose tap kw lands inside the row: ow * sw - pw + kw * dw in [0, W).
      const int64_t off = kw * g.dw - g.pw;
      const int64_t lo = off < 0 ? (-off + g.sw - 1) / g.sw : 0;
      const int64_t hi = W - 1 - off < 0 ? 0 : std::min(g.ow, (W - 1 - off) / g.sw + 1);
      if (hi <= lo) continue;
      const float* a = gy + lo * C;
      const float* b = xr + (lo * g.sw + off) * C;
      float* p = part + (kh * g.kw + kw) * C;
      const int64_t n = hi - lo;
      int64_t c = 0;
      for (; c + 32 <= C; c += 32) wgrad_block<4>(a + c, b + c, p + c, n, C, xs);
      for (; c + 8 <= C; c += 8) wgrad_block<1>(a + c, b + c, p + c, n, C, xs);
      for (; c < C; ++c) {
        float acc = 0.f;
        for (int64_t i = 0; i < n; ++i) acc += a[i * C + c] * b[i * xs + c];
        p[c] += acc;
      }
    }
  }
  if (pbias) {
    for (int64_t ow = 0; ow < g.ow; ++ow) {
      const float* r = gy + ow * C;
#pragma omp simd
      for (int64_t c = 0; c < C; ++c) pbias[c] += r[c];
    }
  }
}

bool use_threads(double work) { return work > 4e4 && omp_get_max_threads() > 1 && !omp_in_parallel(); }

}  // namespace

void depthwise_forward(const ConvGeom& g, const float* x, const float* wt, const Epilogue& ep, float* y) {
  const int64_t C = g.c_in, row = g.ow * C;
  const bool par = use_threads(double(g.n) * g.oh * row * g.kh * g.kw);
#pragma omp parallel for collapse(2) schedule(static) if (par)
  for (int64_t n = 0; n < g.n; ++n)
    for (int64_t oh = 0; oh < g.oh; ++oh) {
      float* yr = y + (n * g.oh + oh) * row;
      fwd_row(g, x + n * g.h * g.w * C, wt, ep.bias, yr, oh);
      if (ep.act != Activation::none || ep.residual) {
        Epilogue rest{nullptr, ep.act, ep.residual};
        apply_epilogue(yr, ep.residual ? ep.residual + (n * g.oh + oh) * row : nullptr, g.ow, C, rest);
      }
    }
}

void depthwise_backward_data(const ConvGeom& g, const float* gy, const float* wt, float* gx) {
  const int64_t C = g.c_in;
  HWNAS_CHECK(g.kh <= kDepthwiseMaxKernel && g.kw <= kDepthwiseMaxKernel,
              "conv2d: depthwise kernel {}x{} larger than {}", g.kh, g.kw, kDepthwiseMaxKernel);
  const int64_t flip_pad_h = g.dh * (g.kh - 1) - g.ph, flip_pad_w = g.dw * (g.kw - 1) - g.pw;
  if (g.sh == 1 && g.sw == 1 && flip_pad_h >= 0 && flip_pad_w >= 0) {
    // At stride 1 the data gradient is a forward convolution of gy with the flipped kernel
    // (padding d*(k-1) - p), which takes the faster multi-pixel forward path.
    const int64_t kk = g.kh * g.kw;
    std::vector<float> flipped(kk * C);
    for (int64_t t = 0; t < kk; ++t) std::memcpy(&flipped[(kk - 1 - t) * C], wt + t * C, sizeof(float) * C);
    ConvGeom f = g;
    f.h = g.oh, f.w = g.ow, f.oh = g.h, f.ow = g.w, f.ph = flip_pad_h, f.pw = flip_pad_w;
    depthwise_forward(f, gy, flipped.data(), Epilogue{}, gx);
    return;
  }
  const bool par = use_threads(double(g.n) * g.h * g.w * C * g.kh * g.kw / (g.sh * g.sw));
#pragma omp parallel for collapse(2) schedule(static) if (par)
  for (int64_t n = 0; n < g.n; ++n)
    for (int64_t ih = 0; ih < g.h; ++ih)
      bwd_data_row(g, gy + n * g.oh * g.ow * C, wt, gx + (n * g.h + ih) * g.w * C, ih);
}

void depthwise_backward_weight(const ConvGeom& g, const float* gy, const float* x, float* gwt, float* gb) {
  const int64_t C = g.c_in, kk = g.kh * g.kw, rows = g.n * g.oh;
  const int64_t part_size = kk * C + C;
  const int nt = use_threads(double(rows) * g.ow * C * kk) ? std::min<int64_t>(omp_get_max_threads(), rows) : 1;
  // One partial dW (and dbias) per thread over a contiguous range of output rows, then a sum.
  std::vector<float> parts(static_cast<size_t>(nt) * part_size, 0.f);
#pragma omp parallel num_threads(nt) if (nt > 1)
  {
    const int64_t t = omp_get_thread_num(), T = omp_get_num_threads();
    float* part = parts.data() + t * part_size;
    for (int64_t r = rows * t / T; r < rows * (t + 1) / T; ++r) {
      const int64_t n = r / g.oh, oh = r % g.oh;
      bwd_weight_row(g, gy + r * g.ow * C, x + n * g.h * g.w * C, part, gb ? part + kk * C : nullptr, oh);
    }
  }
  for (int64_t i = 0; i < kk * C; ++i) {
    float s = 0.f;
    for (int t = 0; t < nt; ++t) s += parts[t * part_size + i];
    gwt[i] = s;
  }
  if (gb)
    for (int64_t c = 0; c < C; ++c) {
      float s = 0.f;
      for (int t = 0; t < nt; ++t) s += parts[t * part_size + kk * C + c];
      gb[c] = s;
    }
}

}  // namespace hwnas::conv_detail
