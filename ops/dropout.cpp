#include "ops/dropout.h"

#include <memory>
#include <vector>

#include "ops/kernel_util.h"
#include "ops/simd.h"

#pragma GCC optimize("no-trapping-math")  // see ops/kernel_util.h

namespace hwnas {

namespace {

// The mask is kept as one byte per element (a quarter of a float mask) and the scale applied
// on the fly, in both directions.
HWNAS_MULTIVERSION void apply_mask(const float* x, const uint8_t* m, float* y, float scale, int64_t n) {
#pragma omp simd
  for (int64_t i = 0; i < n; ++i) y[i] = m[i] ? x[i] * scale : 0.f;
}

// Each 64-bit draw decides two elements (32 random bits each), in memory order, so the same
// seed gives the same mask for the same shape and layout.
std::vector<uint8_t> make_mask(int64_t n, float p, Generator& gen) {
  std::vector<uint8_t> m(static_cast<size_t>(n));
  const uint64_t thresh = static_cast<uint64_t>(static_cast<double>(p) * 4294967296.0);
  int64_t i = 0;
  for (; i + 1 < n; i += 2) {
    const uint64_t r = gen.next_u64();
    m[i] = (r & 0xffffffffu) >= thresh;
    m[i + 1] = (r >> 32) >= thresh;
  }
  if (i < n) m[i] = (gen.next_u64() & 0xffffffffu) >= thresh;
  return m;
}

}  // namespace

Variable dropout(const Variable& x, float p, bool training, Generator& gen) {
  const Tensor& xt = x.data();
  HWNAS_CHECK(xt.defined() && xt.dtype() == DType::f32, "dropout: expected an f32 tensor, got {}",
              xt.defined() ? xt.str() : "undefined");
  HWNAS_CHECK(p >= 0.f && p <= 1.f, "dropout: probability p must be in [0, 1], got {}", p);
  if (!training || p == 0.f) return x;
  Tensor xd = xt.is_dense() ? xt : xt.contiguous();
  const int64_t n = xd.numel();
  auto mask = std::make_shared<std::vector<uint8_t>>(make_mask(n, p, gen));
  // p == 1 drops everything; the scale is then never applied (select, not multiply by inf).
  const float scale = p < 1.f ? 1.f / (1.f - p) : 0.f;
  Tensor y = Tensor::empty_like(xd);
  {
    const float* px = xd.data<float>();
    float* py = y.data<float>();
    const uint8_t* pm = mask->data();
    kernel::parallel_chunks(n, [&](int64_t b, int64_t e) { apply_mask(px + b, pm + b, py + b, scale, e - b); });
  }
  if (!needs_grad({x})) return make_result(y, "dropout", {x}, nullptr);
  // The backward needs x's layout, not its data.
  const Shape shape = xd.shape(), strides = xd.strides();
  return make_result(y, "dropout", {x}, [mask, scale, shape, strides, n](const Tensor& gy_in) -> std::vector<Tensor> {
    Tensor gx = Tensor::empty({n}).as_strided(shape, strides, 0);
    Tensor gy = gy_in;
    if (!(gy.strides() == strides && gy.is_dense())) {
      gy = Tensor::empty({n}).as_strided(shape, strides, 0);
      gy.copy_(gy_in);
    }
    const float* pg = gy.data<float>();
    float* po = gx.data<float>();
    const uint8_t* pm = mask->data();
    kernel::parallel_chunks(n, [&](int64_t b, int64_t e) { apply_mask(pg + b, pm + b, po + b, scale, e - b); });
    return {gx};
  });
}

}  // namespace hwnas
