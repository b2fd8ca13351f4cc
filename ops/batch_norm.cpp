#include "ops/batch_norm.h"

#include <cmath>
#include <memory>
#include <vector>

#include "cuda/batch_norm.h"
#include "ops/batch_norm_kernels.h"

namespace hwnas {

namespace {

void check_channel_tensor(const Tensor& t, int64_t c, const char* what, const Shape& xshape) {
  if (t.dtype() != DType::f32 || t.dim() != 1 || t.size(0) != c)
    fail("batch_norm: {} must be f32[{}] for input {}, got {}", what, c, shape_str(xshape), t.str());
}

// Per-channel values of a (possibly strided) [C] tensor, or `fill` when undefined.
std::vector<float> channel_values(const Tensor& t, int64_t c, float fill) {
  return t.defined() ? t.to_vector() : std::vector<float>(c, fill);
}

// Everything the backward needs. x is the forward input (already held by the graph, so saving it
// costs no memory); the pre-activation value is recomputed from x, mean, invstd, gamma and beta
// instead of keeping a second activation-sized tensor alive until backward.
struct BnSaved {
  Tensor x;  // in the kernel layout
  bn::Geom geom;
  MemoryFormat fmt;
  std::vector<float> mean, invstd, gamma, beta;
  Activation act;
  bool training;
  bool need_x, need_w, need_b;
};

std::vector<Tensor> bn_backward(const BnSaved& s, const Tensor& gy_in) {
  const int64_t c = s.geom.c;
  Tensor gy = gy_in.contiguous(s.fmt);
  std::vector<float> a(c), b(c);
  for (int64_t j = 0; j < c; ++j) {
    a[j] = s.gamma[j] * s.invstd[j];
    b[j] = s.beta[j] - s.mean[j] * a[j];
  }
  std::vector<double> sum_g(c, 0.0), sum_gxc(c, 0.0);
  const bool reduce = s.need_w || s.need_b || (s.training && s.need_x);
  Tensor dx = s.need_x ? Tensor::empty(s.x.shape(), DType::f32, s.fmt) : Tensor();
  // With an activation and two passes, the first pass leaves gz = gy * act'(z) in dx: one more
  // write stream, but the second pass then skips recomputing z and the derivative.
  const bool keep_gz = reduce && s.need_x && s.act != Activation::none;
  if (reduce)
    bn::reduce_grad(s.geom, s.x.data<float>(), gy.data<float>(), a.data(), b.data(), s.act, s.mean.data(),
                    sum_g.data(), sum_gxc.data(), keep_gz ? dx.data<float>() : nullptr);

  std::vector<Tensor> grads(3);
  if (s.need_x) {
    // dx = gamma * invstd * (gz - mean(gz) - xhat * mean(gz * xhat)) in training, folded into
    // dx = p * gz + q * x + r; eval treats the statistics as constants: dx = p * gz.
    std::vector<float> p(c), q(c, 0.f), r(c, 0.f);
    const double cnt = static_cast<double>(s.geom.count());
    for (int64_t j = 0; j < c; ++j) {
      p[j] = a[j];
      if (s.training) {
        const double k = static_cast<double>(s.invstd[j]) * s.invstd[j] * sum_gxc[j] / cnt;
        q[j] = static_cast<float>(-p[j] * k);
        r[j] = static_cast<float>(-p[j] * sum_g[j] / cnt + p[j] * k * s.mean[j]);
      }
    }
    float* pd = dx.data<float>();
    bn::input_grad(s.geom, s.x.data<float>(), keep_gz ? pd : gy.data<float>(), a.data(), b.data(),
                   keep_gz ? Activation::none : s.act, p.data(), q.data(), r.data(), pd);
    grads[0] = dx;
  }
  if (s.need_w) {
    Tensor dw = Tensor::empty({c});
    for (int64_t j = 0; j < c; ++j) dw.data<float>()[j] = static_cast<float>(sum_gxc[j] * s.invstd[j]);
    grads[1] = dw;
  }
  if (s.need_b) {
    Tensor db = Tensor::empty({c});
    for (int64_t j = 0; j < c; ++j) db.data<float>()[j] = static_cast<float>(sum_g[j]);
    grads[2] = db;
  }
  return grads;
}

void update_running(Tensor& rm, Tensor& rv, const std::vector<float>& mean, const std::vector<float>& var,
                    int64_t count, float momentum) {
  // Through the strides: running stats may be a narrow() of a supernet's larger buffers.
  const double unbias = static_cast<double>(count) / static_cast<double>(count - 1);
  if (rm.defined()) {
    float* p = rm.data<float>();
    for (int64_t j = 0; j < rm.size(0); ++j)
      p[j * rm.stride(0)] = (1.f - momentum) * p[j * rm.stride(0)] + momentum * mean[j];
  }
  if (rv.defined()) {
    float* p = rv.data<float>();
    for (int64_t j = 0; j < rv.size(0); ++j)
      p[j * rv.stride(0)] =
          static_cast<float>((1.0 - momentum) * p[j * rv.stride(0)] + momentum * unbias * var[j]);
  }
}

// The CUDA path: always the rows layout (channels_last for 4-D), every per-channel vector on the
// device, so a training step never waits for the host.
Variable batch_norm_cuda(const Variable& x, const Variable& weight, const Variable& bias, Tensor running_mean,
                         Tensor running_var, const BatchNormOptions& opts) {
  const Tensor& xt = x.data();
  const Device dev = xt.device();
  const int64_t c = xt.size(1);
  const Tensor no_tensor;
  const Tensor* const checked[] = {weight.defined() ? &weight.data() : &no_tensor,
                                  bias.defined() ? &bias.data() : &no_tensor, &running_mean, &running_var};
  for (const Tensor* t : checked)
    if (t->defined() && t->device() != dev)
      fail("batch_norm: input on {} but a parameter or running statistic on {}", dev.str(), t->device().str());
  const MemoryFormat fmt = xt.dim() == 4 ? MemoryFormat::channels_last : MemoryFormat::contiguous;
  Tensor xc = xt.dim() == 4 || xt.dim() == 2 ? xt.contiguous(fmt) : Tensor();
  if (!xc.defined()) fail("batch_norm: on CUDA expected [N, C] or [N, C, H, W], got {}", xt.str());
  const int64_t m = c ? xc.numel() / c : 0;
  auto vec = [&](int64_t n) { return Tensor::empty({n}, DType::f32, MemoryFormat::contiguous, dev); };
  Tensor mean = vec(c), var = vec(c), invstd = vec(c), a = vec(c), b = vec(c), sums = vec(2 * c);
  Tensor gamma = weight.defined() ? weight.data().contiguous() : Tensor();
  Tensor beta = bias.defined() ? bias.data().contiguous() : Tensor();
  auto ptr = [](const Tensor& t) { return t.defined() ? t.device_data<float>() : nullptr; };
  if (opts.training) {
    cuda::bn_stats(xc.device_data<float>(), m, c, mean.device_data<float>(), var.device_data<float>(),
                   sums.device_data<float>(), dev.index);
    // Running statistics are updated in place through their strides (slices of a supernet's BN).
    cuda::bn_prepare(c, mean.device_data<float>(), var.device_data<float>(), ptr(gamma), ptr(beta), opts.eps,
                     invstd.device_data<float>(), a.device_data<float>(), b.device_data<float>(), opts.momentum,
                     ptr(running_mean), running_mean.defined() ? running_mean.stride(0) : 0, ptr(running_var),
                     running_var.defined() ? running_var.stride(0) : 0, m, dev.index);
  } else {
    mean.copy_(running_mean);
    var.copy_(running_var);
    cuda::bn_prepare(c, mean.device_data<float>(), var.device_data<float>(), ptr(gamma), ptr(beta), opts.eps,
                     invstd.device_data<float>(), a.device_data<float>(), b.device_data<float>(), -1.f, nullptr, 0,
                     nullptr, 0, m, dev.index);
  }
  Tensor out = Tensor::empty(xt.shape(), DType::f32, fmt, dev);
  cuda::bn_apply(xc.device_data<float>(), out.device_data<float>(), a.device_data<float>(), b.device_data<float>(),
                 opts.act, m, c, dev.index);
  if (!needs_grad({x, weight, bias})) return Variable(out, false);
  const bool need_x = x.requires_grad(), need_w = weight.defined() && weight.requires_grad();
  const bool need_b = bias.defined() && bias.requires_grad(), training = opts.training;
  const Activation act = opts.act;
  return make_result(out, "batch_norm", {x, weight, bias}, [=](const Tensor& gy_in) -> std::vector<Tensor> {
    Tensor gy = gy_in.contiguous(fmt);
    Tensor sums2 = Tensor::empty({2 * c}, DType::f32, MemoryFormat::contiguous, dev);
    if (need_w || need_b || (training && need_x))
      cuda::bn_reduce_grad(xc.device_data<float>(), gy.device_data<float>(), a.device_data<float>(),
                           b.device_data<float>(), act, mean.device_data<float>(), m, c, sums2.device_data<float>(),
                           dev.index);
    else
      sums2.zero_();
    std::vector<Tensor> grads(3);
    if (need_x) grads[0] = Tensor::empty(xc.shape(), DType::f32, fmt, dev);
    if (need_w) grads[1] = Tensor::empty({c}, DType::f32, MemoryFormat::contiguous, dev);
    if (need_b) grads[2] = Tensor::empty({c}, DType::f32, MemoryFormat::contiguous, dev);
    auto out_ptr = [](const Tensor& t) { return t.defined() ? t.device_data<float>() : nullptr; };
    cuda::bn_input_grad(xc.device_data<float>(), gy.device_data<float>(), a.device_data<float>(), b.device_data<float>(),
                        act, mean.device_data<float>(), invstd.device_data<float>(), sums2.device_data<float>(), training,
                        m, c, out_ptr(grads[0]), out_ptr(grads[1]), out_ptr(grads[2]), dev.index);
    return grads;
  });
}

}  // namespace

Variable batch_norm(const Variable& x, const Variable& weight, const Variable& bias, Tensor running_mean,
                    Tensor running_var, const BatchNormOptions& opts) {
  if (!x.defined()) fail("batch_norm: input is undefined");
  const Tensor& xt = x.data();
  if (xt.dtype() != DType::f32 || xt.dim() < 2)
    fail("batch_norm: expected an f32 input [N, C] or [N, C, H, W], got {}", xt.str());
  const Shape& shape = xt.shape();
  const int64_t c = shape[1];
  if (weight.defined()) check_channel_tensor(weight.data(), c, "weight", shape);
  if (bias.defined()) check_channel_tensor(bias.data(), c, "bias", shape);
  if (running_mean.defined()) check_channel_tensor(running_mean, c, "running_mean", shape);
  if (running_var.defined()) check_channel_tensor(running_var, c, "running_var", shape);
  if (!opts.training && (!running_mean.defined() || !running_var.defined()))
    fail("batch_norm: eval mode needs running_mean and running_var (input {})", shape_str(shape));
  if (!(opts.eps > 0.f)) fail("batch_norm: eps must be positive, got {}", opts.eps);

  // Values per channel (N*H*W), whatever the layout.
  if (opts.training && (c ? xt.numel() / c : 0) <= 1)
    fail("batch_norm: expected more than 1 value per channel when training, got input {}", shape_str(shape));
  if (xt.is_cuda()) return batch_norm_cuda(x, weight, bias, running_mean, running_var, opts);
  // rows layout when channels are innermost ([N, C], NHWC); otherwise NCHW planes.
  const bool rows = xt.dim() == 2 || (xt.dim() == 4 && xt.is_channels_last());
  const MemoryFormat fmt = (rows && xt.dim() == 4) ? MemoryFormat::channels_last : MemoryFormat::contiguous;
  Tensor xc = xt.contiguous(fmt);
  bn::Geom geom;
  geom.rows = rows;
  geom.c = c;
  geom.s = rows ? 1 : shape_numel(shape) / std::max<int64_t>(1, shape[0] * c);
  geom.n = rows ? (c ? xt.numel() / c : 0) : shape[0];
  const int64_t count = geom.count();

  auto saved = std::make_shared<BnSaved>();
  saved->gamma = channel_values(weight.defined() ? weight.data() : Tensor(), c, 1.f);
  saved->beta = channel_values(bias.defined() ? bias.data() : Tensor(), c, 0.f);
  saved->mean.resize(c);
  saved->invstd.resize(c);
  if (opts.training) {
    std::vector<float> var(c);
    bn::stats(geom, xc.data<float>(), saved->mean.data(), var.data());
    for (int64_t j = 0; j < c; ++j) saved->invstd[j] = 1.f / std::sqrt(var[j] + opts.eps);
    update_running(running_mean, running_var, saved->mean, var, count, opts.momentum);
  } else {
    const std::vector<float> rm = running_mean.to_vector(), rv = running_var.to_vector();
    for (int64_t j = 0; j < c; ++j) {
      saved->mean[j] = rm[j];
      saved->invstd[j] = 1.f / std::sqrt(rv[j] + opts.eps);
    }
  }

  std::vector<float> a(c), b(c);
  for (int64_t j = 0; j < c; ++j) {
    a[j] = saved->gamma[j] * saved->invstd[j];
    b[j] = saved->beta[j] - saved->mean[j] * a[j];
  }
  Tensor out = Tensor::empty(shape, DType::f32, fmt);
  if (out.numel() > 0) bn::apply(geom, xc.data<float>(), out.data<float>(), a.data(), b.data(), opts.act);

  if (!needs_grad({x, weight, bias})) return Variable(out, false);
  saved->x = xc;
  saved->geom = geom;
  saved->fmt = fmt;
  saved->act = opts.act;
  saved->training = opts.training;
  saved->need_x = x.requires_grad();
  saved->need_w = weight.defined() && weight.requires_grad();
  saved->need_b = bias.defined() && bias.requires_grad();
  return make_result(out, "batch_norm", {x, weight, bias},
                     [saved](const Tensor& gy) { return bn_backward(*saved, gy); });
}

}  // namespace hwnas
