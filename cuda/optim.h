#pragma once
// Multi-tensor optimizer steps on the GPU: one launch updates up to kMaxTensorsPerLaunch
// parameters (PyTorch's multi_tensor_apply idea), where the composed path took several
// elementwise launches per parameter. The tensors are seen as one concatenation: element i
// belongs to tensor t where begin[t] <= i < begin[t + 1]. The rules are nn/update_rules.h's.
#include <cstdint>

#include "nn/update_rules.h"

namespace hwnas::cuda {

constexpr int kMaxTensorsPerLaunch = 48;  // keeps the by-value list under the 4 KiB kernel-parameter limit

struct TensorList {
  int count = 0;
  int64_t begin[kMaxTensorsPerLaunch + 1] = {};  // prefix sums of the sizes
  float* w[kMaxTensorsPerLaunch] = {};
  const float* grad[kMaxTensorsPerLaunch] = {};
  float* state1[kMaxTensorsPerLaunch] = {};  // SGD: momentum buffer (unused without momentum); AdamW: m
  float* state2[kMaxTensorsPerLaunch] = {};  // AdamW: v
};

// The tensor holding element i, searching forward from `from` (the grid-stride loops visit
// increasing i, so a thread's search resumes where it stopped).
HWNAS_HD int tensor_of(const TensorList& l, int64_t i, int from) {
  while (from + 1 < l.count && i >= l.begin[from + 1]) ++from;
  return from;
}

void sgd_step(const TensorList& l, const SgdScalars& s, int device);  // plain SGD when s.momentum == 0
void adamw_step(const TensorList& l, const AdamWScalars& s, int device);

}  // namespace hwnas::cuda
