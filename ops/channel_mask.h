#pragma once
// FBNetV2 channel masking: one convolution at the largest width, its output channels scaled by
// a mask that is a weighted sum of step masks, one per candidate width. The weights (typically
// Gumbel-softmax samples of architecture logits) get gradients, so the width is searched by
// gradient descent at the cost of a single max-width layer.
#include <vector>

#include "autograd/variable.h"

namespace hwnas {

// x [N, C, ...], g 1-D of length widths.size(), widths sorted ascending, each in [1, C].
// out[n, c, ...] = x[n, c, ...] * m[c] with m[c] = sum_i g[i] * (c < widths[i]); channels at or
// past the largest width get m = 0. The output keeps x's layout (channels_last stays so).
Variable channel_mask(const Variable& x, const Variable& g, const std::vector<int64_t>& widths);

}  // namespace hwnas
