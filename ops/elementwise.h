#pragma once
// Binary arithmetic with numpy broadcasting; backward reduces the gradient back to each
// operand's shape. Same-layout dense operands (e.g. two channels_last activations) take a
// flat vectorized path and the result keeps their layout.
#include "autograd/variable.h"

namespace hwnas {

Variable add(const Variable& a, const Variable& b);
Variable sub(const Variable& a, const Variable& b);
Variable mul(const Variable& a, const Variable& b);
Variable div(const Variable& a, const Variable& b);
Variable add_scalar(const Variable& a, float s);
Variable mul_scalar(const Variable& a, float s);
Variable neg(const Variable& a);

inline Variable operator+(const Variable& a, const Variable& b) { return add(a, b); }
inline Variable operator-(const Variable& a, const Variable& b) { return sub(a, b); }
inline Variable operator*(const Variable& a, const Variable& b) { return mul(a, b); }
inline Variable operator/(const Variable& a, const Variable& b) { return div(a, b); }

// Tensor helper used by backward passes: sums `g` over broadcast dims down to `shape`.
Tensor sum_to_shape(const Tensor& g, const Shape& shape);

}  // namespace hwnas
