#pragma once
// CUDA kernel of ops/reduce's sums (and of the broadcast-gradient reduction sum_to_shape): each
// of m outputs sums r inputs; input offsets split into the kept dims (which output) and the
// reduced dims (which term), so any strides and any set of reduced dims work.
#include <cstdint>

#include "cuda/copy_kernels.h"

namespace hwnas::cuda {

// out[o] = scale * sum_j in[offset(o, kept) + offset(j, reduced)] for o < m, j < r; out contiguous.
void sum_strided(float* out, const float* in, const StridedLayout& kept, const StridedLayout& reduced, int64_t m,
                 int64_t r, float scale, int device);

}  // namespace hwnas::cuda
