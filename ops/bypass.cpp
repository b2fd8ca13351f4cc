#include "ops/bypass.h"

#include <omp.h>

#include <cstring>

namespace hwnas {

MemoryFormat channel_format(const Tensor& t) {
  return t.dim() == 4 && t.is_channels_last() && !t.is_contiguous() ? MemoryFormat::channels_last
                                                                     : MemoryFormat::contiguous;
}

ChannelBlocks channel_blocks(const Shape& shape, MemoryFormat fmt) {
  int64_t inner = 1;
  for (size_t d = 2; d < shape.size(); ++d) inner *= shape[d];
  if (fmt == MemoryFormat::channels_last) return {fmt, shape[0] * inner, shape[1], 1};
  return {fmt, shape[0], shape[1], inner};
}

namespace {

constexpr int64_t kParallelMin = 65536;  // floats moved below which threads cost more than they save

void check_bypass(const Variable& y, const Variable& x, int64_t k) {
  HWNAS_CHECK(x.defined(), "channel_bypass: the layer input x is undefined");
  const Tensor& xt = x.data();
  HWNAS_CHECK(xt.dtype() == DType::f32 && xt.dim() >= 2,
              "channel_bypass: x must be an f32 tensor [N, C, ...], got {}", xt.str());
  const int64_t c = xt.size(1);
  HWNAS_CHECK(k >= 0 && k <= c, "channel_bypass: kept channels k = {} out of range [0, {}] for x {}", k, c,
              shape_str(xt.shape()));
  if (!y.defined()) {
    HWNAS_CHECK(k == 0, "channel_bypass: y is undefined but k = {} (only k == 0 may omit y)", k);
    return;
  }
  Shape want = xt.shape();
  want[1] = k;
  HWNAS_CHECK(y.data().dtype() == DType::f32 && y.shape() == want,
              "channel_bypass: y is {}{} but x is {} and k = {}; expected y {} (same N and spatial dims, k channels)",
              dtype_name(y.data().dtype()), shape_str(y.shape()), shape_str(xt.shape()), k, shape_str(want));
}

// For each outer block of `block` floats: the first `head` from a (whose blocks are `head`
// floats long), the rest from the same place in b. A null a or b writes zeros instead.
void copy_blocks(int64_t outer, int64_t head, int64_t block, const float* a, const float* b, float* dst) {
  const int64_t tail = block - head;
#pragma omp parallel for if (outer * block > kParallelMin)
  for (int64_t o = 0; o < outer; ++o) {
    float* d = dst + o * block;
    if (a) std::memcpy(d, a + o * head, head * sizeof(float));
    else std::memset(d, 0, head * sizeof(float));
    if (b) std::memcpy(d + head, b + o * block + head, tail * sizeof(float));
    else std::memset(d + head, 0, tail * sizeof(float));
  }
}

// The first `head` floats of each of src's blocks, packed.
void take_heads(int64_t outer, int64_t head, int64_t block, const float* src, float* dst) {
#pragma omp parallel for if (outer * head > kParallelMin)
  for (int64_t o = 0; o < outer; ++o) std::memcpy(dst + o * head, src + o * block, head * sizeof(float));
}

}  // namespace

Variable channel_bypass(const Variable& y, const Variable& x, int64_t k) {
  check_bypass(y, x, k);
  const Tensor& xt = x.data();
  const int64_t c = xt.size(1);
  if (k == 0) return x;
  if (k == c) return y;
  const MemoryFormat fmt = channel_format(xt);
  const ChannelBlocks g = channel_blocks(xt.shape(), fmt);
  Tensor xd = xt.contiguous(fmt), yd = y.data().contiguous(fmt);
  if (xd.device() != yd.device()) fail("channel_bypass: y on {} but x on {}", yd.device().str(), xd.device().str());
  const bool gpu = xd.is_cuda();
  Tensor out = Tensor::empty(xt.shape(), DType::f32, fmt, xd.device());
  const int64_t head = k * g.inner, block = c * g.inner;
  if (gpu) {  // strided copies on the device: the kept channels from y, the rest from x
    out.narrow(1, 0, k).copy_(yd);
    out.narrow(1, k, c - k).copy_(xd.narrow(1, k, c - k));
  } else {
    copy_blocks(g.outer, head, block, yd.data<float>(), xd.data<float>(), out.data<float>());
  }
  if (!needs_grad({y, x})) return make_result(out, "channel_bypass", {y, x}, nullptr);
  const bool want_y = y.requires_grad(), want_x = x.requires_grad();
  const Shape y_shape = y.shape();
  return make_result(out, "channel_bypass", {y, x},
                     [=](const Tensor& gy_in) -> std::vector<Tensor> {
                       Tensor gy = gy_in.contiguous(fmt);
                       Tensor g_y, g_x;
                       if (want_y) {
                         g_y = Tensor::empty(y_shape, DType::f32, fmt, gy.device());
                         if (gpu) g_y.copy_(gy.narrow(1, 0, k));
                         else take_heads(g.outer, head, block, gy.data<float>(), g_y.data<float>());
                       }
                       if (want_x) {
                         g_x = Tensor::empty(gy.shape(), DType::f32, fmt, gy.device());
                         if (gpu) {
                           g_x.narrow(1, 0, k).zero_();
                           g_x.narrow(1, k, c - k).copy_(gy.narrow(1, k, c - k));
                         } else {
                           copy_blocks(g.outer, head, block, nullptr, gy.data<float>(), g_x.data<float>());
                         }
                       }
                       return {g_y, g_x};
                     });
}

}  // namespace hwnas
