#include "nn/optim.h"

#include <cmath>
#include <functional>
#include <map>

#include "cuda/optim.h"
#include "nn/update_rules.h"

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
// GPU parameters gathered per device into multi-tensor launches (cuda/optim.h): one launch per
// kMaxTensorsPerLaunch parameters instead of several elementwise launches per parameter. The
// tensors are held until their launch is enqueued, so a gradient copy made for the update is
// not handed back to the allocator before the kernel that reads it.
class MultiTensorLauncher {
 public:
  using Launch = std::function<void(const cuda::TensorList&, int device)>;
  explicit MultiTensorLauncher(Launch launch) : launch_(std::move(launch)) {}
  void add(const Tensor& w, const Tensor& grad, const Tensor& state1, const Tensor& state2) {
    // The kernel dereferences every pointer on w's device; autograd and the optimizers' own
    // zeros_like keep them there, and this says so if something else ever does not.
    for (const Tensor* t : {&grad, &state1, &state2})
      if (t->defined() && !(t->device() == w.device()))
        fail("optimizer: a parameter on {} has its gradient or state on {}", w.device().str(), t->device().str());
    const int dev = w.device().index;
    cuda::TensorList& l = lists_[dev];
    l.w[l.count] = w.device_data<float>();
    l.grad[l.count] = grad.device_data<float>();
    l.state1[l.count] = state1.defined() ? state1.device_data<float>() : nullptr;
    l.state2[l.count] = state2.defined() ? state2.device_data<float>() : nullptr;
    l.begin[l.count + 1] = l.begin[l.count] + w.numel();
    ++l.count;
    held_.push_back(grad);
    if (l.count == cuda::kMaxTensorsPerLaunch) flush(dev);
  }
  void flush() {
    for (auto& [dev, l] : lists_) flush(dev);
  }

 private:
  void flush(int dev) {
    cuda::TensorList& l = lists_[dev];
    if (l.count > 0) launch_(l, dev);
    l = cuda::TensorList{};
  }
  Launch launch_;
  std::map<int, cuda::TensorList> lists_;
  std::vector<Tensor> held_;
};

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
  const SgdScalars s{lr_, o_.weight_decay, o_.momentum, first ? 0.f : o_.dampening, o_.nesterov, first};
  MultiTensorLauncher gpu([&s](const cuda::TensorList& l, int dev) { cuda::sgd_step(l, s, dev); });
  for (size_t i = 0; i < params_.size(); ++i) {
    Variable& p = params_[i];
    if (!p.grad().defined()) continue;
    const Tensor g = grad_like(p);
    if (p.data().is_cuda()) {
      gpu.add(p.data(), g, buf_[i], Tensor());
      continue;
    }
    float* w = p.data().data<float>();
    const float* gp = g.data<float>();
    const int64_t n = p.numel();
    if (s.momentum == 0.f) {
      for (int64_t j = 0; j < n; ++j) sgd_update_plain(w[j], gp[j], s);
      continue;
    }
    float* b = buf_[i].data<float>();
#pragma omp parallel for simd if (n > 65536)
    for (int64_t j = 0; j < n; ++j) sgd_update(w[j], gp[j], b[j], s);
  }
  gpu.flush();
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
  AdamWScalars s;
  s.lr = lr_;
  s.beta1 = o_.beta1;
  s.beta2 = o_.beta2;
  s.eps = o_.eps;
  s.decay = 1.f - lr_ * o_.weight_decay;
  s.bias1 = 1.f - std::pow(o_.beta1, static_cast<float>(steps_));
  s.bias2 = 1.f - std::pow(o_.beta2, static_cast<float>(steps_));
  MultiTensorLauncher gpu([&s](const cuda::TensorList& l, int dev) { cuda::adamw_step(l, s, dev); });
  for (size_t i = 0; i < params_.size(); ++i) {
    Variable& p = params_[i];
    if (!p.grad().defined()) continue;
    const Tensor g = grad_like(p);
    if (p.data().is_cuda()) {
      gpu.add(p.data(), g, m_[i], v_[i]);
      continue;
    }
    float* w = p.data().data<float>();
    const float* gp = g.data<float>();
    float* m = m_[i].data<float>();
    float* v = v_[i].data<float>();
    const int64_t n = p.numel();
#pragma omp parallel for simd if (n > 65536)
    for (int64_t j = 0; j < n; ++j) adamw_update(w[j], gp[j], m[j], v[j], s);
  }
  gpu.flush();
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
