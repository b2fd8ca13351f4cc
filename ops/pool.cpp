#include "ops/pool.h"

#include <omp.h>

#include <cmath>
#include <limits>
#include <memory>
#include <vector>

#include "cuda/pool.h"
#include "cuda/reduce.h"
#include "cuda/tensor_layout.h"
#include "ops/elementwise.h"
#include "ops/simd.h"

namespace hwnas {

namespace {

constexpr int64_t kParallelMin = 32768;

// The window kernels walk [N, H, W, C] memory with channels innermost (vectorized across C).
// An NCHW tensor is the same walk with N*C images of one channel each, so both layouts share
// one kernel; channels_last (how conv/BN outputs arrive) is the fast one. The geometry is the
// CUDA kernels' (cuda/pool.h), so both devices read one struct and share its window helpers.
using PoolGeom = cuda::PoolArgs;

struct Layout {
  MemoryFormat fmt;
  PoolGeom g;  // n/c as the kernels see them
};

Layout pool_layout(const Tensor& x, const Pool2dOptions& o, const char* op) {
  if (x.dtype() != DType::f32 || x.dim() != 4) fail("{}: expected an f32 input [N, C, H, W], got {}", op, x.str());
  if (o.kernel <= 0 || o.stride <= 0 || o.padding < 0)
    fail("{}: kernel {} and stride {} must be positive and padding {} non-negative", op, o.kernel, o.stride,
         o.padding);
  if (o.padding * 2 > o.kernel)
    fail("{}: padding {} must be at most half of kernel {}", op, o.padding, o.kernel);
  const int64_t h = x.size(2), w = x.size(3);
  const int64_t oh = (h + 2 * o.padding - o.kernel) / o.stride + 1, ow = (w + 2 * o.padding - o.kernel) / o.stride + 1;
  if (h + 2 * o.padding < o.kernel || w + 2 * o.padding < o.kernel || oh <= 0 || ow <= 0)
    fail("{}: input {} with padding {} is smaller than kernel {}", op, shape_str(x.shape()), o.padding, o.kernel);
  const bool cl = x.is_channels_last();
  Layout l;
  l.fmt = cl ? MemoryFormat::channels_last : MemoryFormat::contiguous;
  l.g = {cl ? x.size(0) : x.size(0) * x.size(1), cl ? x.size(1) : 1, h, w, oh, ow, o.kernel, o.stride, o.padding,
         o.count_include_pad};
  return l;
}

HWNAS_MULTIVERSION void max_row(const float* __restrict x, float* __restrict y, int32_t* __restrict idx,
                                const PoolGeom& g, int64_t oh) {
  const int64_t c = g.c;
  int64_t h0, h1;
  cuda::pool_window(oh * g.s - g.p, g.k, g.h, &h0, &h1);
  for (int64_t ow = 0; ow < g.ow; ++ow) {
    float* yo = y + ow * c;
    int32_t* io = idx + ow * c;
    for (int64_t j = 0; j < c; ++j) {
      yo[j] = -std::numeric_limits<float>::infinity();
      io[j] = static_cast<int32_t>(h0 * g.w + std::max<int64_t>(ow * g.s - g.p, 0));
    }
    int64_t w0, w1;
    cuda::pool_window(ow * g.s - g.p, g.k, g.w, &w0, &w1);
    for (int64_t hh = h0; hh < h1; ++hh)
      for (int64_t ww = w0; ww < w1; ++ww) {
        const float* xr = x + (hh * g.w + ww) * c;
        const int32_t pos = static_cast<int32_t>(hh * g.w + ww);
#pragma omp simd
        for (int64_t j = 0; j < c; ++j) {
          // NaN wins so that a diverging run shows up in the output instead of being hidden.
          const bool take = xr[j] > yo[j] || xr[j] != xr[j];
          yo[j] = take ? xr[j] : yo[j];
          io[j] = take ? pos : io[j];
        }
      }
  }
}

HWNAS_MULTIVERSION void avg_row(const float* __restrict x, float* __restrict y, const PoolGeom& g, int64_t oh) {
  const int64_t c = g.c;
  int64_t h0, h1;
  cuda::pool_window(oh * g.s - g.p, g.k, g.h, &h0, &h1);
  for (int64_t ow = 0; ow < g.ow; ++ow) {
    float* yo = y + ow * c;
    int64_t w0, w1;
    cuda::pool_window(ow * g.s - g.p, g.k, g.w, &w0, &w1);
    for (int64_t j = 0; j < c; ++j) yo[j] = 0.f;
    for (int64_t hh = h0; hh < h1; ++hh)
      for (int64_t ww = w0; ww < w1; ++ww) {
        const float* xr = x + (hh * g.w + ww) * c;
#pragma omp simd
        for (int64_t j = 0; j < c; ++j) yo[j] += xr[j];
      }
    const float inv = cuda::avg_pool_scale(g, h0, h1, w0, w1);
#pragma omp simd
    for (int64_t j = 0; j < c; ++j) yo[j] *= inv;
  }
}

// dx[window] += gy * scale for every output of image n (one thread per image: no races).
HWNAS_MULTIVERSION void avg_back_image(const float* __restrict gy, float* __restrict dx, const PoolGeom& g) {
  const int64_t c = g.c;
  for (int64_t oh = 0; oh < g.oh; ++oh) {
    int64_t h0, h1;
    cuda::pool_window(oh * g.s - g.p, g.k, g.h, &h0, &h1);
    for (int64_t ow = 0; ow < g.ow; ++ow) {
      int64_t w0, w1;
      cuda::pool_window(ow * g.s - g.p, g.k, g.w, &w0, &w1);
      const float inv = cuda::avg_pool_scale(g, h0, h1, w0, w1);
      const float* go = gy + (oh * g.ow + ow) * c;
      for (int64_t hh = h0; hh < h1; ++hh)
        for (int64_t ww = w0; ww < w1; ++ww) {
          float* dr = dx + (hh * g.w + ww) * c;
#pragma omp simd
          for (int64_t j = 0; j < c; ++j) dr[j] += go[j] * inv;
        }
    }
  }
}

Shape out_shape(const Tensor& x, const PoolGeom& g) { return {x.size(0), x.size(1), g.oh, g.ow}; }

struct MaxSaved {
  Shape in_shape;
  Layout l;
  std::vector<int32_t> idx;  // per output element: h * W + w of the winner in its image
};

// On a GPU: one thread per output element forward and per input element backward (cuda/pool.h);
// max pooling keeps its winners' positions in a device i64 tensor.
Variable max_pool2d_cuda(const Variable& x, const Layout& l) {
  const Tensor xc = x.data().contiguous(l.fmt);
  const int dev = xc.device().index;
  const cuda::PoolArgs a = l.g;
  Tensor out = Tensor::empty(out_shape(xc, l.g), DType::f32, l.fmt, xc.device());
  Tensor idx = Tensor::empty(out.shape(), DType::i64, l.fmt, xc.device());
  cuda::max_pool_forward(a, xc.device_data<float>(), out.device_data<float>(), idx.device_data<int64_t>(), dev);
  const Shape in_shape = xc.shape();
  const MemoryFormat fmt = l.fmt;
  return make_result(out, "max_pool2d", {x}, [a, idx, in_shape, fmt, dev](const Tensor& gy_in) -> std::vector<Tensor> {
    Tensor gy = gy_in.contiguous(fmt);
    Tensor dx = Tensor::empty(in_shape, DType::f32, fmt, gy.device());
    cuda::max_pool_backward(a, gy.device_data<float>(), idx.device_data<int64_t>(), dx.device_data<float>(), dev);
    return {dx};
  });
}

Variable avg_pool2d_cuda(const Variable& x, const Layout& l) {
  const Tensor xc = x.data().contiguous(l.fmt);
  const int dev = xc.device().index;
  const cuda::PoolArgs a = l.g;
  Tensor out = Tensor::empty(out_shape(xc, l.g), DType::f32, l.fmt, xc.device());
  cuda::avg_pool_forward(a, xc.device_data<float>(), out.device_data<float>(), dev);
  const Shape in_shape = xc.shape();
  const MemoryFormat fmt = l.fmt;
  return make_result(out, "avg_pool2d", {x}, [a, in_shape, fmt, dev](const Tensor& gy_in) -> std::vector<Tensor> {
    Tensor gy = gy_in.contiguous(fmt);
    Tensor dx = Tensor::empty(in_shape, DType::f32, fmt, gy.device());
    cuda::avg_pool_backward(a, gy.device_data<float>(), dx.device_data<float>(), dev);
    return {dx};
  });
}

}  // namespace

Variable max_pool2d(const Variable& x, const Pool2dOptions& opts) {
  const Layout l = pool_layout(x.data(), opts, "max_pool2d");
  const PoolGeom& g = l.g;
  if (x.data().is_cuda()) return max_pool2d_cuda(x, l);
  Tensor xc = x.data().contiguous(l.fmt);
  Tensor out = Tensor::empty(out_shape(xc, g), DType::f32, l.fmt);
  auto saved = std::make_shared<MaxSaved>();
  saved->idx.resize(out.numel());
  const float* px = xc.data<float>();
  float* py = out.data<float>();
  int32_t* pi = saved->idx.data();
#pragma omp parallel for collapse(2) if (out.numel() * g.k * g.k > kParallelMin)
  for (int64_t n = 0; n < g.n; ++n)
    for (int64_t oh = 0; oh < g.oh; ++oh) {
      const int64_t o = (n * g.oh + oh) * g.ow * g.c;
      max_row(px + n * g.h * g.w * g.c, py + o, pi + o, g, oh);
    }
  if (!needs_grad({x})) return Variable(out, false);
  saved->in_shape = xc.shape();
  saved->l = l;
  return make_result(out, "max_pool2d", {x}, [saved](const Tensor& gy_in) -> std::vector<Tensor> {
    const PoolGeom& g = saved->l.g;
    Tensor gy = gy_in.contiguous(saved->l.fmt);
    Tensor dx = Tensor::zeros(saved->in_shape, DType::f32, saved->l.fmt);
    const float* pg = gy.data<float>();
    float* pd = dx.data<float>();
    const int32_t* pi = saved->idx.data();
    const int64_t per_out = g.oh * g.ow * g.c, per_in = g.h * g.w * g.c;
#pragma omp parallel for if (gy.numel() > kParallelMin)
    for (int64_t n = 0; n < g.n; ++n)
      for (int64_t o = 0; o < per_out; ++o) {
        const int64_t e = n * per_out + o;
        pd[n * per_in + pi[e] * g.c + o % g.c] += pg[e];
      }
    return {dx};
  });
}

Variable avg_pool2d(const Variable& x, const Pool2dOptions& opts) {
  const Layout l = pool_layout(x.data(), opts, "avg_pool2d");
  const PoolGeom& g = l.g;
  if (x.data().is_cuda()) return avg_pool2d_cuda(x, l);
  Tensor xc = x.data().contiguous(l.fmt);
  Tensor out = Tensor::empty(out_shape(xc, g), DType::f32, l.fmt);
  const float* px = xc.data<float>();
  float* py = out.data<float>();
#pragma omp parallel for collapse(2) if (out.numel() * g.k * g.k > kParallelMin)
  for (int64_t n = 0; n < g.n; ++n)
    for (int64_t oh = 0; oh < g.oh; ++oh)
      avg_row(px + n * g.h * g.w * g.c, py + (n * g.oh + oh) * g.ow * g.c, g, oh);
  const Shape in_shape = xc.shape();
  return make_result(out, "avg_pool2d", {x}, [l, in_shape](const Tensor& gy_in) -> std::vector<Tensor> {
    const PoolGeom& g = l.g;
    Tensor gy = gy_in.contiguous(l.fmt);
    Tensor dx = Tensor::zeros(in_shape, DType::f32, l.fmt);
    const float* pg = gy.data<float>();
    float* pd = dx.data<float>();
#pragma omp parallel for if (dx.numel() > kParallelMin)
    for (int64_t n = 0; n < g.n; ++n)
      avg_back_image(pg + n * g.oh * g.ow * g.c, pd + n * g.h * g.w * g.c, g);
    return {dx};
  });
}

namespace {

HWNAS_MULTIVERSION void sum_rows(const float* __restrict x, float* __restrict y, int64_t rows, int64_t c, float scale) {
  for (int64_t j = 0; j < c; ++j) y[j] = 0.f;
  for (int64_t r = 0; r < rows; ++r) {
    const float* xr = x + r * c;
#pragma omp simd
    for (int64_t j = 0; j < c; ++j) y[j] += xr[j];
  }
#pragma omp simd
  for (int64_t j = 0; j < c; ++j) y[j] *= scale;
}

HWNAS_MULTIVERSION float sum_run(const float* __restrict x, int64_t n) {
  float s = 0.f;
#pragma omp simd reduction(+ : s)
  for (int64_t i = 0; i < n; ++i) s += x[i];
  return s;
}

HWNAS_MULTIVERSION void broadcast_rows(const float* __restrict g, float* __restrict dx, int64_t rows, int64_t c,
                                       float scale) {
  for (int64_t r = 0; r < rows; ++r) {
    float* dr = dx + r * c;
#pragma omp simd
    for (int64_t j = 0; j < c; ++j) dr[j] = g[j] * scale;
  }
}

// On a GPU: the mean over (H, W) by the strided sum kernel, on the input's own strides; the
// backward broadcasts gy / (H W) back in the input's layout.
Variable global_avg_pool_cuda(const Variable& x, MemoryFormat fmt) {
  const Tensor& xt = x.data();
  const int64_t n = xt.size(0), c = xt.size(1), hw = xt.size(2) * xt.size(3);
  const float scale = 1.f / static_cast<float>(hw);
  Tensor out = Tensor::empty({n, c}, DType::f32, MemoryFormat::contiguous, xt.device());
  cuda::sum_strided(out.device_data<float>(), xt.device_data<float>(),
                    cuda::layout_of({n, c}, {xt.stride(0), xt.stride(1)}, "global_avg_pool"),
                    cuda::layout_of({xt.size(2), xt.size(3)}, {xt.stride(2), xt.stride(3)}, "global_avg_pool"), n * c, hw,
                    scale, xt.device().index);
  const Shape in_shape = xt.shape();
  return make_result(out, "global_avg_pool", {x}, [in_shape, fmt, scale](const Tensor& gy) -> std::vector<Tensor> {
    return {broadcast_to(scale_tensor(gy, scale).reshape({in_shape[0], in_shape[1], 1, 1}), in_shape, fmt)};
  });
}

}  // namespace

Variable global_avg_pool(const Variable& x) {
  const Tensor& xt = x.data();
  if (xt.dtype() != DType::f32 || xt.dim() != 4)
    fail("global_avg_pool: expected an f32 input [N, C, H, W], got {}", xt.str());
  const int64_t n = xt.size(0), c = xt.size(1), hw = xt.size(2) * xt.size(3);
  if (hw == 0) fail("global_avg_pool: input {} has an empty spatial extent", shape_str(xt.shape()));
  const bool cl = xt.is_channels_last();
  const MemoryFormat fmt = cl ? MemoryFormat::channels_last : MemoryFormat::contiguous;
  if (xt.is_cuda()) return global_avg_pool_cuda(x, fmt);
  Tensor xc = xt.contiguous(fmt);
  Tensor out = Tensor::empty({n, c});
  const float* px = xc.data<float>();
  float* py = out.data<float>();
  const float scale = 1.f / static_cast<float>(hw);
  if (cl) {
#pragma omp parallel for if (xc.numel() > kParallelMin)
    for (int64_t i = 0; i < n; ++i) sum_rows(px + i * hw * c, py + i * c, hw, c, scale);
  } else {
#pragma omp parallel for if (xc.numel() > kParallelMin)
    for (int64_t p = 0; p < n * c; ++p) py[p] = sum_run(px + p * hw, hw) * scale;
  }
  const Shape in_shape = xc.shape();
  return make_result(out, "global_avg_pool", {x}, [in_shape, fmt, cl, scale](const Tensor& gy_in) -> std::vector<Tensor> {
    Tensor gy = gy_in.contiguous();
    Tensor dx = Tensor::empty(in_shape, DType::f32, fmt);
    const int64_t n = in_shape[0], c = in_shape[1], hw = in_shape[2] * in_shape[3];
    const float* pg = gy.data<float>();
    float* pd = dx.data<float>();
    if (cl) {
#pragma omp parallel for if (dx.numel() > kParallelMin)
      for (int64_t i = 0; i < n; ++i) broadcast_rows(pg + i * c, pd + i * hw * c, hw, c, scale);
    } else {
#pragma omp parallel for if (dx.numel() > kParallelMin)
      for (int64_t p = 0; p < n * c; ++p)
        for (int64_t i = 0; i < hw; ++i) pd[p * hw + i] = pg[p] * scale;
    }
    return {dx};
  });
}

}  // namespace hwnas
