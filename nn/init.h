#pragma once
#include "tensor/tensor.h"

namespace hwnas {

enum class FanMode { fan_in, fan_out };

// fan of a weight [out, in, kh, kw] or [out, in]: in*kh*kw (fan_in) or out*kh*kw (fan_out).
int64_t compute_fan(const Shape& weight_shape, FanMode mode);
// He et al.: N(0, gain^2 / fan) with gain sqrt(2) (ReLU).
void kaiming_normal_(Tensor& w, Generator& gen, FanMode mode = FanMode::fan_out);
// U(-bound, bound) with bound = gain * sqrt(3 / fan) for the given gain.
void kaiming_uniform_(Tensor& w, Generator& gen, float gain, FanMode mode = FanMode::fan_in);
void uniform_(Tensor& w, Generator& gen, float lo, float hi);

}  // namespace hwnas
