#include "nn/layers.h"

#include "nn/split_attention.h"

#include <cmath>

#include "nn/init.h"
#include "ops/batch_norm.h"
#include "ops/dropout.h"
#include "ops/elementwise.h"
#include "ops/matmul.h"
#include "ops/shape_ops.h"

namespace hwnas {

Conv2d::Conv2d(int64_t in, int64_t out, int64_t k, Conv2dOptions o, bool has_bias, Generator& gen)
    : opts(o), in_channels(in), out_channels(out), kernel(k) {
  if (in <= 0 || out <= 0 || k <= 0) fail("Conv2d: channels and kernel must be positive, got in={} out={} k={}", in, out, k);
  if (in % o.groups != 0 || out % o.groups != 0)
    fail("Conv2d: groups={} must divide in={} and out={}", o.groups, in, out);
  Tensor w = Tensor::empty({out, in / o.groups, k, k});
  kaiming_normal_(w, gen, FanMode::fan_out);
  weight = register_parameter("weight", w);
  if (has_bias) bias = register_parameter("bias", Tensor::zeros({out}));
}

Variable Conv2d::forward(const Variable& x) { return conv2d(x, weight, bias, opts); }

BatchNorm2d::BatchNorm2d(int64_t c, float eps_, float momentum_, Activation a) : eps(eps_), momentum(momentum_), act(a) {
  weight = register_parameter("weight", Tensor::ones({c}));
  bias = register_parameter("bias", Tensor::zeros({c}));
  running_mean = register_buffer("running_mean", Tensor::zeros({c}));
  running_var = register_buffer("running_var", Tensor::ones({c}));
}

Variable BatchNorm2d::forward(const Variable& x) {
  return batch_norm(x, weight, bias, running_mean, running_var, {is_training(), momentum, eps, act});
}

Linear::Linear(int64_t in, int64_t out, bool has_bias, Generator& gen) {
  // PyTorch's nn.Linear default: kaiming_uniform(a=sqrt(5)), i.e. gain sqrt(2/(1+5)), which makes
  // W ~ U(-1/sqrt(in), 1/sqrt(in)); the same bound for b.
  Tensor w = Tensor::empty({out, in});
  kaiming_uniform_(w, gen, std::sqrt(1.0f / 3.0f), FanMode::fan_in);
  weight = register_parameter("weight", w);
  if (has_bias) {
    Tensor b = Tensor::empty({out});
    const float bound = 1.0f / std::sqrt(static_cast<float>(in));
    uniform_(b, gen, -bound, bound);
    bias = register_parameter("bias", b);
  }
}

Variable Linear::forward(const Variable& x) { return linear(x, weight, bias); }

Variable Flatten::forward(const Variable& x) { return flatten(x, 1); }

Variable Dropout::forward(const Variable& x) { return dropout(x, p, is_training(), gen); }

Variable ChannelShuffle::forward(const Variable& x) { return channel_shuffle(x, groups); }

Variable Sequential::forward(const Variable& x) {
  Variable y = x;
  for (auto& l : layers_) y = l->forward(y);
  return y;
}

ConvBnAct::ConvBnAct(int64_t in, int64_t out, int64_t k, int64_t stride, int64_t groups, Activation act,
                     Generator& gen, float bn_eps, float bn_momentum) {
  conv = register_module("conv", std::make_shared<Conv2d>(in, out, k, Conv2dOptions::make(stride, k / 2, 1, groups),
                                                          /*bias=*/false, gen));
  bn = register_module("bn", std::make_shared<BatchNorm2d>(out, bn_eps, bn_momentum, act));
}

bool ConvBnAct::use_folded() const { return folded_w_.defined() && !is_training() && !grad_enabled(); }

void ConvBnAct::prepare_inference_self() {
  // BN(conv(x)) = conv(x) * s + (beta - mean * s) with s = gamma / sqrt(var + eps): scale each
  // output filter by s and use the shift as the conv's bias. Computed on the host (a small,
  // one-off pass); a module on a GPU gets the folded tensors moved there.
  const Device dev = conv->weight.data().device();
  const Tensor w = conv->weight.data().cpu().contiguous();
  const int64_t out = w.size(0), per = w.numel() / out;
  folded_w_ = Tensor::empty(w.shape());
  folded_b_ = Tensor::empty({out});
  const auto g = bn->weight.data().to_vector(), b = bn->bias.data().to_vector();
  const auto m = bn->running_mean.to_vector(), v = bn->running_var.to_vector();
  const float* src = w.data<float>();
  float* dst = folded_w_.data<float>();
  float* fb = folded_b_.data<float>();
  for (int64_t o = 0; o < out; ++o) {
    const float s = g[o] / std::sqrt(v[o] + bn->eps);
    for (int64_t i = 0; i < per; ++i) dst[o * per + i] = src[o * per + i] * s;
    fb[o] = b[o] - m[o] * s;
  }
  folded_w_ = folded_w_.to(dev);
  folded_b_ = folded_b_.to(dev);
}

Variable ConvBnAct::forward(const Variable& x) {
  if (use_folded()) return Variable(conv2d_inference(x.data(), folded_w_, folded_b_, conv->opts, bn->act));
  return bn->forward(conv->forward(x));
}

Variable ConvBnAct::forward_with_residual(const Variable& x, const Variable& residual) {
  if (use_folded()) {
    const Tensor r = residual.data();
    return Variable(conv2d_inference(x.data(), folded_w_, folded_b_, conv->opts, bn->act, &r));
  }
  return add(forward(x), residual);
}

MBConv::MBConv(int64_t in, int64_t out, int64_t k, int64_t stride, int64_t expand, int64_t groups, Activation act,
               Generator& gen, int64_t radix) {
  if (radix < 1) fail("MBConv: radix must be 1 or more, got {}", radix);
  const int64_t hidden = in * expand;
  expand_conv = register_module("expand", std::make_shared<ConvBnAct>(in, hidden, 1, 1, groups, act, gen));
  if (radix == 1)
    dw_conv = register_module("dw", std::make_shared<ConvBnAct>(hidden, hidden, k, stride, hidden, act, gen));
  else
    split_attention = register_module("dw", std::make_shared<SplitAttentionConv>(hidden, k, radix, stride, act, gen));
  project_conv = register_module("project", std::make_shared<ConvBnAct>(hidden, out, 1, 1, groups, Activation::none, gen));
  shuffle_groups = groups;
  residual = stride == 1 && in == out;
}

Variable MBConv::forward(const Variable& x) {
  Variable y = expand_conv->forward(x);
  if (shuffle_groups > 1) y = channel_shuffle(y, shuffle_groups);
  y = dw_conv ? dw_conv->forward(y) : split_attention->forward(y);
  return residual ? project_conv->forward_with_residual(y, x) : project_conv->forward(y);
}

}  // namespace hwnas
