#include "ops/elementwise.h"

#include <omp.h>

#include "cuda/elementwise.h"
#include "cuda/reduce.h"
#include "cuda/tensor_layout.h"
#include "ops/kernel_util.h"
#include "ops/simd.h"
#include "ops/strided_iter.h"

#pragma GCC optimize("no-trapping-math")  // see ops/kernel_util.h

namespace hwnas {

namespace {

using kernel::StridedIter;

enum class BinOp { add, sub, mul, div };
static_assert(static_cast<int>(BinOp::div) == static_cast<int>(cuda::BinaryKind::div), "BinOp and BinaryKind must match");

const char* bin_name(BinOp op) {
  switch (op) {
    case BinOp::add: return "add";
    case BinOp::sub: return "sub";
    case BinOp::mul: return "mul";
    case BinOp::div: return "div";
  }
  return "?";
}

// Row kernels for each op: both operands rows (vv), a row and a broadcast value (vs, sv), and
// any strides (gen). The fast paths call vv once over whole tensors.
#define HWNAS_BIN_KERNELS(name, expr)                                                                    \
  HWNAS_MULTIVERSION void name##_vv(const float* a, const float* b, float* o, int64_t n) {               \
    _Pragma("omp simd") for (int64_t i = 0; i < n; ++i) {                                               \
      const float x = a[i], y = b[i];                                                                    \
      o[i] = (expr);                                                                                     \
    }                                                                                                    \
  }                                                                                                      \
  HWNAS_MULTIVERSION void name##_vs(const float* a, float y, float* o, int64_t n) {                      \
    _Pragma("omp simd") for (int64_t i = 0; i < n; ++i) {                                               \
      const float x = a[i];                                                                              \
      o[i] = (expr);                                                                                     \
    }                                                                                                    \
  }                                                                                                      \
  HWNAS_MULTIVERSION void name##_sv(float x, const float* b, float* o, int64_t n) {                      \
    _Pragma("omp simd") for (int64_t i = 0; i < n; ++i) {                                               \
      const float y = b[i];                                                                              \
      o[i] = (expr);                                                                                     \
    }                                                                                                    \
  }                                                                                                      \
  void name##_gen(const float* a, int64_t sa, const float* b, int64_t sb, float* o, int64_t so, int64_t n) { \
    for (int64_t i = 0; i < n; ++i) {                                                                    \
      const float x = a[i * sa], y = b[i * sb];                                                          \
      o[i * so] = (expr);                                                                                \
    }                                                                                                    \
  }

HWNAS_BIN_KERNELS(add, x + y)
HWNAS_BIN_KERNELS(sub, x - y)
HWNAS_BIN_KERNELS(mul, x* y)
HWNAS_BIN_KERNELS(div, x / y)
#undef HWNAS_BIN_KERNELS

struct BinKernels {
  void (*vv)(const float*, const float*, float*, int64_t);
  void (*vs)(const float*, float, float*, int64_t);
  void (*sv)(float, const float*, float*, int64_t);
  void (*gen)(const float*, int64_t, const float*, int64_t, float*, int64_t, int64_t);
};

BinKernels kernels_for(BinOp op) {
  switch (op) {
    case BinOp::add: return {add_vv, add_vs, add_sv, add_gen};
    case BinOp::sub: return {sub_vv, sub_vs, sub_sv, sub_gen};
    case BinOp::mul: return {mul_vv, mul_vs, mul_sv, mul_gen};
    case BinOp::div: return {div_vv, div_vs, div_sv, div_gen};
  }
  return {};
}

HWNAS_MULTIVERSION void axpb_kernel(const float* x, float* y, float alpha, float beta, int64_t n) {
#pragma omp simd
  for (int64_t i = 0; i < n; ++i) y[i] = alpha * x[i] + beta;
}

HWNAS_MULTIVERSION void copy_row(const float* x, float* y, int64_t n) {
#pragma omp simd
  for (int64_t i = 0; i < n; ++i) y[i] = x[i];
}

