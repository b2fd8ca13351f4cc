#include "nn/init.h"

#include <cmath>

namespace hwnas {

int64_t compute_fan(const Shape& s, FanMode mode) {
  if (s.size() < 2) fail("init: weight shape {} needs at least 2 dims", shape_str(s));
  int64_t receptive = 1;
  for (size_t i = 2; i < s.size(); ++i) receptive *= s[i];
  return (mode == FanMode::fan_in ? s[1] : s[0]) * receptive;
}

void kaiming_normal_(Tensor& w, Generator& gen, FanMode mode) {
  const float std = std::sqrt(2.0f / static_cast<float>(compute_fan(w.shape(), mode)));
  w.copy_(Tensor::randn(w.shape(), gen, 0.f, std));
}

void kaiming_uniform_(Tensor& w, Generator& gen, float gain, FanMode mode) {
  const float bound = gain * std::sqrt(3.0f / static_cast<float>(compute_fan(w.shape(), mode)));
  uniform_(w, gen, -bound, bound);
}

void uniform_(Tensor& w, Generator& gen, float lo, float hi) { w.copy_(Tensor::uniform(w.shape(), gen, lo, hi)); }

}  // namespace hwnas
