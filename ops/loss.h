#pragma once
#include "autograd/variable.h"

namespace hwnas {

// Mean cross-entropy of logits [N, C] against i64 class labels [N], with label smoothing
// eps: the target is (1 - eps) on the label plus eps / C everywhere (as in PyTorch). Labels out
// of [0, C) are an error naming the label and its position. Gradient flows to the logits.
Variable cross_entropy(const Variable& logits, const Tensor& labels, float label_smoothing = 0.f);

// Cross-entropy against a soft target distribution [N, C] (for distillation), mean over N.
Variable soft_cross_entropy(const Variable& logits, const Tensor& target_probs);

}  // namespace hwnas