HWNAS_MULTIVERSION void fill_row(float v, float* y, int64_t n) {
#pragma omp simd
  for (int64_t i = 0; i < n; ++i) y[i] = v;
}

HWNAS_MULTIVERSION float sum_row(const float* x, int64_t n) {
  float acc = 0.f;
#pragma omp simd reduction(+ : acc)
  for (int64_t i = 0; i < n; ++i) acc += x[i];
  return acc;
}

HWNAS_MULTIVERSION void acc_row(const float* x, double* o, int64_t n) {
#pragma omp simd
  for (int64_t i = 0; i < n; ++i) o[i] += x[i];
}

void check_f32(const Tensor& t, const char* op) {
  HWNAS_CHECK(t.defined(), "{}: undefined operand", op);
  HWNAS_CHECK(t.dtype() == DType::f32, "{}: expected f32 operands, got {}", op, t.str());
}

// Runs `row(len, offsets, inner_strides)` over an iterator's work items, on several threads when
// the tensor is large. Rows write disjoint outputs, so the split needs no synchronisation.
template <class F>
void run_parallel(const StridedIter& it, F&& row) {
  const int64_t grain = std::max<int64_t>(1, kernel::kParallelGrain / it.blk);
  kernel::parallel_chunks(it.items(), [&](int64_t b, int64_t e) { it.run(b, e, row); }, grain, 1);
}

// The numpy-broadcast binary kernel on tensors (any strides). The result takes the dense
// layout of an operand that already has the output shape (channels_last stays channels_last).
// Both operands on one device; a one-element CPU operand (a scalar) follows the other to its GPU.
void same_device(Tensor& a, Tensor& b, const char* name) {
  if (a.device() == b.device()) return;
  if (a.numel() == 1 && a.device().is_cpu()) a = a.to(b.device());
  else if (b.numel() == 1 && b.device().is_cpu()) b = b.to(a.device());
  else fail("{}: operands on different devices ({} on {}, {} on {})", name, a.str(), a.device().str(), b.str(), b.device().str());
}

Tensor binary_tensor(BinOp op, const Tensor& a_in, const Tensor& b_in) {
  const char* name = bin_name(op);
  check_f32(a_in, name);
  check_f32(b_in, name);
  Tensor a = a_in, b = b_in;
  same_device(a, b, name);
  const Shape out_shape = broadcast_shapes(a.shape(), b.shape(), name);
  const bool a_full = a.shape() == out_shape, b_full = b.shape() == out_shape;
  Tensor out = (a_full && a.is_dense())   ? Tensor::empty_like(a)
               : (b_full && b.is_dense()) ? Tensor::empty_like(b)
                                          : Tensor::empty(out_shape, DType::f32, MemoryFormat::contiguous, a.device());
  const int64_t n = out.numel();
  if (n == 0) return out;
  if (out.is_cuda()) {
    const auto kind = static_cast<cuda::BinaryKind>(static_cast<int>(op));
    const int dev = out.device().index;
    if (a_full && b_full && a.strides() == out.strides() && b.strides() == out.strides())
      cuda::binary_flat(kind, out.device_data<float>(), a.device_data<float>(), b.device_data<float>(), n, dev);
    else
      cuda::binary_strided(kind, out.device_data<float>(), cuda::layout_of(out, name), a.device_data<float>(),
                           cuda::layout_of(a.expand(out_shape), name), b.device_data<float>(),
                           cuda::layout_of(b.expand(out_shape), name), n, dev);
    return out;
  }
  const BinKernels k = kernels_for(op);
  float* po = out.data<float>();
  const float* pa = a.data<float>();
  const float* pb = b.data<float>();
  // Flat paths: identical dense layouts, or a dense operand with a one-element one.
  if (a_full && b_full && a.strides() == out.strides() && b.strides() == out.strides()) {
    kernel::parallel_chunks(n, [&](int64_t s, int64_t e) { k.vv(pa + s, pb + s, po + s, e - s); });
    return out;
  }
  if (a_full && a.strides() == out.strides() && b.numel() == 1) {
    const float v = *pb;
    kernel::parallel_chunks(n, [&](int64_t s, int64_t e) { k.vs(pa + s, v, po + s, e - s); });
    return out;
  }
  if (b_full && b.strides() == out.strides() && a.numel() == 1) {
    const float v = *pa;
    kernel::parallel_chunks(n, [&](int64_t s, int64_t e) { k.sv(v, pb + s, po + s, e - s); });
    return out;
  }
  const Shape sa = a.expand(out_shape).strides(), sb = b.expand(out_shape).strides();
  StridedIter it(out_shape, {&out.strides(), &sa, &sb}, /*key=*/0);
  run_parallel(it, [&](int64_t len, const StridedIter::Offsets& off, const StridedIter::Offsets& ist) {
    float* o = po + off[0];
    const float* x = pa + off[1];
    const float* y = pb + off[2];
    if (ist[0] == 1 && ist[1] == 1 && ist[2] == 1) k.vv(x, y, o, len);
    else if (ist[0] == 1 && ist[1] == 1 && ist[2] == 0) k.vs(x, *y, o, len);
    else if (ist[0] == 1 && ist[1] == 0 && ist[2] == 1) k.sv(*x, y, o, len);
    else k.gen(x, ist[1], y, ist[2], o, ist[0], len);
  });
  return out;
}

