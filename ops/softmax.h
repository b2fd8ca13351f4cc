#pragma once
#include "autograd/variable.h"

namespace hwnas {

// Numerically stable (max-subtracted) along `dim`.
Variable softmax(const Variable& x, int64_t dim = -1);
Variable log_softmax(const Variable& x, int64_t dim = -1);

}  // namespace hwnas
