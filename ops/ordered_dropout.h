#pragma once
// NetAdaptV2 ordered dropout: each sample of a batch runs at its own width (its first w
// channels). ordered_dropout() is the reference semantics, masking a full-width activation; the
// supernet instead computes each group of equal-width samples on its own channel slice
// (width_groups), which gives the same gradients without computing masked-out channels.
#include <vector>

#include "autograd/variable.h"

namespace hwnas {

// x [N, C, ...]; zeroes channel c of sample n when c >= sample_widths[n]. sample_widths has N
// entries, each in [0, C]. The gradient is masked the same way; x's layout is kept.
Variable ordered_dropout(const Variable& x, const std::vector<int64_t>& sample_widths);

// A maximal run of consecutive samples [begin, end) that share one width.
struct WidthGroup {
  int64_t width, begin, end;
  bool operator==(const WidthGroup&) const = default;
};
std::vector<WidthGroup> width_groups(const std::vector<int64_t>& sample_widths);

// Splits a batch into `groups` contiguous groups of batch / groups samples (the last also takes
// the remainder) and draws one width per group uniformly from `choices`, in group order.
// 1 <= groups <= batch; choices non-empty and non-negative.
std::vector<int64_t> ordered_sample_widths(int64_t batch, const std::vector<int64_t>& choices, int64_t groups,
                                           Generator& gen);

}  // namespace hwnas
