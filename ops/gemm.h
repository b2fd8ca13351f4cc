#pragma once
// Row-major single-precision GEMM on raw pointers with leading dimensions, so that callers can
// pass strided sub-matrices (slices of shared supernet weights) without copying.
// C[M,N] = alpha * op(A)[M,K] * op(B)[K,N] + beta * C. Backed by oneDNN's sgemm (threaded with
// the same OpenMP runtime as everything else; single-threaded when called inside a parallel
// region, which lets callers split M over threads and fuse an epilogue per chunk).
#include <cstdint>

#include "tensor/dtype.h"

namespace hwnas {

void sgemm(bool trans_a, bool trans_b, int64_t m, int64_t n, int64_t k, float alpha, const float* a, int64_t lda,
           const float* b, int64_t ldb, float beta, float* c, int64_t ldc);

// out[j] = sum_i a[i * lda + j] for a [rows, cols] matrix: bias gradients of linear and conv.
void sum_rows(const float* a, int64_t rows, int64_t cols, int64_t lda, float* out);

// The same on the pointers' device: oneDNN on the CPU, cuBLAS (cuda/gemm.h) and the CUDA
// reduction kernel on a GPU. Ops written against these run on either. `math` is the GPU's
// multiply precision (f32, or bf16 under autocast: ops/autocast.h); the CPU always computes f32.
void sgemm_on(Device d, bool trans_a, bool trans_b, int64_t m, int64_t n, int64_t k, float alpha, const float* a,
              int64_t lda, const float* b, int64_t ldb, float beta, float* c, int64_t ldc, DType math = DType::f32);
void sum_rows_on(Device d, const float* a, int64_t rows, int64_t cols, int64_t lda, float* out);

}  // namespace hwnas
