#pragma once
// CUDA kernels of ops/elementwise: binary arithmetic with broadcasting (through stride-0
// layouts) and alpha * x + beta, on `device`'s stream.
#include <cstdint>

#include "cuda/copy_kernels.h"

namespace hwnas::cuda {

enum class BinaryKind : int { add, sub, mul, div };

// out = a (op) b, all three dense with the same layout (the common case: one flat loop).
void binary_flat(BinaryKind op, float* out, const float* a, const float* b, int64_t n, int device);
// out = a (op) b over out's n logical elements; a and b laid out over out's shape (stride 0
// where they broadcast).
void binary_strided(BinaryKind op, float* out, const StridedLayout& lo, const float* a, const StridedLayout& la,
                    const float* b, const StridedLayout& lb, int64_t n, int device);
void axpb(const float* x, float* y, float alpha, float beta, int64_t n, int device);  // y = alpha * x + beta

}  // namespace hwnas::cuda
