#pragma once
#include "tensor/tensor.h"

namespace hwnas {

// dst += g. An undefined dst takes g (copied when `own_copy`, so a leaf's .grad never aliases a
// tensor that something else holds). Adds in place only when dst's storage is held by dst alone.
void accumulate_grad(Tensor& dst, const Tensor& g, bool own_copy = false);

}  // namespace hwnas