// alpha * t + beta, keeping a dense layout.
Tensor axpb_tensor(const Tensor& t, float alpha, float beta, const char* name) {
  check_f32(t, name);
  Tensor src = t.is_dense() ? t : t.contiguous();
  Tensor out = Tensor::empty_like(src);
  if (src.is_cuda()) {
    cuda::axpb(src.device_data<float>(), out.device_data<float>(), alpha, beta, src.numel(), src.device().index);
    return out;
  }
  const float* x = src.data<float>();
  float* y = out.data<float>();
  kernel::parallel_chunks(src.numel(), [&](int64_t s, int64_t e) { axpb_kernel(x + s, y + s, alpha, beta, e - s); });
  return out;
}

}  // namespace

// ---- tensor helpers ------------------------------------------------------------------------

Tensor sum_to_shape(const Tensor& g, const Shape& shape) {
  check_f32(g, "sum_to_shape");
  if (g.shape() == shape) return g;
  const int64_t nd = g.dim(), lead = nd - static_cast<int64_t>(shape.size());
  bool ok = lead >= 0;
  Shape padded(std::max<int64_t>(nd, 0), 1);
  for (int64_t i = 0; ok && i < static_cast<int64_t>(shape.size()); ++i) {
    padded[lead + i] = shape[i];
    ok = shape[i] == g.shape()[lead + i] || shape[i] == 1;
  }
  if (!ok) fail("sum_to_shape: cannot reduce a gradient of shape {} to shape {}", shape_str(g.shape()), shape_str(shape));
  Tensor out = Tensor::empty(shape, DType::f32, MemoryFormat::contiguous, g.device());
  const int64_t n = g.numel(), m = out.numel();
  if (n == 0 || m == 0) return out.zero_();
  if (g.is_cuda()) {
    // Kept dims index the output (row-major, as `shape` without its broadcast dims); reduced dims
    // index the terms of each sum.
    Shape ks, kst, rs, rst;
    for (int64_t d = 0; d < nd; ++d) {
      const bool reduced = padded[d] == 1 && g.size(d) != 1;
      (reduced ? rs : ks).push_back(g.size(d));
      (reduced ? rst : kst).push_back(g.stride(d));
    }
    cuda::sum_strided(out.device_data<float>(), g.device_data<float>(), cuda::layout_of(ks, kst, "sum_to_shape"),
                      cuda::layout_of(rs, rst, "sum_to_shape"), m, n / m, 1.f, g.device().index);
    return out;
  }
  // Accumulator strides: 0 along the reduced dims, so those rows fold onto one element.
  Shape ost = contiguous_strides(padded);
  for (int64_t d = 0; d < nd; ++d)
    if (padded[d] == 1) ost[d] = 0;
  StridedIter it(g.shape(), {&ost, &g.strides(), nullptr}, /*key=*/1);
  const float* pg = g.data<float>();
  // Each thread sums its share of g into a private double buffer; buffers are added at the end.
  int nt = 1;
  if (n > kernel::kParallelGrain && !omp_in_parallel())
    nt = static_cast<int>(std::min<int64_t>({omp_get_max_threads(), n / kernel::kParallelGrain, it.items()}));
  nt = std::max(nt, 1);
  std::vector<double> acc(static_cast<size_t>(nt) * m, 0.0);
  const int64_t items = it.items();
#pragma omp parallel num_threads(nt) if (nt > 1)
  {
    const int64_t t = omp_get_thread_num(), T = omp_get_num_threads();
    double* buf = acc.data() + t * m;
    const int64_t b = items * t / T, e = items * (t + 1) / T;
    it.run(b, e, [&](int64_t len, const StridedIter::Offsets& off, const StridedIter::Offsets& ist) {
      double* o = buf + off[0];
      const float* x = pg + off[1];
      if (ist[0] == 0 && ist[1] == 1) {
        *o += sum_row(x, len);
      } else if (ist[0] == 1 && ist[1] == 1) {
        acc_row(x, o, len);
      } else {
        for (int64_t i = 0; i < len; ++i) o[i * ist[0]] += x[i * ist[1]];
      }
    });
  }
  float* po = out.data<float>();
  for (int64_t i = 0; i < m; ++i) {
    double s = 0.0;
    for (int t = 0; t < nt; ++t) s += acc[static_cast<size_t>(t) * m + i];
    po[i] = static_cast<float>(s);
  }
  return out;
}

