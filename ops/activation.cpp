#include "ops/activation.h"

#include <cstring>

#include "cuda/activation.h"
#include "ops/kernel_util.h"
#include "ops/simd.h"

#pragma GCC optimize("no-trapping-math")  // see ops/kernel_util.h

namespace hwnas {

using kernel::vsigmoid;

Activation activation_from_name(const std::string& name) {
  static constexpr Activation all[] = {Activation::none,     Activation::relu,    Activation::relu6, Activation::hswish,
                                       Activation::hsigmoid, Activation::sigmoid, Activation::swish};
  for (Activation a : all)
    if (name == activation_name(a)) return a;
  if (name == "identity" || name.empty()) return Activation::none;
  fail("activation: unknown activation '{}' (expected one of none, relu, relu6, hswish, hsigmoid, sigmoid, swish)",
       name);
}

const char* activation_name(Activation a) {
  switch (a) {
    case Activation::none: return "none";
    case Activation::relu: return "relu";
    case Activation::relu6: return "relu6";
    case Activation::hswish: return "hswish";
    case Activation::hsigmoid: return "hsigmoid";
    case Activation::sigmoid: return "sigmoid";
    case Activation::swish: return "swish";
  }
  return "?";
}

// ---- kernels -------------------------------------------------------------------------------
// No __restrict: in-place (y == x, gx == gy) is allowed, and `omp simd` already tells the
// compiler that iterations are independent, which holds for exact aliasing.

namespace {

// Written so that NaN passes through (as in PyTorch) instead of becoming 0.
__attribute__((always_inline)) inline float relu6_of(float v) { return v < 0.f ? 0.f : (v > 6.f ? 6.f : v); }

#define HWNAS_ACT_FWD(name, expr)                                         \
  HWNAS_MULTIVERSION void name(const float* x, float* y, int64_t n) {     \
    _Pragma("omp simd") for (int64_t i = 0; i < n; ++i) {                 \
      const float v = x[i];                                               \
      y[i] = (expr);                                                      \
    }                                                                     \
  }

// Derivatives follow PyTorch at the kinks: relu'(0) = 0, relu6' is 1 on (0, 6), hswish' is
// (2x + 3) / 6 on [-3, 3], hsigmoid' is 1/6 on (-3, 3).
#define HWNAS_ACT_BWD(name, expr)                                                   \
  HWNAS_MULTIVERSION void name(const float* x, const float* gy, float* gx, int64_t n) { \
    _Pragma("omp simd") for (int64_t i = 0; i < n; ++i) {                           \
      const float v = x[i], g = gy[i];                                              \
      gx[i] = (expr);                                                               \
    }                                                                               \
  }

HWNAS_ACT_FWD(relu_fwd, v < 0.f ? 0.f : v)
HWNAS_ACT_FWD(relu6_fwd, relu6_of(v))
HWNAS_ACT_FWD(hswish_fwd, v * relu6_of(v + 3.f) * (1.f / 6.f))
HWNAS_ACT_FWD(hsigmoid_fwd, relu6_of(v + 3.f) * (1.f / 6.f))
HWNAS_ACT_FWD(sigmoid_fwd, vsigmoid(v))
HWNAS_ACT_FWD(swish_fwd, v * vsigmoid(v))

HWNAS_ACT_BWD(relu_bwd, v > 0.f ? g : 0.f)
HWNAS_ACT_BWD(relu6_bwd, (v > 0.f && v < 6.f) ? g : 0.f)
HWNAS_ACT_BWD(hswish_bwd, v < -3.f ? 0.f : (v <= 3.f ? g * (v * (1.f / 3.f) + 0.5f) : g))
HWNAS_ACT_BWD(hsigmoid_bwd, (v > -3.f && v < 3.f) ? g * (1.f / 6.f) : 0.f)
HWNAS_ACT_BWD(sigmoid_bwd, g * vsigmoid(v) * (1.f - vsigmoid(v)))
HWNAS_ACT_BWD(swish_bwd, g * vsigmoid(v) * (1.f + v * (1.f - vsigmoid(v))))

#undef HWNAS_ACT_FWD
#undef HWNAS_ACT_BWD

using FwdFn = void (*)(const float*, float*, int64_t);
using BwdFn = void (*)(const float*, const float*, float*, int64_t);

FwdFn fwd_fn(Activation a) {
  switch (a) {
    case Activation::relu: return relu_fwd;
    case Activation::relu6: return relu6_fwd;
    case Activation::hswish: return hswish_fwd;
    case Activation::hsigmoid: return hsigmoid_fwd;
    case Activation::sigmoid: return sigmoid_fwd;
    case Activation::swish: return swish_fwd;
    case Activation::none: break;
  }
  return nullptr;
}

BwdFn bwd_fn(Activation a) {
  switch (a) {
    case Activation::relu: return relu_bwd;
    case Activation::relu6: return relu6_bwd;
    case Activation::hswish: return hswish_bwd;
    case Activation::hsigmoid: return hsigmoid_bwd;
    case Activation::sigmoid: return sigmoid_bwd;
    case Activation::swish: return swish_bwd;
    case Activation::none: break;
  }
  return nullptr;
}

}  // namespace

void activation_forward(Activation a, const float* x, float* y, int64_t n) {
  FwdFn f = fwd_fn(a);
  if (!f) {
    if (x != y && n > 0) std::memmove(y, x, static_cast<size_t>(n) * sizeof(float));
    return;
  }
  kernel::parallel_chunks(n, [&](int64_t b, int64_t e) { f(x + b, y + b, e - b); });
}

void activation_backward(Activation a, const float* x, const float* gy, float* gx, int64_t n) {
  BwdFn f = bwd_fn(a);
  if (!f) {
    if (gx != gy && n > 0) std::memmove(gx, gy, static_cast<size_t>(n) * sizeof(float));
    return;
  }
  kernel::parallel_chunks(n, [&](int64_t b, int64_t e) { f(x + b, gy + b, gx + b, e - b); });
}

// ---- ops -----------------------------------------------------------------------------------

namespace {

// `t` in the dense layout of `ref` (same shape), copying only when the strides differ.
Tensor in_layout_of(const Tensor& t, const Tensor& ref) {
  if (t.strides() == ref.strides() && t.is_dense()) return t;
  Tensor r = Tensor::empty_like(ref);
  r.copy_(t);
  return r;
}

Variable activation_op(const Variable& x, Activation a) {
  const char* name = activation_name(a);
  const Tensor& xt = x.data();
  HWNAS_CHECK(xt.defined(), "{}: undefined input", name);
  HWNAS_CHECK(xt.dtype() == DType::f32, "{}: expected an f32 tensor, got {}", name, xt.str());
  // Dense inputs (contiguous or channels_last) keep their layout; other views are packed first.
  Tensor xd = xt.is_dense() ? xt : xt.contiguous();
  Tensor y = Tensor::empty_like(xd);
  if (xd.is_cuda())
    cuda::activation_forward(a, xd.device_data<float>(), y.device_data<float>(), xd.numel(), xd.device().index);
  else
    activation_forward(a, xd.data<float>(), y.data<float>(), xd.numel());
  if (!needs_grad({x})) return make_result(y, name, {x}, nullptr);
  return make_result(y, name, {x}, [xd, a](const Tensor& gy) -> std::vector<Tensor> {
    Tensor g = in_layout_of(gy, xd);
    Tensor gx = Tensor::empty_like(xd);
    if (xd.is_cuda())
      cuda::activation_backward(a, xd.device_data<float>(), g.device_data<float>(), gx.device_data<float>(),
                                xd.numel(), xd.device().index);
    else
      activation_backward(a, xd.data<float>(), g.data<float>(), gx.data<float>(), xd.numel());
    return {gx};
  });
}

}  // namespace

Variable relu(const Variable& x) { return activation_op(x, Activation::relu); }
Variable relu6(const Variable& x) { return activation_op(x, Activation::relu6); }
Variable hswish(const Variable& x) { return activation_op(x, Activation::hswish); }
Variable hsigmoid(const Variable& x) { return activation_op(x, Activation::hsigmoid); }
Variable sigmoid(const Variable& x) { return activation_op(x, Activation::sigmoid); }
Variable swish(const Variable& x) { return activation_op(x, Activation::swish); }

Variable activate(const Variable& x, Activation a) {
  if (a == Activation::none) return x;
  return activation_op(x, a);
}

}  // namespace hwnas
