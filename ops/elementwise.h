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

// Tensor helper used by backward passes: sums `g` over broadcast dims down to `shape`
// (a contiguous result; `g` itself when the shapes already match).
Tensor sum_to_shape(const Tensor& g, const Shape& shape);

// Tensor-level kernels (no autograd) for other ops' forward and backward passes; same
// broadcasting and layout rules as the ops above.
Tensor add_tensors(const Tensor& a, const Tensor& b);
Tensor sub_tensors(const Tensor& a, const Tensor& b);
Tensor mul_tensors(const Tensor& a, const Tensor& b);
Tensor div_tensors(const Tensor& a, const Tensor& b);
Tensor scale_tensor(const Tensor& t, float alpha, float beta = 0.f);  // alpha * t + beta, layout kept
// A dense copy of `t` broadcast to `shape` in memory format `fmt`.
Tensor broadcast_to(const Tensor& t, const Shape& shape, MemoryFormat fmt = MemoryFormat::contiguous);

}  // namespace hwnas