Tensor broadcast_to(const Tensor& t, const Shape& shape, MemoryFormat fmt) {
  check_f32(t, "broadcast_to");
  Tensor src = t.expand(shape);
  Tensor out = Tensor::empty(shape, DType::f32, fmt, t.device());
  if (out.numel() == 0) return out;
  if (out.is_cuda()) return out.copy_(src);
  StridedIter it(shape, {&out.strides(), &src.strides(), nullptr}, /*key=*/0);
  float* po = out.data<float>();
  const float* ps = src.data<float>();
  run_parallel(it, [&](int64_t len, const StridedIter::Offsets& off, const StridedIter::Offsets& ist) {
    float* o = po + off[0];
    const float* x = ps + off[1];
    if (ist[0] == 1 && ist[1] == 1) copy_row(x, o, len);
    else if (ist[0] == 1 && ist[1] == 0) fill_row(*x, o, len);
    else
      for (int64_t i = 0; i < len; ++i) o[i * ist[0]] = x[i * ist[1]];
  });
  return out;
}

Tensor add_tensors(const Tensor& a, const Tensor& b) { return binary_tensor(BinOp::add, a, b); }
Tensor sub_tensors(const Tensor& a, const Tensor& b) { return binary_tensor(BinOp::sub, a, b); }
Tensor mul_tensors(const Tensor& a, const Tensor& b) { return binary_tensor(BinOp::mul, a, b); }
Tensor div_tensors(const Tensor& a, const Tensor& b) { return binary_tensor(BinOp::div, a, b); }
Tensor scale_tensor(const Tensor& t, float alpha, float beta) { return axpb_tensor(t, alpha, beta, "scale"); }

// ---- ops -----------------------------------------------------------------------------------

