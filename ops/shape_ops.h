#pragma once
// Shape and data-movement ops with gradients. Views (slice, reshape where possible, permute)
// share storage with their input; their backward scatters into a zero gradient of the input's
// shape.
#include <vector>

#include "autograd/variable.h"

namespace hwnas {

Variable concat(const std::vector<Variable>& xs, int64_t dim);
std::vector<Variable> split(const Variable& x, const std::vector<int64_t>& sizes, int64_t dim);
Variable slice(const Variable& x, int64_t dim, int64_t start, int64_t end, int64_t step = 1);
Variable narrow(const Variable& x, int64_t dim, int64_t start, int64_t length);
Variable reshape(const Variable& x, const Shape& shape);
Variable flatten(const Variable& x, int64_t start_dim = 1);
Variable permute(const Variable& x, const std::vector<int64_t>& order);
// ShuffleNet channel shuffle: [N, g*c, H, W] -> view [N, g, c, H, W] -> transpose(1, 2) -> [N, c*g, H, W].
Variable channel_shuffle(const Variable& x, int64_t groups);

}  // namespace hwnas
