#include "ops/gemm.h"

#include <omp.h>
#include <oneapi/dnnl/dnnl.h>

#include <algorithm>
#include <cstring>
#include <vector>

#include "cuda/gemm.h"
#include "cuda/reduce.h"
#include "cuda/tensor_layout.h"
#include "ops/simd.h"
#include "tensor/error.h"

namespace hwnas {

void sgemm(bool trans_a, bool trans_b, int64_t m, int64_t n, int64_t k, float alpha, const float* a, int64_t lda,
           const float* b, int64_t ldb, float beta, float* c, int64_t ldc) {
  HWNAS_CHECK(m >= 0 && n >= 0 && k >= 0, "sgemm: negative size m={} n={} k={}", m, n, k);
  if (m == 0 || n == 0) return;
  // oneDNN wants ld >= stored columns even when there is a single stored row, whose stride a
  // view may leave at any value; then ld is never used to step, so it is safe to raise it.
  auto fix_ld = [](int64_t ld, int64_t rows, int64_t cols, const char* name) {
    if (rows <= 1) return std::max<int64_t>(ld, std::max<int64_t>(cols, 1));
    HWNAS_CHECK(ld >= cols, "sgemm: {} {} is smaller than the {} stored columns", name, ld, cols);
    return ld;
  };
  lda = fix_ld(lda, trans_a ? k : m, trans_a ? m : k, "lda");
  ldb = fix_ld(ldb, trans_b ? n : k, trans_b ? k : n, "ldb");
  ldc = fix_ld(ldc, m, n, "ldc");
  if (k == 0) {
    // oneDNN rejects k == 0; the product is empty so C = beta * C (beta == 0 must not read C,
    // which may hold uninitialised memory).
    for (int64_t i = 0; i < m; ++i) {
      float* row = c + i * ldc;
      if (beta == 0.f)
        std::memset(row, 0, sizeof(float) * n);
      else if (beta != 1.f)
        for (int64_t j = 0; j < n; ++j) row[j] *= beta;
    }
    return;
  }
  // oneDNN forks for products too small to repay a fork/join; keep those on the calling thread
  // (oneDNN's sgemm runs single-threaded when the thread count is 1 or inside a parallel region).
  const bool small = 2.0 * m * n * k < 2.5e5 && !omp_in_parallel() && omp_get_max_threads() > 1;
  const int prev_threads = small ? omp_get_max_threads() : 0;
  if (small) omp_set_num_threads(1);
  const dnnl_status_t st =
      dnnl_sgemm(trans_a ? 'T' : 'N', trans_b ? 'T' : 'N', m, n, k, alpha, a, lda, b, ldb, beta, c, ldc);
  if (small) omp_set_num_threads(prev_threads);
  if (st != dnnl_success)
    fail("sgemm: oneDNN failed (status {}) for m={} n={} k={} lda={} ldb={} ldc={} trans_a={} trans_b={}",
         static_cast<int>(st), m, n, k, lda, ldb, ldc, trans_a, trans_b);
}

}  // namespace hwnas

namespace hwnas {
namespace {

HWNAS_MULTIVERSION
void add_rows(const float* __restrict a, int64_t rows, int64_t cols, int64_t lda, float* __restrict acc) {
  for (int64_t i = 0; i < rows; ++i) {
    const float* __restrict r = a + i * lda;
#pragma omp simd
    for (int64_t j = 0; j < cols; ++j) acc[j] += r[j];
  }
}

}  // namespace

void sum_rows(const float* a, int64_t rows, int64_t cols, int64_t lda, float* out) {
  std::fill(out, out + cols, 0.f);
  if (rows <= 0 || cols <= 0) return;
  const int nt = rows * cols > (1 << 16) && !omp_in_parallel()
                     ? static_cast<int>(std::min<int64_t>(omp_get_max_threads(), rows))
                     : 1;
  if (nt <= 1) {
    add_rows(a, rows, cols, lda, out);
    return;
  }
  // Per-thread partial sums, then a serial reduce (cols is small next to rows * cols).
  std::vector<float> part(static_cast<size_t>(nt) * cols, 0.f);
#pragma omp parallel num_threads(nt)
  {
    const int64_t t = omp_get_thread_num(), T = omp_get_num_threads();
    const int64_t b = rows * t / T, e = rows * (t + 1) / T;
    add_rows(a + b * lda, e - b, cols, lda, part.data() + t * cols);
  }
  for (int t = 0; t < nt; ++t) add_rows(part.data() + t * cols, 1, cols, cols, out);
}

void sgemm_on(Device d, bool trans_a, bool trans_b, int64_t m, int64_t n, int64_t k, float alpha, const float* a,
              int64_t lda, const float* b, int64_t ldb, float beta, float* c, int64_t ldc, DType math) {
  if (d.is_cpu()) return sgemm(trans_a, trans_b, m, n, k, alpha, a, lda, b, ldb, beta, c, ldc);
  cuda::sgemm(trans_a, trans_b, m, n, k, alpha, a, lda, b, ldb, beta, c, ldc, d.index, math == DType::bf16);
}

void sum_rows_on(Device d, const float* a, int64_t rows, int64_t cols, int64_t lda, float* out) {
  if (d.is_cpu()) return sum_rows(a, rows, cols, lda, out);
  cuda::sum_strided(out, a, cuda::layout_of({cols}, {1}, "sum_rows"), cuda::layout_of({rows}, {lda}, "sum_rows"), cols,
                    rows, 1.f, d.index);
}

}  // namespace hwnas
