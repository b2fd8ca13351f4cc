#pragma once
// The optimizers' per-element update rules, PyTorch's formulas, in one place for both devices:
// nn/optim.cpp applies them over each CPU parameter, cuda/optim.cu's multi-tensor kernels over
// every GPU parameter at once (HWNAS_HD: see cuda/host_device.h).
#include <cmath>

#include "cuda/host_device.h"

namespace hwnas {

struct SgdScalars {
  float lr = 0.f, weight_decay = 0.f, momentum = 0.f, dampening = 0.f;
  bool nesterov = false;
  bool first = false;  // first step: the momentum buffer starts as the gradient
};

// g = grad + wd * w; buf = momentum * buf + (1 - dampening) * g (buf = g at the first step);
// w -= lr * (Nesterov ? g + momentum * buf : buf).
HWNAS_HD void sgd_update(float& w, float grad, float& buf, const SgdScalars& s) {
  const float g = grad + s.weight_decay * w;
  const float b = s.first ? g : s.momentum * buf + (1.f - s.dampening) * g;
  buf = b;
  w -= s.lr * (s.nesterov ? g + s.momentum * b : b);
}

// Momentum 0: no buffer.
HWNAS_HD void sgd_update_plain(float& w, float grad, const SgdScalars& s) { w -= s.lr * (grad + s.weight_decay * w); }

struct AdamWScalars {
  float lr = 0.f, beta1 = 0.9f, beta2 = 0.999f, eps = 1e-8f;
  float decay = 1.f;             // 1 - lr * weight_decay
  float bias1 = 1.f, bias2 = 1.f;  // 1 - beta^step
};

// Decoupled weight decay, then the Adam step with bias-corrected moments.
HWNAS_HD void adamw_update(float& w, float grad, float& m, float& v, const AdamWScalars& s) {
  w *= s.decay;
  m = s.beta1 * m + (1.f - s.beta1) * grad;
  v = s.beta2 * v + (1.f - s.beta2) * grad * grad;
  w -= s.lr * (m / s.bias1) / (sqrtf(v / s.bias2) + s.eps);
}

}  // namespace hwnas
