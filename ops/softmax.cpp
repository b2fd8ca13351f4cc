#include "ops/softmax.h"

#include <cmath>
#include <limits>

#include "cuda/softmax.h"
#include "ops/kernel_util.h"
#include "ops/simd.h"

#pragma GCC optimize("no-trapping-math")  // see ops/kernel_util.h

namespace hwnas {

namespace {

using kernel::vexp;

// A dense tensor seen along `dim` is [outer][C][inner] in memory with inner = stride(dim):
// dims with smaller strides form exactly one block of that size. So one geometry covers
// contiguous tensors, channels_last tensors (softmax over C: inner == 1) and any other dense
// permutation, with no copies.
struct Geom {
  int64_t outer, c, inner;
};

Geom geometry(const Tensor& t, int64_t dim) {
  const int64_t c = t.size(dim);
  if (c <= 1) return {t.numel(), 1, 1};  // a size-1 dim's stride says nothing about the layout
  const int64_t inner = t.stride(dim);
  return {t.numel() / (c * inner), c, inner};
}

// Columns handled together when the reduced dim is not innermost: the running max and sum of
// this many columns stay in registers/L1 while the C rows stream past.
constexpr int64_t kCols = 256;

// ---- forward -------------------------------------------------------------------------------

HWNAS_MULTIVERSION void forward_rows(const float* x, float* y, int64_t rows, int64_t c, bool log) {
  for (int64_t r = 0; r < rows; ++r) {
    const float* xr = x + r * c;
    float* yr = y + r * c;
    float m = -std::numeric_limits<float>::infinity();
#pragma omp simd reduction(max : m)
    for (int64_t i = 0; i < c; ++i) m = xr[i] > m ? xr[i] : m;
    float s = 0.f;
    if (log) {
#pragma omp simd reduction(+ : s)
      for (int64_t i = 0; i < c; ++i) s += vexp(xr[i] - m);
      const float shift = m + std::log(s);
#pragma omp simd
      for (int64_t i = 0; i < c; ++i) yr[i] = xr[i] - shift;
    } else {
#pragma omp simd reduction(+ : s)
      for (int64_t i = 0; i < c; ++i) {
        const float e = vexp(xr[i] - m);
        yr[i] = e;
        s += e;
      }
      const float inv = 1.f / s;
#pragma omp simd
      for (int64_t i = 0; i < c; ++i) yr[i] *= inv;
    }
  }
}

// Columns [0, w) of one [C][inner] slice (pointers already at the first column).
HWNAS_MULTIVERSION void forward_cols(const float* x, float* y, int64_t c, int64_t inner, int64_t w, bool log) {
  float m[kCols], s[kCols];
  for (int64_t j = 0; j < w; ++j) {
    m[j] = -std::numeric_limits<float>::infinity();
    s[j] = 0.f;
  }
  for (int64_t k = 0; k < c; ++k) {
    const float* xr = x + k * inner;
#pragma omp simd
    for (int64_t j = 0; j < w; ++j) m[j] = xr[j] > m[j] ? xr[j] : m[j];
  }
  for (int64_t k = 0; k < c; ++k) {
    const float* xr = x + k * inner;
    float* yr = y + k * inner;
#pragma omp simd
    for (int64_t j = 0; j < w; ++j) {
      const float e = vexp(xr[j] - m[j]);
      if (!log) yr[j] = e;
      s[j] += e;
    }
  }
  for (int64_t j = 0; j < w; ++j) s[j] = log ? m[j] + std::log(s[j]) : 1.f / s[j];
  for (int64_t k = 0; k < c; ++k) {
    const float* xr = x + k * inner;
    float* yr = y + k * inner;
    if (log) {
#pragma omp simd
      for (int64_t j = 0; j < w; ++j) yr[j] = xr[j] - s[j];
    } else {
#pragma omp simd
      for (int64_t j = 0; j < w; ++j) yr[j] *= s[j];
    }
  }
}

// ---- backward ------------------------------------------------------------------------------
// softmax: gx = y * (gy - sum(gy * y)); log_softmax: gx = gy - exp(y) * sum(gy).

HWNAS_MULTIVERSION void backward_rows(const float* y, const float* gy, float* gx, int64_t rows, int64_t c, bool log) {
  for (int64_t r = 0; r < rows; ++r) {
    const float* yr = y + r * c;
    const float* gr = gy + r * c;
    float* o = gx + r * c;
    float s = 0.f;
    if (log) {
#pragma omp simd reduction(+ : s)
      for (int64_t i = 0; i < c; ++i) s += gr[i];
#pragma omp simd
      for (int64_t i = 0; i < c; ++i) o[i] = gr[i] - vexp(yr[i]) * s;
    } else {
#pragma omp simd reduction(+ : s)
      for (int64_t i = 0; i < c; ++i) s += gr[i] * yr[i];
#pragma omp simd
      for (int64_t i = 0; i < c; ++i) o[i] = yr[i] * (gr[i] - s);
    }
  }
}

HWNAS_MULTIVERSION void backward_cols(const float* y, const float* gy, float* gx, int64_t c, int64_t inner, int64_t w,
                                      bool log) {
  float s[kCols];
  for (int64_t j = 0; j < w; ++j) s[j] = 0.f;
  for (int64_t k = 0; k < c; ++k) {
    const float* yr = y + k * inner;
    const float* gr = gy + k * inner;
#pragma omp simd
    for (int64_t j = 0; j < w; ++j) s[j] += log ? gr[j] : gr[j] * yr[j];
  }
  for (int64_t k = 0; k < c; ++k) {
    const float* yr = y + k * inner;
    const float* gr = gy + k * inner;
    float* o = gx + k * inner;
    if (log) {
#pragma omp simd
      for (int64_t j = 0; j < w; ++j) o[j] = gr[j] - vexp(yr[j]) * s[j];
    } else {
#pragma omp simd
      for (int64_t j = 0; j < w; ++j) o[j] = yr[j] * (gr[j] - s[j]);
    }
  }
}

// Splits the [outer][C][inner] problem over threads: whole rows when inner == 1, else
// (outer slice, column block) items.
template <class Rows, class Cols>
void run_geom(const Geom& g, Rows&& rows, Cols&& cols) {
  if (g.inner == 1) {
    kernel::parallel_chunks(g.outer, [&](int64_t b, int64_t e) { rows(b, e - b); },
                            std::max<int64_t>(1, kernel::kParallelGrain / g.c), 1);
    return;
  }
  const int64_t nb = (g.inner + kCols - 1) / kCols;
  const int64_t per_item = g.c * std::min(g.inner, kCols);
  kernel::parallel_chunks(
      g.outer * nb,
      [&](int64_t b, int64_t e) {
        for (int64_t it = b; it < e; ++it) {
          const int64_t o = it / nb, j0 = (it % nb) * kCols;
          cols(o * g.c * g.inner + j0, std::min(kCols, g.inner - j0));
        }
      },
      std::max<int64_t>(1, kernel::kParallelGrain / per_item), 1);
}

Tensor in_layout_of(const Tensor& t, const Tensor& ref) {
  if (t.strides() == ref.strides() && t.is_dense()) return t;
  Tensor r = Tensor::empty_like(ref);
  r.copy_(t);
  return r;
}

Variable softmax_op(const Variable& x, int64_t dim, bool log) {
  const char* op = log ? "log_softmax" : "softmax";
  const Tensor& xt = x.data();
  HWNAS_CHECK(xt.defined() && xt.dtype() == DType::f32, "{}: expected an f32 tensor, got {}", op,
              xt.defined() ? xt.str() : "undefined");
  HWNAS_CHECK(xt.dim() > 0, "{}: needs at least 1 dim, got a 0-D tensor", op);
  if (dim < -xt.dim() || dim >= xt.dim())
    fail("{}: dim {} out of range for a {}-D tensor of shape {}", op, dim, xt.dim(), shape_str(xt.shape()));
  Tensor xd = xt.is_dense() ? xt : xt.contiguous();
  Tensor y = Tensor::empty_like(xd);
  const Geom g = geometry(xd, dim);
  if (xd.is_cuda()) {
    cuda::softmax_forward(xd.device_data<float>(), y.device_data<float>(), g.outer, g.c, g.inner, log, xd.device().index);
  } else if (xd.numel() > 0) {
    const float* px = xd.data<float>();
    float* py = y.data<float>();
    run_geom(
        g, [&](int64_t r0, int64_t n) { forward_rows(px + r0 * g.c, py + r0 * g.c, n, g.c, log); },
        [&](int64_t off, int64_t w) { forward_cols(px + off, py + off, g.c, g.inner, w, log); });
  }
  return make_result(y, op, {x}, [y, g, log](const Tensor& gy_in) -> std::vector<Tensor> {
    Tensor gy = in_layout_of(gy_in, y);
    Tensor gx = Tensor::empty_like(y);
    if (y.numel() == 0) return {gx};
    if (y.is_cuda()) {
      cuda::softmax_backward(y.device_data<float>(), gy.device_data<float>(), gx.device_data<float>(), g.outer, g.c,
                             g.inner, log, y.device().index);
      return {gx};
    }
    const float* py = y.data<float>();
    const float* pg = gy.data<float>();
    float* po = gx.data<float>();
    run_geom(
        g, [&](int64_t r0, int64_t n) { backward_rows(py + r0 * g.c, pg + r0 * g.c, po + r0 * g.c, n, g.c, log); },
        [&](int64_t off, int64_t w) { backward_cols(py + off, pg + off, po + off, g.c, g.inner, w, log); });
    return {gx};
  });
}

}  // namespace

Variable softmax(const Variable& x, int64_t dim) { return softmax_op(x, dim, false); }
Variable log_softmax(const Variable& x, int64_t dim) { return softmax_op(x, dim, true); }

}  // namespace hwnas
