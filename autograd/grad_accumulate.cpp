#include "autograd/grad_accumulate.h"

#include "tensor/device_memory.h"

namespace hwnas {

void accumulate_grad(Tensor& dst, const Tensor& g, bool own_copy) {
  if (!dst.defined()) {
    dst = (own_copy || !g.is_dense()) ? g.clone() : g;
    return;
  }
  const bool in_place = dst.storage().use_count() == 1 && dst.is_dense() && g.strides() == dst.strides() && g.is_dense();
  if (in_place && dst.is_cuda()) return add_inplace_on_device(dst, g);
  if (in_place) {
    float* d = dst.data<float>();
    const float* s = g.data<float>();
    const int64_t n = dst.numel();
#pragma omp parallel for simd if (n > 65536)
    for (int64_t i = 0; i < n; ++i) d[i] += s[i];
    return;
  }
  Tensor r = Tensor::empty_like(dst.is_dense() ? dst : g);
  r.copy_(dst);
  Tensor gg = g.strides() == r.strides() ? g : [&] { Tensor t = Tensor::empty_like(r); t.copy_(g); return t; }();
  if (r.is_cuda()) {
    add_inplace_on_device(r, gg);
    dst = r;
    return;
  }
  float* d = r.data<float>();
  const float* s = gg.data<float>();
  const int64_t n = r.numel();
#pragma omp parallel for simd if (n > 65536)
  for (int64_t i = 0; i < n; ++i) d[i] += s[i];
  dst = r;
}

}  // namespace hwnas
