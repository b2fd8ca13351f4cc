#include "cuda/gemm.h"

#include <cublas_v2.h>

#include <limits>

#include "cuda/runtime.h"
#include "tensor/error.h"

namespace hwnas::cuda {

void sgemm(bool trans_a, bool trans_b, int64_t m, int64_t n, int64_t k, float alpha, const float* a, int64_t lda,
           const float* b, int64_t ldb, float beta, float* c, int64_t ldc, int device, bool bf16_math) {
  if (m == 0 || n == 0) return;
  const int64_t big = std::numeric_limits<int>::max();
  if (m > big || n > big || k > big || lda > big || ldb > big || ldc > big)
    fail("matmul: [{} x {}] x [{} x {}] exceeds cuBLAS's 32-bit sizes", m, k, k, n);
  auto h = static_cast<cublasHandle_t>(cublas_handle(device));
  // Row-major C = op(A) op(B) is column-major C^T = op(B)^T op(A)^T: swap the operands.
  const cublasOperation_t op_b = trans_b ? CUBLAS_OP_T : CUBLAS_OP_N, op_a = trans_a ? CUBLAS_OP_T : CUBLAS_OP_N;
  const int in = static_cast<int>(n), im = static_cast<int>(m), ik = static_cast<int>(k);
  const cublasStatus_t st =
      bf16_math ? cublasGemmEx(h, op_b, op_a, in, im, ik, &alpha, b, CUDA_R_32F, static_cast<int>(ldb), a, CUDA_R_32F,
                               static_cast<int>(lda), &beta, c, CUDA_R_32F, static_cast<int>(ldc),
                               CUBLAS_COMPUTE_32F_FAST_16BF, CUBLAS_GEMM_DEFAULT)
                : cublasSgemm(h, op_b, op_a, in, im, ik, &alpha, b, static_cast<int>(ldb), a, static_cast<int>(lda), &beta,
                              c, static_cast<int>(ldc));
  if (st != CUBLAS_STATUS_SUCCESS)
    fail("matmul: {} failed on cuda:{} ({}, m {} n {} k {})", bf16_math ? "cublasGemmEx (bf16 autocast)" : "cublasSgemm",
         device, cublasGetStatusString(st), m, n, k);
}

}  // namespace hwnas::cuda
