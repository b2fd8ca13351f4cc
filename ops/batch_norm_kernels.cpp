#include "ops/batch_norm_kernels.h"

#include <omp.h>

#include <algorithm>
#include <vector>

#include "ops/simd.h"

namespace hwnas::bn {

namespace {

// Work is cut into blocks of about this many floats: small enough that a block and the
// activation scratch buffers stay in L1 between the affine step and the activation step.
constexpr int64_t kBlock = 2048;
constexpr int64_t kParallelMin = 32768;  // below this many elements threads cost more than they save

int threads_for(int64_t elems) { return elems > kParallelMin ? omp_get_max_threads() : 1; }

// ---- rows layout: vectorized across channels ------------------------------------------------

HWNAS_MULTIVERSION void rows_moments(const float* __restrict x, int64_t rows, int64_t c, const float* __restrict k,
                                     float* __restrict s1, float* __restrict s2) {
  for (int64_t r = 0; r < rows; ++r) {
    const float* xr = x + r * c;
#pragma omp simd
    for (int64_t j = 0; j < c; ++j) {
      const float d = xr[j] - k[j];
      s1[j] += d;
      s2[j] += d * d;
    }
  }
}

HWNAS_MULTIVERSION void rows_affine(const float* __restrict x, float* __restrict y, int64_t rows, int64_t c,
                                    const float* __restrict a, const float* __restrict b) {
  for (int64_t r = 0; r < rows; ++r) {
    const float* xr = x + r * c;
    float* yr = y + r * c;
#pragma omp simd
    for (int64_t j = 0; j < c; ++j) yr[j] = xr[j] * a[j] + b[j];
  }
}

HWNAS_MULTIVERSION void rows_grad_moments(const float* __restrict x, const float* __restrict g, int64_t rows, int64_t c,
                                          const float* __restrict mean, float* __restrict s1, float* __restrict s2) {
  for (int64_t r = 0; r < rows; ++r) {
    const float* xr = x + r * c;
    const float* gr = g + r * c;
#pragma omp simd
    for (int64_t j = 0; j < c; ++j) {
      s1[j] += gr[j];
      s2[j] += gr[j] * (xr[j] - mean[j]);
    }
  }
}

// g and dx may be the same buffer (gz stored by reduce_grad, overwritten in place).
HWNAS_MULTIVERSION void rows_dx(const float* __restrict x, const float* g, float* dx, int64_t rows,
                                int64_t c, const float* __restrict p, const float* __restrict q,
                                const float* __restrict r) {
  for (int64_t i = 0; i < rows; ++i) {
    const float* xr = x + i * c;
    const float* gr = g + i * c;
    float* dr = dx + i * c;
#pragma omp simd
    for (int64_t j = 0; j < c; ++j) dr[j] = p[j] * gr[j] + q[j] * xr[j] + r[j];
  }
}

// ---- planes layout: vectorized along a plane, constants per call ----------------------------

HWNAS_MULTIVERSION void run_moments(const float* __restrict x, int64_t n, float k, float* s1_out, float* s2_out) {
  float s1 = 0.f, s2 = 0.f;
#pragma omp simd reduction(+ : s1, s2)
  for (int64_t i = 0; i < n; ++i) {
    const float d = x[i] - k;
    s1 += d;
    s2 += d * d;
  }
  *s1_out = s1;
  *s2_out = s2;
}

HWNAS_MULTIVERSION void run_affine(const float* __restrict x, float* __restrict y, int64_t n, float a, float b) {
#pragma omp simd
  for (int64_t i = 0; i < n; ++i) y[i] = x[i] * a + b;
}

HWNAS_MULTIVERSION void run_grad_moments(const float* __restrict x, const float* __restrict g, int64_t n, float mean,
                                         float* s1_out, float* s2_out) {
  float s1 = 0.f, s2 = 0.f;
#pragma omp simd reduction(+ : s1, s2)
  for (int64_t i = 0; i < n; ++i) {
    s1 += g[i];
    s2 += g[i] * (x[i] - mean);
  }
  *s1_out = s1;
  *s2_out = s2;
}

HWNAS_MULTIVERSION void run_dx(const float* __restrict x, const float* g, float* dx, int64_t n,
                               float p, float q, float r) {
#pragma omp simd
  for (int64_t i = 0; i < n; ++i) dx[i] = p * g[i] + q * x[i] + r;
}

// gz = gy * act'(x * a + b) for one block, recomputing the pre-activation into `z` (cheaper than
// keeping a saved copy of it alive between forward and backward). Returns gy itself for none.
const float* block_gz_rows(const float* x, const float* gy, int64_t rows, int64_t c, const float* a, const float* b,
                           Activation act, float* z, float* gz) {
  if (act == Activation::none) return gy;
  rows_affine(x, z, rows, c, a, b);
  activation_backward(act, z, gy, gz, rows * c);
  return gz;
}

const float* block_gz_run(const float* x, const float* gy, int64_t n, float a, float b, Activation act, float* z,
                          float* gz) {
  if (act == Activation::none) return gy;
  run_affine(x, z, n, a, b);
  activation_backward(act, z, gy, gz, n);
  return gz;
}

// Row range [r0, r1) of thread t out of nt, in whole flush groups so results do not depend on timing.
void thread_rows(int64_t m, int64_t rows_per_block, int t, int nt, int64_t* r0, int64_t* r1) {
  const int64_t blocks = (m + rows_per_block - 1) / rows_per_block;
  *r0 = std::min(m, blocks * t / nt * rows_per_block);
  *r1 = std::min(m, blocks * (t + 1) / nt * rows_per_block);
}

// Sums (s1, s2) over the rows layout with per-thread float partial sums flushed to double every
// ~64 rows (flushing per block would cost 2c double adds per block when c is large).
// `block(xoff, rows, f1, f2, z, gz)` accumulates one block into f1/f2.
template <class F>
void rows_reduce(const Geom& g, double* out1, double* out2, F&& block) {
  const int64_t c = g.c, m = g.n;
  const int64_t rpb = std::max<int64_t>(1, kBlock / c);
  const int64_t rpf = rpb * std::max<int64_t>(1, 64 / rpb);
  const int nt = threads_for(m * c);
  std::vector<double> part(static_cast<size_t>(nt) * 2 * c, 0.0);
#pragma omp parallel num_threads(nt) if (nt > 1)
  {
    const int t = omp_get_thread_num(), tn = omp_get_num_threads();
    int64_t r0, r1;
    thread_rows(m, rpf, t, tn, &r0, &r1);
    std::vector<float> f1(c), f2(c), z(rpb * c), gz(rpb * c);
    double* d1 = part.data() + static_cast<size_t>(t) * 2 * c;
    double* d2 = d1 + c;
    for (int64_t rf = r0; rf < r1; rf += rpf) {
      std::fill(f1.begin(), f1.end(), 0.f);
      std::fill(f2.begin(), f2.end(), 0.f);
      const int64_t rf1 = std::min(rf + rpf, r1);
      for (int64_t r = rf; r < rf1; r += rpb)
        block(r * c, std::min(rpb, rf1 - r), f1.data(), f2.data(), z.data(), gz.data());
      for (int64_t j = 0; j < c; ++j) {
        d1[j] += f1[j];
        d2[j] += f2[j];
      }
    }
  }
  std::fill(out1, out1 + c, 0.0);
  std::fill(out2, out2 + c, 0.0);
  for (int t = 0; t < nt; ++t)
    for (int64_t j = 0; j < c; ++j) {
      out1[j] += part[static_cast<size_t>(t) * 2 * c + j];
      out2[j] += part[static_cast<size_t>(t) * 2 * c + c + j];
    }
}

// Same over the planes layout: channel j's sums over every plane of j, in chunks of kBlock.
template <class F>
void planes_reduce(const Geom& g, double* out1, double* out2, F&& chunk) {
  const int nt = threads_for(g.n * g.c * g.s);
#pragma omp parallel num_threads(nt) if (nt > 1)
  {
    std::vector<float> z(kBlock), gz(kBlock);
#pragma omp for schedule(static)
    for (int64_t j = 0; j < g.c; ++j) {
      double d1 = 0, d2 = 0;
      for (int64_t i = 0; i < g.n; ++i)
        for (int64_t o = 0; o < g.s; o += kBlock) {
          float f1 = 0.f, f2 = 0.f;
          chunk(j, (i * g.c + j) * g.s + o, std::min(kBlock, g.s - o), &f1, &f2, z.data(), gz.data());
          d1 += f1;
          d2 += f2;
        }
      out1[j] = d1;
      out2[j] = d2;
    }
  }
}

// Elementwise pass over either layout: `rows_fn(off, rows, z, gz)` or `run_fn(j, off, n, z, gz)`.
template <class R, class P>
void for_blocks(const Geom& g, R&& rows_fn, P&& run_fn) {
  const int nt = threads_for(g.n * g.c * g.s);
  if (g.rows) {
    const int64_t rpb = std::max<int64_t>(1, kBlock / g.c);
    const int64_t blocks = (g.n + rpb - 1) / rpb;
#pragma omp parallel num_threads(nt) if (nt > 1)
    {
      std::vector<float> z(rpb * g.c), gz(rpb * g.c);
#pragma omp for schedule(static)
      for (int64_t bi = 0; bi < blocks; ++bi) {
        const int64_t r = bi * rpb;
        rows_fn(r * g.c, std::min(rpb, g.n - r), z.data(), gz.data());
      }
    }
  } else {
    const int64_t chunks = (g.s + kBlock - 1) / kBlock;
#pragma omp parallel num_threads(nt) if (nt > 1)
    {
      std::vector<float> z(kBlock), gz(kBlock);
#pragma omp for schedule(static)
      for (int64_t pi = 0; pi < g.n * g.c * chunks; ++pi) {
        const int64_t plane = pi / chunks, o = (pi % chunks) * kBlock;
        run_fn(plane % g.c, plane * g.s + o, std::min(kBlock, g.s - o), z.data(), gz.data());
      }
    }
  }
}

}  // namespace

void stats(const Geom& g, const float* x, float* mean, float* var) {
  // Sums of (x - k) with k a sample of the channel: shifting by a value near the mean keeps
  // the one-pass variance accurate when |mean| >> std.
  std::vector<float> k(g.c);
  for (int64_t j = 0; j < g.c; ++j) k[j] = g.rows ? x[j] : x[j * g.s];
  std::vector<double> s1(g.c), s2(g.c);
  if (g.rows) {
    rows_reduce(g, s1.data(), s2.data(), [&](int64_t off, int64_t rows, float* f1, float* f2, float*, float*) {
      rows_moments(x + off, rows, g.c, k.data(), f1, f2);
    });
  } else {
    planes_reduce(g, s1.data(), s2.data(), [&](int64_t j, int64_t off, int64_t n, float* f1, float* f2, float*, float*) {
      run_moments(x + off, n, k[j], f1, f2);
    });
  }
  const double cnt = static_cast<double>(g.count());
  for (int64_t j = 0; j < g.c; ++j) {
    const double m1 = s1[j] / cnt;
    mean[j] = static_cast<float>(k[j] + m1);
    var[j] = static_cast<float>(std::max(0.0, s2[j] / cnt - m1 * m1));
  }
}

void apply(const Geom& g, const float* x, float* y, const float* a, const float* b, Activation act) {
  for_blocks(
      g,
      [&](int64_t off, int64_t rows, float*, float*) {
        rows_affine(x + off, y + off, rows, g.c, a, b);
        if (act != Activation::none) activation_forward(act, y + off, y + off, rows * g.c);
      },
      [&](int64_t j, int64_t off, int64_t n, float*, float*) {
        run_affine(x + off, y + off, n, a[j], b[j]);
        if (act != Activation::none) activation_forward(act, y + off, y + off, n);
      });
}

void reduce_grad(const Geom& g, const float* x, const float* gy, const float* a, const float* b, Activation act,
                 const float* mean, double* sum_g, double* sum_gxc, float* gz_out) {
  if (g.rows) {
    rows_reduce(g, sum_g, sum_gxc, [&](int64_t off, int64_t rows, float* f1, float* f2, float* z, float* gz) {
      const float* gzp = block_gz_rows(x + off, gy + off, rows, g.c, a, b, act, z, gz_out ? gz_out + off : gz);
      rows_grad_moments(x + off, gzp, rows, g.c, mean, f1, f2);
    });
  } else {
    planes_reduce(g, sum_g, sum_gxc,
                  [&](int64_t j, int64_t off, int64_t n, float* f1, float* f2, float* z, float* gz) {
                    const float* gzp = block_gz_run(x + off, gy + off, n, a[j], b[j], act, z, gz_out ? gz_out + off : gz);
                    run_grad_moments(x + off, gzp, n, mean[j], f1, f2);
                  });
  }
}

void input_grad(const Geom& g, const float* x, const float* gy, const float* a, const float* b, Activation act,
                const float* p, const float* q, const float* r, float* dx) {
  for_blocks(
      g,
      [&](int64_t off, int64_t rows, float* z, float* gz) {
        const float* gzp = block_gz_rows(x + off, gy + off, rows, g.c, a, b, act, z, gz);
        rows_dx(x + off, gzp, dx + off, rows, g.c, p, q, r);
      },
      [&](int64_t j, int64_t off, int64_t n, float* z, float* gz) {
        const float* gzp = block_gz_run(x + off, gy + off, n, a[j], b[j], act, z, gz);
        run_dx(x + off, gzp, dx + off, n, p[j], q[j], r[j]);
      });
}

}  // namespace hwnas::bn
