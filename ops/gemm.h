#pragma once
// Row-major single-precision GEMM on raw pointers with leading dimensions, so that callers can
// pass strided sub-matrices (slices of shared supernet weights) without copying.
// C[M,N] = alpha * op(A)[M,K] * op(B)[K,N] + beta * C. Backed by oneDNN's sgemm (threaded with
// the same OpenMP runtime as everything else).
#include <cstdint>

namespace hwnas {

void sgemm(bool trans_a, bool trans_b, int64_t m, int64_t n, int64_t k, float alpha, const float* a, int64_t lda,
           const float* b, int64_t ldb, float beta, float* c, int64_t ldc);

}  // namespace hwnas
