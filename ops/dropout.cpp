#include "ops/dropout.h"

#include "cuda/dropout.h"
#include "ops/kernel_util.h"
#include "ops/simd.h"

#pragma GCC optimize("no-trapping-math")  // see ops/kernel_util.h

namespace hwnas {

namespace {

// y = keeps(i) ? x * scale : 0 over elements [b, e) of the call's memory order (cuda/dropout.h:
// the same bits as the CUDA kernel).
HWNAS_MULTIVERSION void apply_mask(const cuda::DropoutArgs& a, const float* x, float* y, int64_t b, int64_t e) {
#pragma omp simd
  for (int64_t i = b; i < e; ++i) y[i] = cuda::dropout_at(a, x[i], static_cast<uint64_t>(i));
}

// Forward and backward alike: the mask is recomputed from the seed, in x's dense memory order.
void apply(const cuda::DropoutArgs& a, const Tensor& x, Tensor& y) {
  const int64_t n = x.numel();
  if (x.is_cuda()) {
    cuda::dropout_apply(a, x.device_data<float>(), y.device_data<float>(), n, x.device().index);
    return;
  }
  const float* px = x.data<float>();
  float* py = y.data<float>();
  kernel::parallel_chunks(n, [&](int64_t b, int64_t e) { apply_mask(a, px, py, b, e); });
}

}  // namespace

Variable dropout(const Variable& x, float p, bool training, Generator& gen) {
  const Tensor& xt = x.data();
  HWNAS_CHECK(xt.defined() && xt.dtype() == DType::f32, "dropout: expected an f32 tensor, got {}",
              xt.defined() ? xt.str() : "undefined");
  HWNAS_CHECK(p >= 0.f && p <= 1.f, "dropout: probability p must be in [0, 1], got {}", p);
  if (!training || p == 0.f) return x;
  Tensor xd = xt.is_dense() ? xt : xt.contiguous();
  cuda::DropoutArgs a;
  a.seed = gen.next_u64();  // one draw per call; the elements' bits come from the hash
  a.threshold = static_cast<uint64_t>(static_cast<double>(p) * 4294967296.0);
  // p == 1 drops everything; the scale is then never applied (select, not multiply by inf).
  a.scale = p < 1.f ? 1.f / (1.f - p) : 0.f;
  Tensor y = Tensor::empty_like(xd);
  apply(a, xd, y);
  if (!needs_grad({x})) return make_result(y, "dropout", {x}, nullptr);
  // The backward needs x's layout and the seed, not x's data or a mask.
  const Shape shape = xd.shape(), strides = xd.strides();
  return make_result(y, "dropout", {x}, [a, shape, strides](const Tensor& gy_in) -> std::vector<Tensor> {
    const int64_t n = shape_numel(shape);
    const Device dev = gy_in.device();
    Tensor gx = Tensor::empty({n}, DType::f32, MemoryFormat::contiguous, dev).as_strided(shape, strides, 0);
    Tensor gy = gy_in;
    if (!(gy.strides() == strides && gy.is_dense())) {
      gy = Tensor::empty({n}, DType::f32, MemoryFormat::contiguous, dev).as_strided(shape, strides, 0);
      gy.copy_(gy_in);
    }
    apply(a, gy, gx);
    return {gx};
  });
}

}  // namespace hwnas
