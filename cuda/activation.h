#pragma once
// CUDA kernels of ops/activation: the same formulas and the same derivatives at the kinks
// (PyTorch's), over dense arrays on `device`'s stream. Also used by fused ops (BN + activation).
#include <cstdint>

#include "ops/activation_kind.h"

namespace hwnas::cuda {

void activation_forward(Activation a, const float* x, float* y, int64_t n, int device);
void activation_backward(Activation a, const float* x, const float* gy, float* gx, int64_t n, int device);

}  // namespace hwnas::cuda
