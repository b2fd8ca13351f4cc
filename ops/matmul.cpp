#include "ops/matmul.h"

#include <omp.h>

#include <algorithm>

#include "ops/autocast.h"
#include "ops/gemm.h"

namespace hwnas {
namespace {

// A 2-D matrix (rows, cols, strides) as an sgemm operand. A view whose rows or columns are
// unit-stride is passed as is (a slice of a shared weight, a transposed view); anything else
// is copied once.
struct Operand {
  Tensor keep;  // owns the memory `p` points into
  const float* p = nullptr;
  int64_t ld = 0;
  bool trans = false;  // memory holds the transpose, row-major
};

Operand make_operand(const Tensor& t, int64_t rows, int64_t cols, int64_t s0, int64_t s1, int64_t offset) {
  Operand o;
  o.keep = t;
  const float* base = t.device_data<float>() + offset;
  if ((s1 == 1 || cols == 1) && (rows == 1 || s0 >= cols)) {
    o.p = base;
    o.ld = rows == 1 ? cols : s0;
  } else if ((s0 == 1 || rows == 1) && (cols == 1 || s1 >= rows)) {
    o.p = base;
    o.ld = cols == 1 ? rows : s1;
    o.trans = true;
  }
  return o;
}

Operand operand_2d(const Tensor& t) {
  Operand o = make_operand(t, t.size(0), t.size(1), t.stride(0), t.stride(1), 0);
  if (o.p) return o;
  Tensor c = t.contiguous();
  return make_operand(c, c.size(0), c.size(1), c.stride(0), c.stride(1), 0);
}

// Batch `b` of a 3-D tensor; `t` must already be known to give operands (see operand_3d).
Operand operand_batch(const Tensor& t, int64_t b) {
  return make_operand(t, t.size(1), t.size(2), t.stride(1), t.stride(2), b * t.stride(0));
}

Tensor operand_3d(const Tensor& t) {
  if (t.numel() == 0 || make_operand(t, t.size(1), t.size(2), t.stride(1), t.stride(2), 0).p) return t;
  return t.contiguous();
}

// Runs f(b) for every batch: over threads when there are enough small problems (each sgemm then
// runs on one thread), else serially with sgemm threading itself.
// On a GPU the batches go one after another on the device's stream (one cuBLAS handle per device).
template <class F>
void for_batches(int64_t batch, double flops_each, bool on_gpu, F&& f) {
  const bool par = !on_gpu && batch > 1 && omp_get_max_threads() > 1 && flops_each < 2e7 && !omp_in_parallel();
#pragma omp parallel for schedule(dynamic, 1) if (par)
  for (int64_t b = 0; b < batch; ++b) f(b);
}

}  // namespace

Variable matmul(const Variable& a, const Variable& b) {
  const Tensor& A = a.data();
  const Tensor& B = b.data();
  HWNAS_CHECK(A.dtype() == DType::f32 && B.dtype() == DType::f32, "matmul: f32 operands expected, got {} and {}",
              A.str(), B.str());
  HWNAS_CHECK(A.device() == B.device(), "matmul: operands on different devices ({} and {})", A.device().str(),
              B.device().str());
  const Device dev = A.device();
  const DType math = autocast_dtype();  // the backward keeps the forward's precision
  if (A.dim() == 2 && B.dim() == 2) {
    const int64_t M = A.size(0), K = A.size(1), N = B.size(1);
    HWNAS_CHECK(B.size(0) == K, "matmul: inner dimensions differ: {} x {} (expected [M, K] x [K, N])",
                shape_str(A.shape()), shape_str(B.shape()));
    Operand oa = operand_2d(A), ob = operand_2d(B);
    Tensor y = Tensor::empty({M, N}, DType::f32, MemoryFormat::contiguous, dev);
    sgemm_on(dev, oa.trans, ob.trans, M, N, K, 1.f, oa.p, oa.ld, ob.p, ob.ld, 0.f, y.device_data<float>(), N, math);
    if (!needs_grad({a, b})) return make_result(y, "matmul", {a, b}, nullptr);
    const bool ga = a.requires_grad(), gb = b.requires_grad();
    // dA = gy * op(B)^T needs B; dB = op(A)^T * gy needs A.
    Operand sa = gb ? oa : Operand{}, sb = ga ? ob : Operand{};
    return make_result(y, "matmul", {a, b}, [sa, sb, M, N, K, dev, math](const Tensor& gy_) -> std::vector<Tensor> {
      Tensor gy = gy_.contiguous();
      Tensor gA, gB;
      if (sb.p) {
        gA = Tensor::empty({M, K}, DType::f32, MemoryFormat::contiguous, dev);
        sgemm_on(dev, false, !sb.trans, M, K, N, 1.f, gy.device_data<float>(), N, sb.p, sb.ld, 0.f, gA.device_data<float>(), K, math);
      }
      if (sa.p) {
        gB = Tensor::empty({K, N}, DType::f32, MemoryFormat::contiguous, dev);
        sgemm_on(dev, !sa.trans, false, K, N, M, 1.f, sa.p, sa.ld, gy.device_data<float>(), N, 0.f, gB.device_data<float>(), N, math);
      }
      return {gA, gB};
    });
  }
  HWNAS_CHECK(A.dim() == 3 && B.dim() == 3 && A.size(0) == B.size(0) && A.size(2) == B.size(1),
              "matmul: expected [M, K] x [K, N] or [B, M, K] x [B, K, N], got {} x {}", shape_str(A.shape()),
              shape_str(B.shape()));
  const int64_t Bn = A.size(0), M = A.size(1), K = A.size(2), N = B.size(2);
  Tensor A3 = operand_3d(A), B3 = operand_3d(B);
  Tensor y = Tensor::empty({Bn, M, N}, DType::f32, MemoryFormat::contiguous, dev);
  float* py = y.device_data<float>();
  const double fl = 2.0 * M * N * K;
  for_batches(Bn, fl, dev.type != DeviceType::cpu, [&](int64_t i) {
    Operand oa = operand_batch(A3, i), ob = operand_batch(B3, i);
    sgemm_on(dev, oa.trans, ob.trans, M, N, K, 1.f, oa.p, oa.ld, ob.p, ob.ld, 0.f, py + i * M * N, N, math);
  });
  if (!needs_grad({a, b})) return make_result(y, "matmul", {a, b}, nullptr);
  const bool ga = a.requires_grad(), gb = b.requires_grad();
  Tensor sa = gb ? A3 : Tensor(), sb = ga ? B3 : Tensor();
  return make_result(y, "matmul", {a, b}, [sa, sb, Bn, M, N, K, fl, dev, math](const Tensor& gy_) -> std::vector<Tensor> {
    Tensor gy = gy_.contiguous();
    const float* pg = gy.device_data<float>();
    Tensor gA, gB;
    if (sb.defined()) {
      gA = Tensor::empty({Bn, M, K}, DType::f32, MemoryFormat::contiguous, dev);
      float* p = gA.device_data<float>();
      for_batches(Bn, fl, dev.type != DeviceType::cpu, [&](int64_t i) {
        Operand ob = operand_batch(sb, i);
        sgemm_on(dev, false, !ob.trans, M, K, N, 1.f, pg + i * M * N, N, ob.p, ob.ld, 0.f, p + i * M * K, K, math);
      });
    }
    if (sa.defined()) {
      gB = Tensor::empty({Bn, K, N}, DType::f32, MemoryFormat::contiguous, dev);
      float* p = gB.device_data<float>();
      for_batches(Bn, fl, dev.type != DeviceType::cpu, [&](int64_t i) {
        Operand oa = operand_batch(sa, i);
        sgemm_on(dev, !oa.trans, false, K, N, M, 1.f, oa.p, oa.ld, pg + i * M * N, N, 0.f, p + i * K * N, N, math);
      });
    }
    return {gA, gB};
  });
}

Variable linear(const Variable& x, const Variable& w, const Variable& b) {
  const Tensor& X = x.data();
  const Tensor& W = w.data();
  HWNAS_CHECK(X.dim() >= 1 && W.dim() == 2 && X.size(-1) == W.size(1),
              "linear: expected x [..., in] and W [out, in] with matching in, got x {} and W {}", shape_str(X.shape()),
              shape_str(W.shape()));
  HWNAS_CHECK(X.device() == W.device() && (!b.defined() || b.data().device() == X.device()),
              "linear: x, W and bias on different devices (x on {}, W on {})", X.device().str(), W.device().str());
  const Device dev = X.device();
  const DType math = autocast_dtype();
  const int64_t in = W.size(1), out = W.size(0);
  HWNAS_CHECK(!b.defined() || (b.data().dim() == 1 && b.data().size(0) == out),
              "linear: bias must be [{}] for W {}, got {}", out, shape_str(W.shape()), shape_str(b.data().shape()));
  Shape out_shape = X.shape();
  out_shape.back() = out;
  const int64_t rows = X.numel() / std::max<int64_t>(in, 1);
  Tensor X2 = X.dim() == 2 ? X : X.reshape({rows, in});
  Operand ox = operand_2d(X2), ow = operand_2d(W);
  Tensor y = Tensor::empty({rows, out}, DType::f32, MemoryFormat::contiguous, dev);
  float* py = y.device_data<float>();
  float beta = 0.f;
  if (b.defined() && rows > 0) {
    // The GEMM accumulates onto rows pre-filled with the bias: one pass over y instead of two.
    if (dev.is_cpu()) {
      Tensor bc = b.data().contiguous();
      const float* pb = bc.data<float>();
#pragma omp parallel for if (rows * out > (1 << 16))
      for (int64_t i = 0; i < rows; ++i) std::copy(pb, pb + out, py + i * out);
    } else {
      y.copy_(b.data().unsqueeze(0).expand({rows, out}));
    }
    beta = 1.f;
  }
  sgemm_on(dev, ox.trans, !ow.trans, rows, out, in, 1.f, ox.p, ox.ld, ow.p, ow.ld, beta, py, out, math);
  y = y.view(out_shape);
  if (!needs_grad({x, w, b})) return make_result(y, "linear", {x, w, b}, nullptr);
  const bool gx = x.requires_grad(), gw = w.requires_grad(), gb = b.defined() && b.requires_grad();
  Operand sx = gw ? ox : Operand{}, sw = gx ? ow : Operand{};
  Shape x_shape = X.shape();
  return make_result(y, "linear", {x, w, b},
                     [sx, sw, gb, rows, in, out, x_shape, dev, math](const Tensor& gy_) -> std::vector<Tensor> {
                       Tensor gy = gy_.contiguous();
                       const float* pg = gy.device_data<float>();
                       Tensor gX, gW, gB;
                       if (sw.p) {
                         gX = Tensor::empty({rows, in}, DType::f32, MemoryFormat::contiguous, dev);
                         sgemm_on(dev, false, sw.trans, rows, in, out, 1.f, pg, out, sw.p, sw.ld, 0.f, gX.device_data<float>(), in, math);
                         gX = gX.view(x_shape);
                       }
                       if (sx.p) {
                         gW = Tensor::empty({out, in}, DType::f32, MemoryFormat::contiguous, dev);
                         sgemm_on(dev, true, sx.trans, out, in, rows, 1.f, pg, out, sx.p, sx.ld, 0.f, gW.device_data<float>(), in, math);
                       }
                       if (gb) {
                         gB = Tensor::empty({out}, DType::f32, MemoryFormat::contiguous, dev);
                         sum_rows_on(dev, pg, rows, out, out, gB.device_data<float>());
                       }
                       return {gX, gW, gB};
                     });
}

}  // namespace hwnas
