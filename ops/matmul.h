#pragma once
#include "autograd/variable.h"

namespace hwnas {

// [M, K] x [K, N] -> [M, N] (2-D; batched 3-D [B, M, K] x [B, K, N] too).
Variable matmul(const Variable& a, const Variable& b);
// y = x W^T + b, x [N, in], W [out, in] (PyTorch layout), b [out] or undefined.
Variable linear(const Variable& x, const Variable& w, const Variable& b);

}  // namespace hwnas
