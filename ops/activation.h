#pragma once
// Pointwise activations. The Tensor-level kernels are shared with fused ops (batch norm +
// activation) so that each activation's formula and derivative live in one place.
#include <string>

#include "autograd/variable.h"
#include "ops/activation_kind.h"

namespace hwnas {

Activation activation_from_name(const std::string& name);  // throws naming the unknown name
const char* activation_name(Activation a);

Variable relu(const Variable& x);
Variable relu6(const Variable& x);
Variable hswish(const Variable& x);    // x * relu6(x + 3) / 6
Variable hsigmoid(const Variable& x);  // relu6(x + 3) / 6
Variable sigmoid(const Variable& x);
Variable swish(const Variable& x);     // x * sigmoid(x)
Variable activate(const Variable& x, Activation a);  // dispatch; none returns x

// Kernels on raw f32 arrays (vectorized, OpenMP over large n).
// y = act(x); may run in place (y == x).
void activation_forward(Activation a, const float* x, float* y, int64_t n);
// gx = gy * act'(x), given the forward input x (always available for every activation).
void activation_backward(Activation a, const float* x, const float* gy, float* gx, int64_t n);

}  // namespace hwnas
