#include "nn/optim.h"

#include <cmath>

#include "ops/elementwise.h"

namespace hwnas {

namespace {
// Parameters are full dense tensors (supernet slicing happens inside the ops), so updates can
// run over flat arrays.
void check_dense(const Variable& p, const char* opt) {
  if (!p.data().is_dense()) fail("{}: parameter '{}' of shape {} is not dense", opt, p.name(), shape_str(p.shape()));
}
// The gradient in the parameter's memory order.
Tensor grad_like(const Variable& p) {
  const Tensor& g = p.grad();
  if (g.strides() == p.data().strides() && g.is_dense()) return g;
  Tensor r = Tensor::empty_like(p.data());
  r.copy_(g);
  return r;
}
// The same update on a GPU from the device's elementwise kernels (several launches per
// parameter; a fused multi-tensor SGD kernel is left for the CUDA performance work).
void sgd_step_composed(const Tensor& w, const Tensor& g, const Tensor& buf, float lr, float wd, float mom, float damp,
                       bool nesterov, bool first) {
  const Tensor gj = wd != 0.f ? add_tensors(g, scale_tensor(w, wd)) : g;
  Tensor upd = gj;
  if (mom != 0.f) {
    const Tensor bj = first ? gj : add_tensors(scale_tensor(buf, mom), scale_tensor(gj, 1.f - damp));
    const_cast<Tensor&>(buf).copy_(bj);
    upd = nesterov ? add_tensors(gj, scale_tensor(bj, mom)) : bj;
  }
  const_cast<Tensor&>(w).copy_(sub_tensors(w, scale_tensor(upd, lr)));
}

}  // namespace

void Optimizer::zero_grad() {
  for (auto& p : params_) p.zero_grad();
}

Sgd::Sgd(std::vector<Variable> params, SgdOptions o) : Optimizer(std::move(params)), o_(o) {
  lr_ = o.lr;
  for (auto& p : params_) {
    check_dense(p, "sgd");
    buf_.push_back(o.momentum != 0.f ? Tensor::zeros_like(p.data()) : Tensor());
  }
}

void Sgd::step() {
  const bool first = steps_ == 0;
  for (size_t i = 0; i < params_.size(); ++i) {
    Variable& p = params_[i];
    if (!p.grad().defined()) continue;
    const Tensor g = grad_like(p);
    const float lr = lr_, wd = o_.weight_decay, mom = o_.momentum, damp = first ? 0.f : o_.dampening;
    if (p.data().is_cuda()) {
      sgd_step_composed(p.data(), g, buf_[i], lr, wd, mom, damp, o_.nesterov, first);
      continue;
    }
    float* w = p.data().data<float>();
    const float* gp = g.data<float>();
    const int64_t n = p.numel();
    if (mom == 0.f) {
      for (int64_t j = 0; j < n; ++j) w[j] -= lr * (gp[j] + wd * w[j]);
      continue;
    }
    float* b = buf_[i].data<float>();
    const bool nesterov = o_.nesterov;
#pragma omp parallel for simd if (n > 65536)
    for (int64_t j = 0; j < n; ++j) {
      const float gj = gp[j] + wd * w[j];
      const float bj = first ? gj : mom * b[j] + (1.f - damp) * gj;
      b[j] = bj;
      w[j] -= lr * (nesterov ? gj + mom * bj : bj);
    }
  }
  ++steps_;
}

std::vector<std::pair<std::string, Tensor>> Sgd::state() {
  std::vector<std::pair<std::string, Tensor>> s;
  for (size_t i = 0; i < buf_.size(); ++i)
    if (buf_[i].defined()) s.emplace_back("momentum." + std::to_string(i), buf_[i]);
  return s;
}

AdamW::AdamW(std::vector<Variable> params, AdamWOptions o) : Optimizer(std::move(params)), o_(o) {
  lr_ = o.lr;
  for (auto& p : params_) {
    check_dense(p, "adamw");
    m_.push_back(Tensor::zeros_like(p.data()));
    v_.push_back(Tensor::zeros_like(p.data()));
  }
}

void AdamW::step() {
  ++steps_;
  const float bc1 = 1.f - std::pow(o_.beta1, static_cast<float>(steps_));
  const float bc2 = 1.f - std::pow(o_.beta2, static_cast<float>(steps_));
  for (size_t i = 0; i < params_.size(); ++i) {
    Variable& p = params_[i];
    if (!p.grad().defined()) continue;
    if (p.data().is_cuda()) fail("adamw: parameters on CUDA are not supported yet (use --optimizer sgd)");
    const Tensor g = grad_like(p);
    float* w = p.data().data<float>();
    const float* gp = g.data<float>();
    float* m = m_[i].data<float>();
    float* v = v_[i].data<float>();
    const int64_t n = p.numel();
    const float lr = lr_, b1 = o_.beta1, b2 = o_.beta2, eps = o_.eps, decay = 1.f - lr_ * o_.weight_decay;
#pragma omp parallel for simd if (n > 65536)
    for (int64_t j = 0; j < n; ++j) {
      w[j] *= decay;
      m[j] = b1 * m[j] + (1.f - b1) * gp[j];
      v[j] = b2 * v[j] + (1.f - b2) * gp[j] * gp[j];
      w[j] -= lr * (m[j] / bc1) / (std::sqrt(v[j] / bc2) + eps);
    }
  }
}

std::vector<std::pair<std::string, Tensor>> AdamW::state() {
  std::vector<std::pair<std::string, Tensor>> s;
  for (size_t i = 0; i < m_.size(); ++i) {
    s.emplace_back("exp_avg." + std::to_string(i), m_[i]);
    s.emplace_back("exp_avg_sq." + std::to_string(i), v_[i]);
  }
  return s;
}

float cosine_lr(int64_t step, int64_t total, int64_t warmup, float base_lr, float min_lr) {
  if (warmup > 0 && step < warmup) return base_lr * static_cast<float>(step + 1) / static_cast<float>(warmup);
  if (total <= warmup) return base_lr;
  const double t = std::min(1.0, static_cast<double>(step - warmup) / static_cast<double>(total - warmup));
  return static_cast<float>(min_lr + 0.5 * (base_lr - min_lr) * (1.0 + std::cos(M_PI * t)));
}

}  // namespace hwnas
