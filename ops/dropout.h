#pragma once
#include "autograd/variable.h"

namespace hwnas {

// Inverted dropout: in training, zero each element with probability p and scale the rest by
// 1/(1-p); identity when !training or p == 0. The mask comes from `gen` (seeded per component).
Variable dropout(const Variable& x, float p, bool training, Generator& gen);

}  // namespace hwnas
