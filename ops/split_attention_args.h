#pragma once
// The fused Split-Attention kernels' arguments (cuda/fused_bodies.h) for r splits already dense
// in one layout: r, the shape, the layout and the split pointers (the callers add the logits
// and outputs). Shared by the op (ops/split_attention.cpp) and the host test of the kernels'
// bodies, so the test checks the arguments the op launches with.
#include <vector>

#include "cuda/fused_bodies.h"
#include "tensor/tensor.h"

namespace hwnas {

inline cuda::SplitAttentionArgs split_attention_args(const std::vector<Tensor>& dense_splits, MemoryFormat fmt) {
  cuda::SplitAttentionArgs a;
  const Shape& shape = dense_splits[0].shape();
  a.r = static_cast<int>(dense_splits.size());
  a.n = shape[0];
  a.c = shape[1];
  a.hw = shape[2] * shape[3];
  a.channels_last = fmt == MemoryFormat::channels_last;
  for (int m = 0; m < a.r; ++m) a.s[m] = dense_splits[static_cast<size_t>(m)].device_data<float>();
  return a;
}

}  // namespace hwnas
