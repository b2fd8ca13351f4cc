#include "ops/mixed_op.h"

#include <omp.h>

#include <algorithm>
#include <cmath>
#include <memory>

#include "cuda/fused_supernet.h"
#include "ops/elementwise.h"
#include "ops/fused_kernels.h"
#include "ops/kernel_util.h"
#include "ops/simd.h"
#include "ops/softmax.h"

namespace hwnas {

namespace {

// Elements per tile: the output tile stays in L1 while every candidate streams past it, and the
// backward's per-tile partial sums are added up in tile order, so the weight gradients do not
// depend on the thread count.
constexpr int64_t kTile = 2048;

HWNAS_MULTIVERSION void scale_into(float w, const float* __restrict x, float* __restrict o, int64_t n) {
#pragma omp simd
  for (int64_t i = 0; i < n; ++i) o[i] = w * x[i];
}

HWNAS_MULTIVERSION void axpy(float w, const float* __restrict x, float* __restrict o, int64_t n) {
#pragma omp simd
  for (int64_t i = 0; i < n; ++i) o[i] += w * x[i];
}

HWNAS_MULTIVERSION float dot(const float* __restrict a, const float* __restrict b, int64_t n) {
  float s = 0.f;
#pragma omp simd reduction(+ : s)
  for (int64_t i = 0; i < n; ++i) s += a[i] * b[i];
  return s;
}

// A dense tensor with the given shape and strides (a layout already checked to be dense).
Tensor empty_strided(const Shape& shape, const Shape& strides, Device device = Device{}) {
  return Tensor::empty({shape_numel(shape)}, DType::f32, MemoryFormat::contiguous, device).as_strided(shape, strides, 0);
}

void check_weighted_sum(const std::vector<Variable>& xs, const Variable& weights) {
  HWNAS_CHECK(!xs.empty(), "weighted_sum: needs at least one candidate");
  for (size_t i = 0; i < xs.size(); ++i) {
    HWNAS_CHECK(xs[i].defined(), "weighted_sum: candidate {} is undefined", i);
    const Tensor& t = xs[i].data();
    HWNAS_CHECK(t.dtype() == DType::f32 && t.shape() == xs[0].shape(),
                "weighted_sum: candidate {} is {}{} but candidate 0 is {}; all must be f32 of one shape", i,
                dtype_name(t.dtype()), shape_str(t.shape()), shape_str(xs[0].shape()));
  }
  HWNAS_CHECK(weights.defined(), "weighted_sum: weights are undefined");
  HWNAS_CHECK(weights.data().dtype() == DType::f32 && weights.dim() == 1 &&
                  weights.size(0) == static_cast<int64_t>(xs.size()),
              "weighted_sum: weights are {}{}, expected f32 [{}] (one per candidate)",
              dtype_name(weights.data().dtype()), shape_str(weights.shape()), xs.size());
}

// The composed path for GPU candidates: scaled copies and adds with the device's elementwise
// kernels, the reference the fused kernel is tested against (and the path beyond
// cuda::kMaxCandidates candidates). The weights may live on the host (DNAS keeps architecture
// logits there); their gradient goes back to them. `inputs` are the candidates then the
// weights; want_x says which candidates need a gradient.
Variable weighted_sum_composed(const std::vector<Variable>& inputs, const std::vector<bool>& want_x,
                               const std::vector<Tensor>& xd, const std::vector<float>& w) {
  const int64_t k = static_cast<int64_t>(xd.size());
  Tensor out = scale_tensor(xd[0], w[0]);
  for (int64_t i = 1; i < k; ++i) out = add_tensors(out, scale_tensor(xd[i], w[i]));
  if (!needs_grad(inputs)) return make_result(out, "weighted_sum", inputs, nullptr);
  const Variable& weights = inputs.back();
  const bool want_w = weights.requires_grad();
  const Device w_dev = weights.data().device();
  auto saved = std::make_shared<std::vector<Tensor>>(want_w ? xd : std::vector<Tensor>{});
  return make_result(out, "weighted_sum", inputs, [=](const Tensor& gy) -> std::vector<Tensor> {
    std::vector<Tensor> grads(k + 1);
    for (int64_t i = 0; i < k; ++i)
      if (want_x[i]) grads[i] = scale_tensor(gy, w[i]);
    if (want_w) {
      std::vector<float> gw(k);
      for (int64_t i = 0; i < k; ++i) gw[i] = sum_to_shape(mul_tensors(gy, (*saved)[i]), {}).item();
      grads[k] = Tensor::from_vector(gw, {k}).to(w_dev);
    }
    return grads;
  });
}

// The fused path: the forward in one launch, the backward's candidate and weight gradients in
// one launch plus a one-block sum (cuda/fused_supernet.h); one host transfer of the k weight
// gradients where the composed path syncs once per candidate.
Variable weighted_sum_fused(const std::vector<Variable>& inputs, const std::vector<bool>& want_x,
                            const std::vector<Tensor>& xd, const std::vector<float>& w) {
  const int k = static_cast<int>(xd.size());
  const Tensor& x0 = xd[0];
  const Device dev = x0.device();
  const Shape shape = x0.shape(), strides = x0.strides();
  cuda::WeightedSumArgs a;
  a.k = k;
  a.n = x0.numel();
  for (int m = 0; m < k; ++m) {
    a.x[m] = xd[m].device_data<float>();
    a.w[m] = w[m];
  }
  Tensor out = empty_strided(shape, strides, dev);
  a.out = out.device_data<float>();
  cuda::weighted_sum_forward(a, dev.index);
  if (!needs_grad(inputs)) return make_result(out, "weighted_sum", inputs, nullptr);
  const Variable& weights = inputs.back();
  const bool want_w = weights.requires_grad();
  const Device w_dev = weights.data().device();
  // The candidates are kept (and read) only for the weights' gradient.
  auto saved = std::make_shared<std::vector<Tensor>>(want_w ? xd : std::vector<Tensor>{});
  a.out = nullptr;
  return make_result(out, "weighted_sum", inputs, [=](const Tensor& gy_in) -> std::vector<Tensor> {
    Tensor gy = gy_in;
    if (!(gy.strides() == strides && gy.is_dense() && gy.device() == dev)) {
      gy = empty_strided(shape, strides, dev);
      gy.copy_(gy_in);
    }
    cuda::WeightedSumArgs b = a;
    for (int m = 0; m < k; ++m) b.x[m] = want_w ? (*saved)[m].device_data<float>() : nullptr;
    b.gy = gy.device_data<float>();
    std::vector<Tensor> grads(k + 1);
    for (int m = 0; m < k; ++m) {
      if (!want_x[m]) continue;
      grads[m] = empty_strided(shape, strides, dev);
      b.gx[m] = grads[m].device_data<float>();
    }
    Tensor gw = want_w ? Tensor::empty({k}, DType::f32, MemoryFormat::contiguous, dev) : Tensor();
    cuda::weighted_sum_backward(b, want_w ? gw.device_data<float>() : nullptr, dev.index);
    if (want_w) grads[k] = gw.to(w_dev);
    return grads;
  });
}

}  // namespace

Variable weighted_sum(const std::vector<Variable>& xs, const Variable& weights) {
  check_weighted_sum(xs, weights);
  const int64_t k = static_cast<int64_t>(xs.size());
  const Tensor& x0 = xs[0].data();
  // Candidates sharing one dense layout are used as they are; otherwise all are brought to
  // x0's layout (channels_last when x0 is).
  bool same = x0.is_dense();
  for (const auto& x : xs) same = same && x.data().strides() == x0.strides();
  std::vector<Tensor> xd;
  for (const auto& x : xs) {
    if (same) xd.push_back(x.data());
    else xd.push_back(x.data().contiguous(x0.dim() == 4 && x0.is_channels_last() ? MemoryFormat::channels_last
                                                                                : MemoryFormat::contiguous));
  }
  const Shape shape = x0.shape(), strides = xd[0].strides();
  const int64_t n = x0.numel();
  const std::vector<float> w = weights.data().to_vector();
  std::vector<Variable> inputs = xs;
  inputs.push_back(weights);
  std::vector<bool> want_x;
  for (const auto& x : xs) want_x.push_back(x.requires_grad());
  if (x0.is_cuda()) {
    for (const auto& t : xd)
      if (t.device() != x0.device())
        fail("weighted_sum: candidates on {} and {}", x0.device().str(), t.device().str());
    if (k <= cuda::kMaxCandidates && fused_kernels_enabled()) return weighted_sum_fused(inputs, want_x, xd, w);
    return weighted_sum_composed(inputs, want_x, xd, w);
  }
  Tensor out = empty_strided(shape, strides);
  {
    std::vector<const float*> px;
    for (const auto& t : xd) px.push_back(t.data<float>());
    float* po = out.data<float>();
    const int64_t tiles = (n + kTile - 1) / kTile;
#pragma omp parallel for if (n * k > kernel::kParallelGrain)
    for (int64_t t = 0; t < tiles; ++t) {
      const int64_t b = t * kTile, len = std::min(kTile, n - b);
      scale_into(w[0], px[0] + b, po + b, len);
      for (int64_t i = 1; i < k; ++i) axpy(w[i], px[i] + b, po + b, len);
    }
  }
  if (!needs_grad(inputs)) return make_result(out, "weighted_sum", inputs, nullptr);
  const bool want_w = weights.requires_grad();
  // The candidates are kept only for the weights' gradient.
  auto saved = std::make_shared<std::vector<Tensor>>(want_w ? std::move(xd) : std::vector<Tensor>{});
  return make_result(out, "weighted_sum", inputs, [=](const Tensor& gy_in) -> std::vector<Tensor> {
    Tensor gy = gy_in;
    if (!(gy.strides() == strides && gy.is_dense())) {
      gy = empty_strided(shape, strides);
      gy.copy_(gy_in);
    }
    std::vector<Tensor> grads(k + 1);
    std::vector<float*> pg(k, nullptr);
    for (int64_t i = 0; i < k; ++i) {
      if (!want_x[i]) continue;
      grads[i] = empty_strided(shape, strides);
      pg[i] = grads[i].data<float>();
    }
    std::vector<const float*> px;
    for (const auto& t : *saved) px.push_back(t.data<float>());
    const float* py = gy.data<float>();
    const int64_t tiles = (n + kTile - 1) / kTile;
    std::vector<float> partial(want_w ? tiles * k : 0);
#pragma omp parallel for if (n * k > kernel::kParallelGrain)
    for (int64_t t = 0; t < tiles; ++t) {
      const int64_t b = t * kTile, len = std::min(kTile, n - b);
      for (int64_t i = 0; i < k; ++i) {
        if (pg[i]) scale_into(w[i], py + b, pg[i] + b, len);
        if (want_w) partial[t * k + i] = dot(py + b, px[i] + b, len);
      }
    }
    if (want_w) {
      std::vector<float> gw(k);
      for (int64_t i = 0; i < k; ++i) {
        double s = 0.0;
        for (int64_t t = 0; t < tiles; ++t) s += partial[t * k + i];
        gw[i] = static_cast<float>(s);
      }
      grads[k] = Tensor::from_vector(gw, {k});
    }
    return grads;
  });
}

Tensor sample_gumbel(int64_t n, Generator& gen) {
  HWNAS_CHECK(n >= 0, "sample_gumbel: negative count {}", n);
  std::vector<float> g(static_cast<size_t>(n));
  for (auto& v : g) {
    // The half-step offset keeps u off both 0 and 1, so neither log sees 0.
    const double u = (static_cast<double>(gen.next_u64() >> 11) + 0.5) * 0x1p-53;
    v = static_cast<float>(-std::log(-std::log(u)));
  }
  return Tensor::from_vector(g, {n});
}

Variable gumbel_softmax(const Variable& logits, float tau, Generator& gen, bool hard) {
  HWNAS_CHECK(logits.defined(), "gumbel_softmax: logits are undefined");
  HWNAS_CHECK(logits.data().dtype() == DType::f32 && logits.dim() == 1 && logits.size(0) >= 1,
              "gumbel_softmax: logits must be a non-empty 1-D f32 tensor, got {}", logits.data().str());
  HWNAS_CHECK(tau > 0.f && std::isfinite(tau), "gumbel_softmax: temperature tau must be positive and finite, got {}",
              tau);
  const int64_t n = logits.size(0);
  Variable soft =
      softmax(mul_scalar(add(logits, Variable(sample_gumbel(n, gen).to(logits.data().device()))), 1.f / tau), 0);
  if (!hard) return soft;
  const std::vector<float> s = soft.data().to_vector();
  int64_t best = 0;
  for (int64_t i = 1; i < n; ++i)
    if (s[i] > s[best]) best = i;
  Tensor one_hot = Tensor::zeros({n});
  one_hot.data<float>()[best] = 1.f;
  one_hot = one_hot.to(logits.data().device());
  // Straight-through: the one-hot's gradient goes to the soft sample unchanged.
  return make_result(one_hot, "gumbel_softmax", {soft},
                     needs_grad({soft}) ? BackwardFn([](const Tensor& gy) -> std::vector<Tensor> { return {gy}; })
                                        : BackwardFn());
}

}  // namespace hwnas
