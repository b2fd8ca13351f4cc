#include "ops/loss.h"

#include <cmath>
#include <limits>
#include <memory>
#include <vector>

#include "cuda/loss.h"
#include "cuda/reduce.h"
#include "cuda/tensor_layout.h"
#include "ops/elementwise.h"
#include "ops/reduce.h"
#include "ops/softmax.h"
#include "ops/kernel_util.h"
#include "ops/simd.h"

#pragma GCC optimize("no-trapping-math")  // see ops/kernel_util.h

namespace hwnas {

namespace {

using kernel::vexp;

// Per row: log-sum-exp and the row's plain sum (for label smoothing) in one sweep after the max.
HWNAS_MULTIVERSION void row_stats(const float* x, int64_t rows, int64_t c, float* lse, float* sumx) {
  for (int64_t r = 0; r < rows; ++r) {
    const float* xr = x + r * c;
    float m = -std::numeric_limits<float>::infinity();
#pragma omp simd reduction(max : m)
    for (int64_t i = 0; i < c; ++i) m = xr[i] > m ? xr[i] : m;
    float s = 0.f, sx = 0.f;
#pragma omp simd reduction(+ : s, sx)
    for (int64_t i = 0; i < c; ++i) {
      s += vexp(xr[i] - m);
      sx += xr[i];
    }
    lse[r] = m + std::log(s);
    sumx[r] = sx;
  }
}

// gx = scale * (softmax(x) * tsum - target) with the target given either as `t` (dense rows)
// or as label smoothing: eps / C everywhere plus (1 - eps) on the label.
HWNAS_MULTIVERSION void grad_rows(const float* x, const float* lse, const int64_t* labels, const float* t,
                                  const float* tsum, float* gx, int64_t rows, int64_t c, float eps, float scale) {
  const float off = eps / static_cast<float>(c);
  for (int64_t r = 0; r < rows; ++r) {
    const float* xr = x + r * c;
    float* o = gx + r * c;
    const float l = lse[r];
    if (t) {
      const float* tr = t + r * c;
      const float ts = tsum[r];
#pragma omp simd
      for (int64_t i = 0; i < c; ++i) o[i] = scale * (vexp(xr[i] - l) * ts - tr[i]);
    } else {
#pragma omp simd
      for (int64_t i = 0; i < c; ++i) o[i] = scale * (vexp(xr[i] - l) - off);
      o[labels[r]] -= scale * (1.f - eps);
    }
  }
}

void check_logits(const Tensor& x, const char* op) {
  HWNAS_CHECK(x.defined() && x.dtype() == DType::f32 && x.dim() == 2 && x.size(0) > 0 && x.size(1) > 0,
              "{}: expected f32 logits [N, C] with N, C > 0, got {}", op, x.defined() ? x.str() : "undefined");
}

struct Stats {
  std::vector<float> lse, sumx;
};

Stats compute_stats(const Tensor& x) {
  const int64_t n = x.size(0), c = x.size(1);
  Stats st{std::vector<float>(n), std::vector<float>(n)};
  const float* px = x.data<float>();
  kernel::parallel_chunks(
      n, [&](int64_t b, int64_t e) { row_stats(px + b * c, e - b, c, st.lse.data() + b, st.sumx.data() + b); },
      std::max<int64_t>(1, kernel::kParallelGrain / c), 1);
  return st;
}

// The CUDA path: the labels are checked on the host (a copy when they live on the GPU: errors
// must name the bad label), the loss is the mean of per-row losses reduced on the device.
Variable cross_entropy_cuda(const Variable& logits, const Tensor& lab_host, float eps) {
  const Tensor& lt = logits.data();
  const Device dev = lt.device();
  const int64_t n = lt.size(0), c = lt.size(1);
  Tensor x = lt.contiguous(), lab = lab_host.to(dev);
  Tensor lse = Tensor::empty({n}, DType::f32, MemoryFormat::contiguous, dev);
  Tensor rows = Tensor::empty({n}, DType::f32, MemoryFormat::contiguous, dev);
  cuda::cross_entropy_forward(x.device_data<float>(), lab.device_data<int64_t>(), n, c, eps, lse.device_data<float>(),
                              rows.device_data<float>(), dev.index);
  Tensor out = Tensor::empty({}, DType::f32, MemoryFormat::contiguous, dev);
  cuda::sum_strided(out.device_data<float>(), rows.device_data<float>(), cuda::StridedLayout{},
                    cuda::layout_of(rows, "cross_entropy"), 1, n, 1.f / static_cast<float>(n), dev.index);
  if (!needs_grad({logits})) return make_result(out, "cross_entropy", {logits}, nullptr);
  return make_result(out, "cross_entropy", {logits}, [x, lab, lse, eps, dev](const Tensor& gy_in) -> std::vector<Tensor> {
    const int64_t n = x.size(0), c = x.size(1);
    Tensor gy = gy_in.to(dev).contiguous();
    Tensor gx = Tensor::empty(x.shape(), DType::f32, MemoryFormat::contiguous, dev);
    cuda::cross_entropy_backward(x.device_data<float>(), lse.device_data<float>(), lab.device_data<int64_t>(),
                                 gy.device_data<float>(), n, c, eps, gx.device_data<float>(), dev.index);
    return {gx};
  });
}

}  // namespace

Variable cross_entropy(const Variable& logits, const Tensor& labels, float label_smoothing) {
  const Tensor& lt = logits.data();
  check_logits(lt, "cross_entropy");
  const int64_t n = lt.size(0), c = lt.size(1);
  HWNAS_CHECK(labels.defined() && labels.dtype() == DType::i64 && labels.shape() == Shape{n},
              "cross_entropy: expected i64 labels of shape [{}] for logits {}, got {}", n, shape_str(lt.shape()),
              labels.defined() ? labels.str() : "undefined");
  HWNAS_CHECK(label_smoothing >= 0.f && label_smoothing <= 1.f,
              "cross_entropy: label_smoothing must be in [0, 1], got {}", label_smoothing);
  Tensor lab = labels.cpu().contiguous();
  const int64_t* pl = lab.data<int64_t>();
  for (int64_t i = 0; i < n; ++i)
    if (pl[i] < 0 || pl[i] >= c)
      fail("cross_entropy: label {} at index {} is out of range [0, {}) for logits {}", pl[i], i, c,
           shape_str(lt.shape()));
  if (lt.is_cuda()) return cross_entropy_cuda(logits, lab, label_smoothing);

  Tensor x = lt.contiguous();
  auto st = std::make_shared<Stats>(compute_stats(x));
  const float* px = x.data<float>();
  const float eps = label_smoothing;
  // loss_i = lse_i - sum_c t_c x_c, since the smoothed target sums to 1.
  double total = 0.0;
  for (int64_t i = 0; i < n; ++i)
    total += static_cast<double>(st->lse[i]) - (1.0 - eps) * px[i * c + pl[i]] - (eps / c) * st->sumx[i];
  Tensor out = Tensor::scalar(static_cast<float>(total / n));
  if (!needs_grad({logits})) return make_result(out, "cross_entropy", {logits}, nullptr);
  return make_result(out, "cross_entropy", {logits}, [x, lab, st, eps](const Tensor& gy) -> std::vector<Tensor> {
    const int64_t n = x.size(0), c = x.size(1);
    const float scale = gy.item() / static_cast<float>(n);
    Tensor gx = Tensor::empty(x.shape());
    const float* px = x.data<float>();
    const int64_t* pl = lab.data<int64_t>();
    float* po = gx.data<float>();
    kernel::parallel_chunks(
        n,
        [&](int64_t b, int64_t e) {
          grad_rows(px + b * c, st->lse.data() + b, pl + b, nullptr, nullptr, po + b * c, e - b, c, eps, scale);
        },
        std::max<int64_t>(1, kernel::kParallelGrain / c), 1);
    return {gx};
  });
}

Variable soft_cross_entropy(const Variable& logits, const Tensor& target_probs) {
  const Tensor& lt = logits.data();
  check_logits(lt, "soft_cross_entropy");
  HWNAS_CHECK(target_probs.defined() && target_probs.dtype() == DType::f32 && target_probs.shape() == lt.shape(),
              "soft_cross_entropy: expected f32 target probabilities of shape {} (the logits' shape), got {}",
              shape_str(lt.shape()), target_probs.defined() ? target_probs.str() : "undefined");
  const int64_t n = lt.size(0), c = lt.size(1);
  if (lt.is_cuda()) {  // composed on the device: -(1/N) sum_i sum_c t_ic log_softmax(x)_ic
    Variable t(target_probs.to(lt.device()));
    return mul_scalar(sum(mul(t, log_softmax(logits, 1))), -1.f / static_cast<float>(n));
  }
  Tensor x = lt.contiguous(), t = target_probs.contiguous();
  auto st = std::make_shared<Stats>(compute_stats(x));
  const float* px = x.data<float>();
  const float* pt = t.data<float>();
  // -sum_c t_c log p_c = lse * sum_c t_c - sum_c t_c x_c; st->sumx is reused for sum_c t_c.
  double total = 0.0;
  for (int64_t i = 0; i < n; ++i) {
    double ts = 0.0, tx = 0.0;
    for (int64_t k = 0; k < c; ++k) {
      ts += pt[i * c + k];
      tx += static_cast<double>(pt[i * c + k]) * px[i * c + k];
    }
    st->sumx[i] = static_cast<float>(ts);
    total += st->lse[i] * ts - tx;
  }
  Tensor out = Tensor::scalar(static_cast<float>(total / n));
  if (!needs_grad({logits})) return make_result(out, "soft_cross_entropy", {logits}, nullptr);
  return make_result(out, "soft_cross_entropy", {logits}, [x, t, st](const Tensor& gy) -> std::vector<Tensor> {
    const int64_t n = x.size(0), c = x.size(1);
    const float scale = gy.item() / static_cast<float>(n);
    Tensor gx = Tensor::empty(x.shape());
    const float* px = x.data<float>();
    const float* pt = t.data<float>();
    float* po = gx.data<float>();
    kernel::parallel_chunks(
        n,
        [&](int64_t b, int64_t e) {
          grad_rows(px + b * c, st->lse.data() + b, nullptr, pt + b * c, st->sumx.data() + b, po + b * c, e - b, c,
                    0.f, scale);
        },
        std::max<int64_t>(1, kernel::kParallelGrain / c), 1);
    return {gx};
  });
}

}  // namespace hwnas
