#include "ops/channel_mask.h"

#include <omp.h>

#include <algorithm>
#include <memory>

#include "ops/bypass.h"
#include "ops/elementwise.h"
#include "ops/kernel_util.h"
#include "ops/simd.h"

namespace hwnas {

namespace {

// inner == 1 (channels_last or [N, C]): rows of C floats. Rows are handled in tiles of about
// kTileFloats floats; each tile's per-channel sums are added up in tile order afterwards, so
// the gradient of g does not depend on the thread count.
constexpr int64_t kTileFloats = 8192;

HWNAS_MULTIVERSION void scale_rows(const float* __restrict x, const float* __restrict m, float* __restrict o,
                                   int64_t rows, int64_t c) {
  for (int64_t r = 0; r < rows; ++r) {
#pragma omp simd
    for (int64_t j = 0; j < c; ++j) o[r * c + j] = x[r * c + j] * m[j];
  }
}

// gx = gy * m (when gx is given) and acc[c] += sum over the rows of gy * x (when x is given).
HWNAS_MULTIVERSION void backward_rows(const float* __restrict gy, const float* __restrict x,
                                      const float* __restrict m, float* __restrict gx, float* __restrict acc,
                                      int64_t rows, int64_t c) {
  for (int64_t r = 0; r < rows; ++r) {
    if (gx) {
#pragma omp simd
      for (int64_t j = 0; j < c; ++j) gx[r * c + j] = gy[r * c + j] * m[j];
    }
    if (x) {
#pragma omp simd
      for (int64_t j = 0; j < c; ++j) acc[j] += gy[r * c + j] * x[r * c + j];
    }
  }
}

HWNAS_MULTIVERSION void scale_plane(const float* __restrict x, float m, float* __restrict o, int64_t n) {
#pragma omp simd
  for (int64_t i = 0; i < n; ++i) o[i] = x[i] * m;
}

HWNAS_MULTIVERSION float dot(const float* __restrict a, const float* __restrict b, int64_t n) {
  float s = 0.f;
#pragma omp simd reduction(+ : s)
  for (int64_t i = 0; i < n; ++i) s += a[i] * b[i];
  return s;
}

void check_mask(const Variable& x, const Variable& g, const std::vector<int64_t>& widths) {
  HWNAS_CHECK(x.defined() && x.data().dtype() == DType::f32 && x.dim() >= 2,
              "channel_mask: x must be an f32 tensor [N, C, ...], got {}", x.defined() ? x.data().str() : "undefined");
  const int64_t c = x.size(1);
  HWNAS_CHECK(!widths.empty(), "channel_mask: needs at least one candidate width (x {})", shape_str(x.shape()));
  for (size_t i = 0; i < widths.size(); ++i) {
    HWNAS_CHECK(widths[i] >= 1 && widths[i] <= c, "channel_mask: width {} (candidate {}) out of range [1, {}] for x {}",
                widths[i], i, c, shape_str(x.shape()));
    HWNAS_CHECK(i == 0 || widths[i] >= widths[i - 1], "channel_mask: widths {} must be sorted ascending",
                shape_str(widths));
  }
  HWNAS_CHECK(g.defined() && g.data().dtype() == DType::f32 && g.dim() == 1 &&
                  g.size(0) == static_cast<int64_t>(widths.size()),
              "channel_mask: g is {}, expected f32 [{}] (one weight per width in {})",
              g.defined() ? g.data().str() : "undefined", widths.size(), shape_str(widths));
}

// g's gradient from the per-channel sums s[c] of gy * x: prefix sums up to each width.
Tensor mask_weight_grad(const std::vector<double>& s, const std::vector<int64_t>& widths) {
  std::vector<float> ggv(widths.size());
  double prefix = 0.0;
  int64_t done = 0;
  for (size_t i = 0; i < widths.size(); ++i) {
    for (; done < widths[i]; ++done) prefix += s[done];
    ggv[i] = static_cast<float>(prefix);
  }
  return Tensor::from_vector(ggv, {static_cast<int64_t>(widths.size())});
}

// The composed path for a GPU x: a broadcast multiply by the mask, and for g's gradient the
// per-channel sums of gy * x by the device reduction (a fused kernel is issue 7's remaining work).
Variable channel_mask_composed(const Variable& x, const Variable& g, const std::vector<int64_t>& widths,
                               const Tensor& xd, const std::vector<float>& m) {
  Shape mshape(static_cast<size_t>(xd.dim()), 1);
  mshape[1] = xd.size(1);
  Tensor mask = Tensor::from_vector(m, {xd.size(1)}).to(xd.device()).view(mshape);
  Tensor out = mul_tensors(xd, mask);
  if (!needs_grad({x, g})) return make_result(out, "channel_mask", {x, g}, nullptr);
  const bool want_x = x.requires_grad(), want_g = g.requires_grad();
  Tensor saved_x = want_g ? xd : Tensor();
  const Device g_dev = g.data().device();
  return make_result(out, "channel_mask", {x, g}, [=](const Tensor& gy) -> std::vector<Tensor> {
    Tensor gx = want_x ? mul_tensors(gy, mask) : Tensor();
    Tensor gg;
    if (want_g) {
      const std::vector<float> sf = sum_to_shape(mul_tensors(gy, saved_x), mshape).to_vector();
      gg = mask_weight_grad(std::vector<double>(sf.begin(), sf.end()), widths).to(g_dev);
    }
    return {gx, gg};
  });
}

}  // namespace

Variable channel_mask(const Variable& x, const Variable& g, const std::vector<int64_t>& widths) {
  check_mask(x, g, widths);
  const MemoryFormat fmt = channel_format(x.data());
  const ChannelBlocks b = channel_blocks(x.shape(), fmt);
  const int64_t c = b.channels;
  const std::vector<float> gv = g.data().to_vector();
  // m[c] is the suffix sum of the weights of the widths that cover channel c.
  auto m = std::make_shared<std::vector<float>>(c, 0.f);
  for (size_t i = 0; i < widths.size(); ++i)
    for (int64_t j = 0; j < widths[i]; ++j) (*m)[j] += gv[i];
  Tensor xd = x.data().contiguous(fmt);
  if (xd.is_cuda()) return channel_mask_composed(x, g, widths, xd, *m);
  Tensor out = Tensor::empty(x.shape(), DType::f32, fmt);
  const int64_t n = xd.numel();
  {
    const float* px = xd.data<float>();
    const float* pm = m->data();
    float* po = out.data<float>();
    if (b.inner == 1) {
      const int64_t tile = std::max<int64_t>(1, kTileFloats / c), tiles = (b.outer + tile - 1) / tile;
#pragma omp parallel for if (n > kernel::kParallelGrain)
      for (int64_t t = 0; t < tiles; ++t) {
        const int64_t r0 = t * tile, rows = std::min(tile, b.outer - r0);
        scale_rows(px + r0 * c, pm, po + r0 * c, rows, c);
      }
    } else {
#pragma omp parallel for if (n > kernel::kParallelGrain)
      for (int64_t p = 0; p < b.outer * c; ++p) scale_plane(px + p * b.inner, pm[p % c], po + p * b.inner, b.inner);
    }
  }
  if (!needs_grad({x, g})) return make_result(out, "channel_mask", {x, g}, nullptr);
  const bool want_x = x.requires_grad(), want_g = g.requires_grad();
  Tensor saved_x = want_g ? xd : Tensor();  // x is needed only for g's gradient
  return make_result(out, "channel_mask", {x, g}, [=](const Tensor& gy_in) -> std::vector<Tensor> {
    Tensor gy = gy_in.contiguous(fmt);
    Tensor gx = want_x ? Tensor::empty(gy.shape(), DType::f32, fmt) : Tensor();
    const float* py = gy.data<float>();
    const float* px = want_g ? saved_x.data<float>() : nullptr;
    const float* pm = m->data();
    float* pgx = want_x ? gx.data<float>() : nullptr;
    std::vector<double> s(c, 0.0);  // per-channel sum of gy * x
    if (b.inner == 1) {
      const int64_t tile = std::max<int64_t>(1, kTileFloats / c), tiles = (b.outer + tile - 1) / tile;
      std::vector<float> partial(want_g ? tiles * c : 0, 0.f);
#pragma omp parallel for if (n > kernel::kParallelGrain)
      for (int64_t t = 0; t < tiles; ++t) {
        const int64_t r0 = t * tile, rows = std::min(tile, b.outer - r0);
        backward_rows(py + r0 * c, px ? px + r0 * c : nullptr, pm, pgx ? pgx + r0 * c : nullptr,
                      want_g ? partial.data() + t * c : nullptr, rows, c);
      }
      for (int64_t t = 0; t < tiles && want_g; ++t)
        for (int64_t j = 0; j < c; ++j) s[j] += partial[t * c + j];
    } else {
      // One channel per iteration, all of its planes: the sums need no reduction across threads.
#pragma omp parallel for if (n > kernel::kParallelGrain)
      for (int64_t j = 0; j < c; ++j) {
        double acc = 0.0;
        for (int64_t o = 0; o < b.outer; ++o) {
          const int64_t off = (o * c + j) * b.inner;
          if (pgx) scale_plane(py + off, pm[j], pgx + off, b.inner);
          if (px) acc += dot(py + off, px + off, b.inner);
        }
        s[j] = acc;
      }
    }
    Tensor gg;
    if (want_g) gg = mask_weight_grad(s, widths);
    return {gx, gg};
  });
}

}  // namespace hwnas