Variable add(const Variable& a, const Variable& b) {
  Tensor out = binary_tensor(BinOp::add, a.data(), b.data());
  const Shape sa = a.shape(), sb = b.shape();
  const bool ga = a.requires_grad(), gb = b.requires_grad();
  return make_result(out, "add", {a, b}, [sa, sb, ga, gb](const Tensor& gy) -> std::vector<Tensor> {
    return {ga ? sum_to_shape(gy, sa) : Tensor(), gb ? sum_to_shape(gy, sb) : Tensor()};
  });
}

Variable sub(const Variable& a, const Variable& b) {
  Tensor out = binary_tensor(BinOp::sub, a.data(), b.data());
  const Shape sa = a.shape(), sb = b.shape();
  const bool ga = a.requires_grad(), gb = b.requires_grad();
  return make_result(out, "sub", {a, b}, [sa, sb, ga, gb](const Tensor& gy) -> std::vector<Tensor> {
    // Reduce first, then negate: the negation runs on the smaller tensor.
    return {ga ? sum_to_shape(gy, sa) : Tensor(), gb ? axpb_tensor(sum_to_shape(gy, sb), -1.f, 0.f, "sub") : Tensor()};
  });
}

Variable mul(const Variable& a, const Variable& b) {
  Tensor out = binary_tensor(BinOp::mul, a.data(), b.data());
  if (!needs_grad({a, b})) return make_result(out, "mul", {a, b}, nullptr);
  const bool ga = a.requires_grad(), gb = b.requires_grad();
  // Each gradient needs the other operand only.
  Tensor ta = gb ? a.data() : Tensor(), tb = ga ? b.data() : Tensor();
  const Shape sa = a.shape(), sb = b.shape();
  return make_result(out, "mul", {a, b}, [ta, tb, sa, sb, ga, gb](const Tensor& gy) -> std::vector<Tensor> {
    return {ga ? sum_to_shape(binary_tensor(BinOp::mul, gy, tb), sa) : Tensor(),
            gb ? sum_to_shape(binary_tensor(BinOp::mul, gy, ta), sb) : Tensor()};
  });
}

Variable div(const Variable& a, const Variable& b) {
  Tensor out = binary_tensor(BinOp::div, a.data(), b.data());
  if (!needs_grad({a, b})) return make_result(out, "div", {a, b}, nullptr);
  const bool ga = a.requires_grad(), gb = b.requires_grad();
  Tensor tb = b.data(), ty = gb ? out : Tensor();
  const Shape sa = a.shape(), sb = b.shape();
  return make_result(out, "div", {a, b}, [tb, ty, sa, sb, ga, gb](const Tensor& gy) -> std::vector<Tensor> {
    Tensor g_over_b = binary_tensor(BinOp::div, gy, tb);
    Tensor rb;
    if (gb) {
      // d(a/b)/db = -(a/b)/b, so gb = -sum(gy/b * y).
      rb = sum_to_shape(binary_tensor(BinOp::mul, g_over_b, ty), sb);
      rb = axpb_tensor(rb, -1.f, 0.f, "div");
    }
    return {ga ? sum_to_shape(g_over_b, sa) : Tensor(), rb};
  });
}

Variable add_scalar(const Variable& a, float s) {
  Tensor out = axpb_tensor(a.data(), 1.f, s, "add_scalar");
  return make_result(out, "add_scalar", {a}, [](const Tensor& gy) -> std::vector<Tensor> { return {gy}; });
}

Variable mul_scalar(const Variable& a, float s) {
  Tensor out = axpb_tensor(a.data(), s, 0.f, "mul_scalar");
  return make_result(out, "mul_scalar", {a},
                     [s](const Tensor& gy) -> std::vector<Tensor> { return {axpb_tensor(gy, s, 0.f, "mul_scalar")}; });
}

Variable neg(const Variable& a) {
  Tensor out = axpb_tensor(a.data(), -1.f, 0.f, "neg");
  return make_result(out, "neg", {a},
                     [](const Tensor& gy) -> std::vector<Tensor> { return {axpb_tensor(gy, -1.f, 0.f, "neg")}; });
}

}  // namespace hwnas
