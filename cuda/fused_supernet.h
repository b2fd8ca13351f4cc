#pragma once
// Fused CUDA kernels of the supernet ops, one launch where the composed path takes one per
// candidate, split or width group:
//  - the mixed-op weighted sum (ops/mixed_op.h) forward, and its backward's candidate and weight
//    gradients (one launch, plus a one-block launch that adds up the per-block weight sums);
//  - the Split-Attention combine (ops/split_attention.h): radix softmax and weighted sum forward,
//    split and logit gradients backward, each in one launch; and its pooling (the splits' sum
//    averaged per plane) in one launch;
//  - ordered dropout (ops/ordered_dropout.h) over all width groups of a batch.
// What each thread computes is in cuda/fused_bodies.h (tested on the host); pointers are device
// memory on `device`, and everything runs on that device's stream.
#include "cuda/fused_bodies.h"

namespace hwnas::cuda {

void weighted_sum_forward(const WeightedSumArgs& a, int device);
// Writes gx_m where set; when w_grad is not null, also the k weight gradients sum(gy x_m) to
// w_grad (device memory, k floats).
void weighted_sum_backward(const WeightedSumArgs& a, float* w_grad, int device);

void split_attention_forward(const SplitAttentionArgs& a, int device);
void split_attention_backward(const SplitAttentionArgs& a, int device);  // writes ds and dlogit where set
// pooled[n*C + c] = mean over the plane of the splits' sum (device memory, N*C floats).
void split_attention_pool(const SplitAttentionArgs& a, float* pooled, int device);

// dst[i] = width_masked_at(a, src, i) over the whole tensor (dst and src dense, same layout).
void width_masked_copy(const WidthMaskArgs& a, const float* src, float* dst, int device);

}  // namespace hwnas::cuda
