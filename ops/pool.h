#pragma once
#include "autograd/variable.h"

namespace hwnas {

struct Pool2dOptions {
  int64_t kernel = 2, stride = 2, padding = 0;
  bool count_include_pad = true;  // avg pool only (PyTorch's default)
};

// [N, C, H, W] -> [N, C, H', W']; padded positions never win a max.
Variable max_pool2d(const Variable& x, const Pool2dOptions& opts);
Variable avg_pool2d(const Variable& x, const Pool2dOptions& opts);
// [N, C, H, W] -> [N, C] (mean over H and W).
Variable global_avg_pool(const Variable& x);

}  // namespace hwnas
