#pragma once
// Differentiable mixed ops (DARTS / FBNet): a layer's candidates combined with weights derived
// from architecture logits, so the logits get gradients alongside the supernet's weights.
#include <vector>

#include "autograd/variable.h"

namespace hwnas {

// out = sum_i weights[i] * xs[i]. xs all defined, f32 and of one shape (any rank; a shared
// layout such as channels_last is kept); weights 1-D of length xs.size(). One fused pass over
// the candidates forward and one backward (gx_i = w_i * gy, gw_i = sum(gy * x_i)).
Variable weighted_sum(const std::vector<Variable>& xs, const Variable& weights);

// Gumbel-softmax over 1-D logits: softmax((logits + g) / tau) with g = sample_gumbel(n, gen).
// hard: the forward is the one-hot of the arg-max (first index on ties) and the backward is the
// soft one's (straight-through). tau > 0.
Variable gumbel_softmax(const Variable& logits, float tau, Generator& gen, bool hard = false);

// n Gumbel(0, 1) samples, -log(-log(u)) with u uniform in the open interval (0, 1) (53 random
// bits, one draw of `gen` each, in order): always finite. The same seed gives the noise that
// gumbel_softmax adds.
Tensor sample_gumbel(int64_t n, Generator& gen);

}  // namespace hwnas
