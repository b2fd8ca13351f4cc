#pragma once
#include <vector>

#include "autograd/variable.h"

namespace hwnas {

// Sum / mean over all elements (a 0-D result) or over `dims` (negative dims allowed).
Variable sum(const Variable& x);
Variable mean(const Variable& x);
Variable sum(const Variable& x, const std::vector<int64_t>& dims, bool keepdim = false);
Variable mean(const Variable& x, const std::vector<int64_t>& dims, bool keepdim = false);

}  // namespace hwnas
