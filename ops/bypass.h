#pragma once
// NetAdaptV2 channel-level bypass: a layer computed for its first k output channels only, with
// the remaining channels passing the layer's input through. Width 0 removes the layer, so depth
// and width search become one dimension.
#include "autograd/variable.h"

namespace hwnas {

// x [N, C, ...] is the layer input, y [N, k, ...] the layer's output for the first k channels
// (0 <= k <= C; y may be undefined when k == 0). Output [N, C, ...]: channels < k from y, the
// rest from x. k == 0 returns x and k == C returns y, both without a copy. The output is
// channels_last when x is.
Variable channel_bypass(const Variable& y, const Variable& x, int64_t k);

// Shared by the channel-wise supernet ops (bypass, channel_mask, ordered_dropout): a tensor of
// shape [N, C, ...] in the layout these ops compute in, seen as [outer][C][inner] in memory.
// channels_last 4-D tensors have inner == 1 and outer == N*H*W; contiguous ones outer == N and
// inner == the product of the trailing dims. Either way each outer block is C*inner floats.
struct ChannelBlocks {
  MemoryFormat fmt;
  int64_t outer, channels, inner;
};
// channels_last when `t` is a 4-D channels_last tensor (that is not also contiguous), else
// contiguous: the layout an op's output keeps.
MemoryFormat channel_format(const Tensor& t);
ChannelBlocks channel_blocks(const Shape& shape, MemoryFormat fmt);

}  // namespace hwnas
