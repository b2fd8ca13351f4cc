#pragma once
// Optimizers with PyTorch's update rules (so results are comparable with the peers), and
// their state exposed as named tensors for checkpoints.
#include <string>
#include <utility>
#include <vector>

#include "autograd/variable.h"

namespace hwnas {

class Optimizer {
 public:
  explicit Optimizer(std::vector<Variable> params) : params_(std::move(params)) {}
  virtual ~Optimizer() = default;
  virtual void step() = 0;
  void zero_grad();
  void set_lr(float lr) { lr_ = lr; }
  float lr() const { return lr_; }
  // Named state tensors (momentum buffers...) and scalar state, for checkpoints.
  virtual std::vector<std::pair<std::string, Tensor>> state() = 0;
  virtual int64_t step_count() const { return steps_; }
  virtual void set_step_count(int64_t s) { steps_ = s; }
  const std::vector<Variable>& params() const { return params_; }

 protected:
  std::vector<Variable> params_;
  float lr_ = 0.f;
  int64_t steps_ = 0;
};

struct SgdOptions {
  float lr = 0.1f;
  float momentum = 0.9f;
  float dampening = 0.f;
  float weight_decay = 0.f;
  bool nesterov = false;
};

// p <- p - lr * d, with g = grad + wd * p, buf = momentum * buf + (1 - dampening) * g (buf = g at
// the first step), d = g + momentum * buf (Nesterov) or buf.
class Sgd : public Optimizer {
 public:
  Sgd(std::vector<Variable> params, SgdOptions o);
  void step() override;
  std::vector<std::pair<std::string, Tensor>> state() override;

 private:
  SgdOptions o_;
  std::vector<Tensor> buf_;
};

struct AdamWOptions {
  float lr = 1e-3f;
  float beta1 = 0.9f, beta2 = 0.999f;
  float eps = 1e-8f;
  float weight_decay = 1e-2f;
};

// Decoupled weight decay (Loshchilov & Hutter): p <- p * (1 - lr * wd), then the Adam step with
// bias-corrected moments.
class AdamW : public Optimizer {
 public:
  AdamW(std::vector<Variable> params, AdamWOptions o);
  void step() override;
  std::vector<std::pair<std::string, Tensor>> state() override;

 private:
  AdamWOptions o_;
  std::vector<Tensor> m_, v_;
};

// Linear warm-up from 0 to base_lr over `warmup` steps, then cosine decay to min_lr at `total`.
float cosine_lr(int64_t step, int64_t total, int64_t warmup, float base_lr, float min_lr = 0.f);

}  // namespace hwnas
