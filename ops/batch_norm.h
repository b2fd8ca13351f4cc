#pragma once
// Batch normalization over [N, C, H, W] (per channel) or [N, C] with an optional fused
// activation (BN + ReLU/ReLU6/... in one pass forward and one backward, instead of two ops).
// Training: normalizes with the batch statistics and updates running_mean/running_var in place
// (momentum as in PyTorch: new = (1 - m) * old + m * batch, unbiased variance for the running
// estimate). Eval: uses the running statistics. running_* may be strided views (slices of a
// supernet's larger BN).
#include "autograd/variable.h"
#include "ops/activation.h"

namespace hwnas {

struct BatchNormOptions {
  bool training = true;
  float momentum = 0.1f;
  float eps = 1e-5f;
  Activation act = Activation::none;
};

Variable batch_norm(const Variable& x, const Variable& weight, const Variable& bias, Tensor running_mean,
                    Tensor running_var, const BatchNormOptions& opts);

}  // namespace hwnas
