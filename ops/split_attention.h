#pragma once
// Split-Attention (ResNeSt) combine: the r splits of a layer weighted per (sample, channel) by a
// softmax over the splits of their attention logits, and summed. The fc layers that produce the
// logits are ordinary convs (nn/split_attention.h); this op fuses the softmax with the weighted
// sum so that neither the r attention maps nor r scaled copies of the splits are materialized.
//
// The splits come as a list, not one concatenated tensor: a weight-shared supernet hands in the
// outputs of its per-split weight slices directly, with no concat copy forward or backward.
#include <vector>

#include "autograd/variable.h"

namespace hwnas {

// splits: r >= 1 tensors [N, C, H, W] of one shape (any layout; the output takes the first
// split's: channels_last when it is channels_last, else contiguous). logits: r tensors [N, C]
// or [N, C, 1, 1]. out[n,c,h,w] = sum_m softmax_m(logits_m[n,c]) * splits_m[n,c,h,w].
// Gradients flow to every split and every logit (r = 1: weight 1, zero logit gradient).
Variable split_attention_combine(const std::vector<Variable>& splits, const std::vector<Variable>& logits);

// The attention's input: pooled[n, c] = mean over (h, w) of sum_m splits_m[n, c, h, w], [N, C].
// One pass over the splits, where pooling each and adding the results takes 2r - 1 ops (that is
// still the composed reference on a GPU with HWNAS_FUSED=0). The backward hands every split the
// same broadcast gradient, one tensor for all r. splits as for split_attention_combine.
Variable split_attention_pool(const std::vector<Variable>& splits);

}  // namespace hwnas
