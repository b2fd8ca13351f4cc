#include "ops/split_attention.h"

#include <algorithm>
#include <cmath>
#include <memory>

#include "cuda/fused_supernet.h"
#include "ops/elementwise.h"
#include "ops/fused_kernels.h"
#include "ops/kernel_util.h"
#include "ops/pool.h"
#include "ops/shape_ops.h"
#include "ops/softmax.h"
#include "ops/split_attention_args.h"
#include "ops/simd.h"

#pragma GCC optimize("no-trapping-math")  // see ops/kernel_util.h

namespace hwnas {

namespace {

// A dense [N, C, H, W] tensor, either channels_last (rows of C per pixel) or contiguous (planes
// of H*W per channel). The attention weights are [r][N*C] either way.
struct Geom {
  int64_t n, c, hw, r;
  bool cl;
  int64_t numel() const { return n * c * hw; }
};

// Channels per backward task in channels_last: the per-(n, c) sums over pixels stay in L1 while
// a block of rows streams past, and N * C / kBlockC tasks give the threads work even for N = 1.
constexpr int64_t kBlockC = 64;

// ---- forward -------------------------------------------------------------------------------

HWNAS_MULTIVERSION void combine_rows(const float* const* s, const float* const* a, float* out, const Geom& g,
                                     int64_t row0, int64_t row1) {
  const int64_t c = g.c;
  for (int64_t row = row0; row < row1; ++row) {
    const int64_t n = row / g.hw;
    float* __restrict o = out + row * c;
    {
      const float* __restrict am = a[0] + n * c;
      const float* __restrict sm = s[0] + row * c;
#pragma omp simd
      for (int64_t i = 0; i < c; ++i) o[i] = am[i] * sm[i];
    }
    for (int64_t m = 1; m < g.r; ++m) {
      const float* __restrict am = a[m] + n * c;
      const float* __restrict sm = s[m] + row * c;
#pragma omp simd
      for (int64_t i = 0; i < c; ++i) o[i] += am[i] * sm[i];
    }
  }
}

HWNAS_MULTIVERSION void combine_planes(const float* const* s, const float* const* a, float* out, const Geom& g,
                                       int64_t p0, int64_t p1) {
  const int64_t hw = g.hw;
  for (int64_t p = p0; p < p1; ++p) {
    float* __restrict o = out + p * hw;
    {
      const float am = a[0][p];
      const float* __restrict sm = s[0] + p * hw;
#pragma omp simd
      for (int64_t i = 0; i < hw; ++i) o[i] = am * sm[i];
    }
    for (int64_t m = 1; m < g.r; ++m) {
      const float am = a[m][p];
      const float* __restrict sm = s[m] + p * hw;
#pragma omp simd
      for (int64_t i = 0; i < hw; ++i) o[i] += am * sm[i];
    }
  }
}

// ---- backward ------------------------------------------------------------------------------
// One pass over gy: d split_m = a_m * gy (where ds[m] is set) and dot_m[n, c] = sum_hw gy *
// split_m (where dot[m] is set), for channels [c0, c0 + len) of sample n.

HWNAS_MULTIVERSION void backward_block_cl(const float* gy, const float* const* s, const float* const* a,
                                          float* const* ds, float* const* dot, const Geom& g, int64_t n,
                                          int64_t c0, int64_t len) {
  const int64_t c = g.c;
  for (int64_t p = 0; p < g.hw; ++p) {
    const int64_t off = (n * g.hw + p) * c + c0;
    const float* __restrict gr = gy + off;
    for (int64_t m = 0; m < g.r; ++m) {
      if (ds[m]) {
        const float* __restrict am = a[m] + n * c + c0;
        float* __restrict d = ds[m] + off;
#pragma omp simd
        for (int64_t i = 0; i < len; ++i) d[i] = am[i] * gr[i];
      }
      if (dot[m]) {
        const float* __restrict sm = s[m] + off;
        float* __restrict acc = dot[m] + n * c + c0;
#pragma omp simd
        for (int64_t i = 0; i < len; ++i) acc[i] += gr[i] * sm[i];
      }
    }
  }
}

HWNAS_MULTIVERSION void backward_plane(const float* gy, const float* const* s, const float* const* a,
                                       float* const* ds, float* const* dot, const Geom& g, int64_t p) {
  const int64_t hw = g.hw;
  const float* __restrict gp = gy + p * hw;
  for (int64_t m = 0; m < g.r; ++m) {
    if (ds[m]) {
      const float am = a[m][p];
      float* __restrict d = ds[m] + p * hw;
#pragma omp simd
      for (int64_t i = 0; i < hw; ++i) d[i] = am * gp[i];
    }
    if (dot[m]) {
      const float* __restrict sm = s[m] + p * hw;
      float acc = 0.f;
#pragma omp simd reduction(+ : acc)
      for (int64_t i = 0; i < hw; ++i) acc += gp[i] * sm[i];
      dot[m][p] = acc;
    }
  }
}

// Splits [0, count) over threads when `work` elements make it worth a fork.
template <class F>
void parallel_range(int64_t count, int64_t work, F&& f) {
  const int64_t per = std::max<int64_t>(1, work / std::max<int64_t>(1, count));
  kernel::parallel_chunks(count, f, std::max<int64_t>(1, kernel::kParallelGrain / per), 1);
}

struct Saved {
  Geom geom;
  MemoryFormat fmt;
  Shape shape;
  std::vector<float> a;       // [r][N*C] softmax weights
  std::vector<Tensor> s;      // splits in the kernel layout; only when some logit needs a gradient
  std::vector<Shape> logit_shapes;
  std::vector<bool> need_split, need_logit;
};

std::vector<Tensor> backward(const Saved& sv, const Tensor& gy_in) {
  const Geom& g = sv.geom;
  const int64_t r = g.r, nc = g.n * g.c;
  Tensor gy = gy_in.contiguous(sv.fmt);
  std::vector<Tensor> grads(2 * r);
  std::vector<const float*> sp(r, nullptr), ap(r);
  std::vector<float*> dsp(r, nullptr), dotp(r, nullptr);
  bool any_logit = false;
  for (int64_t m = 0; m < r; ++m) any_logit = any_logit || sv.need_logit[m];
  // The softmax Jacobian mixes all splits' dot products, so all are needed for any logit.
  std::vector<float> dots(any_logit ? r * nc : 0, 0.f);
  for (int64_t m = 0; m < r; ++m) {
    ap[m] = sv.a.data() + m * nc;
    if (sv.need_split[m]) {
      grads[m] = Tensor::empty(sv.shape, DType::f32, sv.fmt);
      dsp[m] = grads[m].data<float>();
    }
    if (any_logit) {
      sp[m] = sv.s[m].data<float>();
      dotp[m] = dots.data() + m * nc;
    }
  }
  const float* pg = gy.data<float>();
  if (g.cl) {
    const int64_t blocks = (g.c + kBlockC - 1) / kBlockC;
    parallel_range(g.n * blocks, g.numel() * r, [&](int64_t t0, int64_t t1) {
      for (int64_t t = t0; t < t1; ++t) {
        const int64_t n = t / blocks, c0 = (t % blocks) * kBlockC;
        backward_block_cl(pg, sp.data(), ap.data(), dsp.data(), dotp.data(), g, n, c0, std::min(kBlockC, g.c - c0));
      }
    });
  } else {
    parallel_range(nc, g.numel() * r, [&](int64_t p0, int64_t p1) {
      for (int64_t p = p0; p < p1; ++p) backward_plane(pg, sp.data(), ap.data(), dsp.data(), dotp.data(), g, p);
    });
  }
  if (any_logit) {
    // d logit_m = a_m * (dot_m - sum_j a_j dot_j)
    std::vector<float> mix(nc, 0.f);
    for (int64_t m = 0; m < r; ++m)
      for (int64_t i = 0; i < nc; ++i) mix[i] += ap[m][i] * dotp[m][i];
    for (int64_t m = 0; m < r; ++m) {
      if (!sv.need_logit[m]) continue;
      Tensor dl = Tensor::empty(sv.logit_shapes[m]);
      float* pd = dl.data<float>();
      for (int64_t i = 0; i < nc; ++i) pd[i] = ap[m][i] * (dotp[m][i] - mix[i]);
      grads[r + m] = dl;
    }
  }
  return grads;
}

// r >= 1 defined f32 [N, C, H, W] splits of one shape, on one device.
void check_splits(const std::vector<Variable>& splits, const char* op) {
  if (splits.empty()) fail("{}: expected at least one split, got an empty list", op);
  for (size_t m = 0; m < splits.size(); ++m)
    if (!splits[m].defined()) fail("{}: split {} is undefined", op, m);
  const Tensor& s0 = splits[0].data();
  if (s0.dtype() != DType::f32 || s0.dim() != 4)
    fail("{}: splits must be f32 [N, C, H, W], got split 0 {}", op, s0.str());
  for (size_t m = 1; m < splits.size(); ++m) {
    const Tensor& s = splits[m].data();
    if (s.dtype() != DType::f32 || s.shape() != s0.shape())
      fail("{}: split {} is {}, expected f32{} like split 0", op, m, s.str(), shape_str(s0.shape()));
    if (s.device() != s0.device()) fail("{}: splits on {} and {}", op, s0.device().str(), s.device().str());
  }
}

void check_args(const std::vector<Variable>& splits, const std::vector<Variable>& logits) {
  check_splits(splits, "split_attention_combine");
  if (logits.size() != splits.size())
    fail("split_attention_combine: expected one logits tensor per split ({} splits), got {}", splits.size(),
         logits.size());
  for (size_t m = 0; m < logits.size(); ++m)
    if (!logits[m].defined()) fail("split_attention_combine: logits {} is undefined", m);
  const Shape& shape = splits[0].data().shape();
  const Shape flat = {shape[0], shape[1]}, pooled = {shape[0], shape[1], 1, 1};
  for (size_t m = 0; m < logits.size(); ++m) {
    const Tensor& l = logits[m].data();
    if (l.dtype() != DType::f32 || (l.shape() != flat && l.shape() != pooled))
      fail("split_attention_combine: logits {} is {}, expected f32{} or f32{} for splits {}", m, l.str(),
           shape_str(flat), shape_str(pooled), shape_str(shape));
  }
}

}  // namespace

namespace {

// The composed path for GPU tensors, from device-aware ops whose autograd gives the gradients:
// the logits stacked [r, N, C, 1, 1], a softmax over the splits, and the weighted sum. It
// materializes what the fused ops avoid (the stacked logits, r scaled copies); it is the
// reference the fused kernel is tested against, and the path beyond cuda::kMaxRadix splits.
Variable split_attention_composed(const std::vector<Variable>& splits, const std::vector<Variable>& logits) {
  const int64_t n = splits[0].size(0), c = splits[0].size(1), r = static_cast<int64_t>(splits.size());
  std::vector<Variable> stacked;
  for (const auto& l : logits) stacked.push_back(reshape(l, {1, n, c, 1, 1}));
  Variable a = softmax(concat(stacked, 0), 0);
  Variable out;
  for (int64_t m = 0; m < r; ++m) {
    Variable term = mul(splits[static_cast<size_t>(m)], reshape(slice(a, 0, m, m + 1), {n, c, 1, 1}));
    out = m == 0 ? term : add(out, term);
  }
  return out;
}

std::vector<Tensor> dense_splits(const std::vector<Variable>& splits, MemoryFormat fmt) {
  std::vector<Tensor> sc;
  for (const Variable& v : splits) sc.push_back(v.data().contiguous(fmt));
  return sc;
}

// The fused GPU path: radix softmax and weighted sum in one launch; split and logit gradients
// in one launch (cuda/fused_supernet.h), with the attention weights recomputed from the logits
// instead of stored.
Variable split_attention_fused(const std::vector<Variable>& splits, const std::vector<Variable>& logits) {
  const Tensor& s0 = splits[0].data();
  const Device dev = s0.device();
  const Shape shape = s0.shape();
  const int r = static_cast<int>(splits.size());
  const MemoryFormat fmt = s0.is_channels_last() ? MemoryFormat::channels_last : MemoryFormat::contiguous;
  auto sc = std::make_shared<std::vector<Tensor>>(dense_splits(splits, fmt));
  auto lc = std::make_shared<std::vector<Tensor>>();
  cuda::SplitAttentionArgs a = split_attention_args(*sc, fmt);
  for (int m = 0; m < r; ++m) {
    if (logits[m].data().device() != dev)
      fail("split_attention_combine: logits {} on {} but the splits on {}", m, logits[m].data().device().str(),
           dev.str());
    lc->push_back(logits[m].data().contiguous());
    a.logit[m] = lc->back().device_data<float>();
  }
  Tensor out = Tensor::empty(shape, DType::f32, fmt, dev);
  a.out = out.device_data<float>();
  cuda::split_attention_forward(a, dev.index);
  std::vector<Variable> inputs(splits);
  inputs.insert(inputs.end(), logits.begin(), logits.end());
  if (!needs_grad(inputs)) return Variable(out, false);
  a.out = nullptr;
  std::vector<bool> need;
  std::vector<Shape> logit_shapes;
  for (int m = 0; m < r; ++m) need.push_back(splits[m].requires_grad());
  for (int m = 0; m < r; ++m) need.push_back(logits[m].requires_grad());
  for (int m = 0; m < r; ++m) logit_shapes.push_back(logits[m].data().shape());
  return make_result(out, "split_attention_combine", std::move(inputs),
                     [=](const Tensor& gy_in) -> std::vector<Tensor> {
                       (void)sc;  // keeps the splits and logits the captured pointers read alive
                       (void)lc;
                       Tensor gy = gy_in.to(dev).contiguous(fmt);
                       cuda::SplitAttentionArgs b = a;
                       b.gy = gy.device_data<float>();
                       std::vector<Tensor> grads(2 * r);
                       for (int m = 0; m < r; ++m) {
                         if (need[m]) {
                           grads[m] = Tensor::empty(shape, DType::f32, fmt, dev);
                           b.ds[m] = grads[m].device_data<float>();
                         }
                         if (need[r + m]) {
                           grads[r + m] = Tensor::empty(logit_shapes[m], DType::f32, MemoryFormat::contiguous, dev);
                           b.dlogit[m] = grads[r + m].device_data<float>();
                         }
                       }
                       cuda::split_attention_backward(b, dev.index);
                       return grads;
                     });
}

}  // namespace

Variable split_attention_combine(const std::vector<Variable>& splits, const std::vector<Variable>& logits) {
  check_args(splits, logits);
  if (splits[0].data().is_cuda()) {
    if (splits.size() <= static_cast<size_t>(cuda::kMaxRadix) && fused_kernels_enabled())
      return split_attention_fused(splits, logits);
    return split_attention_composed(splits, logits);
  }
  const Shape shape = splits[0].data().shape();
  const int64_t r = static_cast<int64_t>(splits.size());
  Geom g{shape[0], shape[1], shape[2] * shape[3], r, splits[0].data().is_channels_last()};
  const MemoryFormat fmt = g.cl ? MemoryFormat::channels_last : MemoryFormat::contiguous;
  const int64_t nc = g.n * g.c;

  // Softmax over the splits per (n, c), max-subtracted.
  auto sv = std::make_shared<Saved>();
  sv->a.resize(r * nc);
  {
    std::vector<Tensor> lc(r);
    std::vector<const float*> lp(r);
    for (int64_t m = 0; m < r; ++m) {
      lc[m] = logits[m].data().contiguous();
      lp[m] = lc[m].data<float>();
    }
    float* a = sv->a.data();
    for (int64_t i = 0; i < nc; ++i) {
      float mx = lp[0][i];
      for (int64_t m = 1; m < r; ++m) mx = lp[m][i] > mx ? lp[m][i] : mx;
      float sum = 0.f;
      for (int64_t m = 0; m < r; ++m) sum += (a[m * nc + i] = std::exp(lp[m][i] - mx));
      const float inv = 1.f / sum;
      for (int64_t m = 0; m < r; ++m) a[m * nc + i] *= inv;
    }
  }

  std::vector<Tensor> sc(r);
  std::vector<const float*> sp(r), ap(r);
  for (int64_t m = 0; m < r; ++m) {
    sc[m] = splits[m].data().contiguous(fmt);
    sp[m] = sc[m].data<float>();
    ap[m] = sv->a.data() + m * nc;
  }
  Tensor out = Tensor::empty(shape, DType::f32, fmt);
  float* po = out.data<float>();
  if (g.cl) {
    parallel_range(g.n * g.hw, g.numel() * r,
                   [&](int64_t b, int64_t e) { combine_rows(sp.data(), ap.data(), po, g, b, e); });
  } else {
    parallel_range(nc, g.numel() * r, [&](int64_t b, int64_t e) { combine_planes(sp.data(), ap.data(), po, g, b, e); });
  }

  std::vector<Variable> inputs(splits);
  inputs.insert(inputs.end(), logits.begin(), logits.end());
  if (!needs_grad(inputs)) return Variable(out, false);
  sv->geom = g;
  sv->fmt = fmt;
  sv->shape = shape;
  bool any_logit = false;
  for (int64_t m = 0; m < r; ++m) {
    sv->need_split.push_back(splits[m].requires_grad());
    sv->need_logit.push_back(logits[m].requires_grad());
    sv->logit_shapes.push_back(logits[m].data().shape());
    any_logit = any_logit || logits[m].requires_grad();
  }
  if (any_logit) sv->s = sc;
  return make_result(out, "split_attention_combine", std::move(inputs),
                     [sv](const Tensor& gy) { return backward(*sv, gy); });
}

namespace {

// The composed path: each split pooled, the [N, C] results added (2r - 1 ops).
Variable split_attention_pool_composed(const std::vector<Variable>& splits) {
  Variable pooled = global_avg_pool(splits[0]);
  for (size_t m = 1; m < splits.size(); ++m) pooled = add(pooled, global_avg_pool(splits[m]));
  return pooled;
}

// The mean over the planes' pixels of the splits' sum on the CPU, in their common dense layout
// (inv = 1 / hw, applied as each plane's sum is stored).
void pool_mean_cpu(const std::vector<Tensor>& sc, int64_t n, int64_t c, int64_t hw, bool cl, float inv, float* out) {
  if (cl) {
#pragma omp parallel for if (n * c * hw > 32768)
    for (int64_t i = 0; i < n; ++i) {
      float* o = out + i * c;
      for (int64_t j = 0; j < c; ++j) o[j] = 0.f;
      for (const Tensor& t : sc) {
        const float* p = t.data<float>() + i * hw * c;
        for (int64_t q = 0; q < hw; ++q)
#pragma omp simd
          for (int64_t j = 0; j < c; ++j) o[j] += p[q * c + j];
      }
      for (int64_t j = 0; j < c; ++j) o[j] *= inv;
    }
  } else {
#pragma omp parallel for if (n * c * hw > 32768)
    for (int64_t pl = 0; pl < n * c; ++pl) {
      float sum = 0.f;
      for (const Tensor& t : sc) {
        const float* p = t.data<float>() + pl * hw;
#pragma omp simd reduction(+ : sum)
        for (int64_t q = 0; q < hw; ++q) sum += p[q];
      }
      out[pl] = sum * inv;
    }
  }
}

}  // namespace

Variable split_attention_pool(const std::vector<Variable>& splits) {
  check_splits(splits, "split_attention_pool");
  const Tensor& s0 = splits[0].data();
  const Device dev = s0.device();
  const int r = static_cast<int>(splits.size());
  if (dev.type != DeviceType::cpu && (r > cuda::kMaxRadix || !fused_kernels_enabled()))
    return split_attention_pool_composed(splits);
  const Shape shape = s0.shape();
  const int64_t n = shape[0], c = shape[1], hw = shape[2] * shape[3];
  if (hw == 0) fail("split_attention_pool: splits {} have an empty spatial extent", shape_str(shape));
  const MemoryFormat fmt = s0.is_channels_last() ? MemoryFormat::channels_last : MemoryFormat::contiguous;
  const std::vector<Tensor> sc = dense_splits(splits, fmt);
  Tensor out = Tensor::empty({n, c}, DType::f32, MemoryFormat::contiguous, dev);
  const float inv = 1.f / static_cast<float>(hw);
  if (dev.type == DeviceType::cpu) {
    pool_mean_cpu(sc, n, c, hw, fmt == MemoryFormat::channels_last, inv, out.data<float>());
  } else {
    cuda::split_attention_pool(split_attention_args(sc, fmt), out.device_data<float>(), dev.index);
  }
  if (!needs_grad(splits)) return Variable(out, false);
  return make_result(out, "split_attention_pool", splits, [=](const Tensor& gy) -> std::vector<Tensor> {
    // One broadcast tensor for every split: accumulate_grad copies rather than adds in place
    // into a tensor something else holds, so sharing it is safe.
    const Tensor g = broadcast_to(scale_tensor(gy.contiguous(), inv).reshape({n, c, 1, 1}), shape, fmt);
    return std::vector<Tensor>(static_cast<size_t>(r), g);
  });
}

}  // namespace hwnas
