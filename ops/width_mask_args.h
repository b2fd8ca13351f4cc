#pragma once
// The fused ordered-dropout kernel's arguments (cuda/fused_bodies.h) for one batch: its width
// groups and channel blocks. Shared by the op (ops/ordered_dropout.cpp) and the host test of the
// kernel's body, so the test checks the arguments the op really launches with.
#include <optional>
#include <vector>

#include "cuda/fused_bodies.h"
#include "ops/bypass.h"

namespace hwnas {

// One width per sample, in batch order. Empty when one launch cannot take them (no samples, or
// more than cuda::kMaxWidthGroups runs of equal width): the op then takes the composed path.
std::optional<cuda::WidthMaskArgs> width_mask_args(const ChannelBlocks& b, const std::vector<int64_t>& sample_widths);

}  // namespace hwnas
