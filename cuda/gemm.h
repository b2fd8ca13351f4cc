#pragma once
// cuBLAS GEMM with ops/gemm.h's row-major convention (C = alpha op(A) op(B) + beta C, leading
// dimensions for strided sub-matrices) on `device`'s stream. TF32 tensor cores stay off so that
// results match the CPU to fp32 rounding. With bf16_math (bf16 autocast, ops/autocast.h) the
// operands are rounded to bf16 and multiplied on the tensor cores with f32 accumulation
// (CUBLAS_COMPUTE_32F_FAST_16BF); inputs and output stay f32 in memory.
#include <cstdint>

namespace hwnas::cuda {

void sgemm(bool trans_a, bool trans_b, int64_t m, int64_t n, int64_t k, float alpha, const float* a, int64_t lda,
           const float* b, int64_t ldb, float beta, float* c, int64_t ldc, int device, bool bf16_math = false);

}  // namespace hwnas::cuda
