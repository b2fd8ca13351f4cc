// conv2d: argument checks, layout handling, the choice of kernel and the autograd node.
// Kernels: ops/conv_pointwise.cpp (1x1 as GEMM), ops/conv_depthwise.cpp (own kernels),
// ops/conv_dnnl.cpp (oneDNN primitives for the rest).
#include "ops/conv.h"

#include <cstring>
#include <vector>

#include "cuda/conv.h"
#include "cuda/conv_depthwise.h"
#include "ops/autocast.h"
#include "ops/conv_kernels.h"
#include "ops/fused_kernels.h"
#include "ops/gemm.h"

namespace hwnas {
namespace {

using namespace conv_detail;

enum class Kind { pointwise, pointwise_strided, depthwise, dnnl };

struct Plan {
  ConvGeom g;
  Kind kind = Kind::dnnl;
  Shape out_shape;
};

Plan make_plan(const Tensor& x, const Tensor& w, const Tensor& bias, const Conv2dOptions& o, const char* op) {
  HWNAS_CHECK(x.dim() == 4, "{}: x must be 4-D [N, C_in, H, W], got {}", op, shape_str(x.shape()));
  HWNAS_CHECK(w.dim() == 4, "{}: weight must be 4-D [C_out, C_in/groups, kH, kW], got {}", op, shape_str(w.shape()));
  HWNAS_CHECK(x.dtype() == DType::f32 && w.dtype() == DType::f32, "{}: f32 tensors expected, got x {} and weight {}",
              op, x.str(), w.str());
  HWNAS_CHECK(
      o.stride_h >= 1 && o.stride_w >= 1 && o.dilation_h >= 1 && o.dilation_w >= 1 && o.pad_h >= 0 && o.pad_w >= 0,
      "{}: stride ({}, {}) and dilation ({}, {}) must be >= 1 and padding ({}, {}) >= 0", op, o.stride_h, o.stride_w,
      o.dilation_h, o.dilation_w, o.pad_h, o.pad_w);
  Plan p;
  ConvGeom& g = p.g;
  g.n = x.size(0), g.c_in = x.size(1), g.h = x.size(2), g.w = x.size(3);
  g.c_out = w.size(0), g.kh = w.size(2), g.kw = w.size(3);
  g.sh = o.stride_h, g.sw = o.stride_w, g.ph = o.pad_h, g.pw = o.pad_w, g.dh = o.dilation_h, g.dw = o.dilation_w;
  g.groups = o.groups;
  HWNAS_CHECK(g.groups >= 1 && g.c_in % g.groups == 0 && g.c_out % g.groups == 0,
              "{}: groups {} must be >= 1 and divide C_in {} (x {}) and C_out {} (weight {})", op, g.groups, g.c_in,
              shape_str(x.shape()), g.c_out, shape_str(w.shape()));
  HWNAS_CHECK(w.size(1) * g.groups == g.c_in,
              "{}: weight {} takes {} input channels per group x {} groups = {}, but x {} has C_in = {}", op,
              shape_str(w.shape()), w.size(1), g.groups, w.size(1) * g.groups, shape_str(x.shape()), g.c_in);
  HWNAS_CHECK(g.kh >= 1 && g.kw >= 1 && g.c_out >= 1, "{}: empty weight {}", op, shape_str(w.shape()));
  HWNAS_CHECK(!bias.defined() || (bias.dim() == 1 && bias.size(0) == g.c_out && bias.dtype() == DType::f32),
              "{}: bias must be f32 [{}] (C_out of weight {}), got {}", op, g.c_out, shape_str(w.shape()), bias.str());
  g.oh = conv_out_size(g.h, g.kh, g.sh, g.ph, g.dh);
  g.ow = conv_out_size(g.w, g.kw, g.sw, g.pw, g.dw);
  HWNAS_CHECK(g.oh >= 1 && g.ow >= 1,
              "{}: input {} is too small for kernel {}x{} with stride ({}, {}), padding ({}, {}), dilation ({}, {})",
              op, shape_str(x.shape()), g.kh, g.kw, g.sh, g.sw, g.ph, g.pw, g.dh, g.dw);
  p.out_shape = {g.n, g.c_out, g.oh, g.ow};
  if (g.kh == 1 && g.kw == 1 && g.ph == 0 && g.pw == 0)
    p.kind = g.sh == 1 && g.sw == 1 ? Kind::pointwise : Kind::pointwise_strided;
  else if (g.groups == g.c_in && g.c_out == g.c_in && g.kh <= kDepthwiseMaxKernel && g.kw <= kDepthwiseMaxKernel)
    p.kind = Kind::depthwise;
  return p;
}

const float* ptr_or_null(const Tensor& t) { return t.defined() ? t.data<float>() : nullptr; }

// A [C_out, C_in/g, 1, 1] weight as GEMM rows with stride ld: no copy when its input channels are
// unit-stride (the first c_in channels of a larger shared weight, say).
struct PointwiseWeight {
  Tensor keep;
  const float* p = nullptr;
  int64_t ld = 0;
};

PointwiseWeight pointwise_weight(const Tensor& w) {
  const int64_t co = w.size(0), ci = w.size(1);
  PointwiseWeight r;
  if ((ci == 1 || w.stride(1) == 1) && (co == 1 || w.stride(0) >= ci))
    r.keep = w;
  else
    r.keep = w.contiguous();
  r.p = r.keep.data<float>();
  r.ld = co == 1 ? ci : std::max<int64_t>(r.keep.stride(0), ci);
  return r;
}

// [C, 1, kh, kw] (any strides: the centre of a larger kernel, a channel slice) -> [kh*kw, C].
void pack_depthwise(const Tensor& w, float* out) {
  const int64_t C = w.size(0), kh = w.size(2), kw = w.size(3);
  const int64_t s0 = w.stride(0), s2 = w.stride(2), s3 = w.stride(3);
  const float* p = w.data<float>();
  for (int64_t c = 0; c < C; ++c)
    for (int64_t i = 0; i < kh; ++i)
      for (int64_t j = 0; j < kw; ++j) out[(i * kw + j) * C + c] = p[c * s0 + i * s2 + j * s3];
}

Tensor unpack_depthwise(const float* gwt, int64_t C, int64_t kh, int64_t kw) {
  Tensor gw = Tensor::empty({C, 1, kh, kw});
  float* p = gw.data<float>();
  for (int64_t c = 0; c < C; ++c)
    for (int64_t k = 0; k < kh * kw; ++k) p[c * kh * kw + k] = gwt[k * C + c];
  return gw;
}

// Scratch for the packed depthwise weight: reused across calls so that inference allocates
// nothing but its output.
float* depthwise_scratch(int64_t n) {
  thread_local std::vector<float> buf;
  if (static_cast<int64_t>(buf.size()) < n) buf.resize(n);
  return buf.data();
}

Tensor strided_input(const Tensor& xcl, const ConvGeom& g) {
  return xcl.slice(2, 0, g.h, g.sh).slice(3, 0, g.w, g.sw).contiguous(MemoryFormat::channels_last);
}

// Shared by conv2d and conv2d_inference. `x` is channels_last; `training` asks oneDNN for a
// forward that its backward primitives can pair with.
void run_forward(const Plan& p, const Tensor& x, const Tensor& w, const Tensor& bias, Activation act,
                 const float* residual, bool training, Tensor& y, Tensor* gathered) {
  const ConvGeom& g = p.g;
  float* py = y.data<float>();
  const float* pb = ptr_or_null(bias);
  const Epilogue ep{pb, act, residual};
  switch (p.kind) {
    case Kind::pointwise:
    case Kind::pointwise_strided: {
      Tensor xs = p.kind == Kind::pointwise ? x : strided_input(x, g);
      if (gathered) *gathered = xs;
      PointwiseWeight pw = pointwise_weight(w);
      pointwise_forward(g.n * g.oh * g.ow, g.c_in, g.c_out, g.groups, xs.data<float>(), pw.p, pw.ld, ep, py);
      break;
    }
    case Kind::depthwise: {
      float* wt = depthwise_scratch(g.kh * g.kw * g.c_in);
      pack_depthwise(w, wt);
      depthwise_forward(g, x.data<float>(), wt, ep, py);
      break;
    }
    case Kind::dnnl: {
      Tensor wd = w.contiguous();
      if (residual) std::memcpy(py, residual, sizeof(float) * y.numel());
      dnnl_conv_forward(g, x.data<float>(), wd.data<float>(), pb, act, residual != nullptr, training, py);
      break;
    }
  }
}

}  // namespace

int64_t conv_out_size(int64_t in, int64_t kernel, int64_t stride, int64_t pad, int64_t dilation) {
  const int64_t span = in + 2 * pad - dilation * (kernel - 1) - 1;
  return span < 0 ? 0 : span / stride + 1;
}

namespace {

// The CUDA kernels' view of a plan's geometry: the depthwise kernel's, and cuDNN's (bf16 under
// autocast, ops/autocast.h).
cuda::DepthwiseGeom depthwise_geom(const ConvGeom& g) {
  return {g.n, g.c_in, g.h, g.w, g.oh, g.ow, g.kh, g.kw, g.sh, g.sw, g.ph, g.pw, g.dh, g.dw};
}
cuda::ConvShape cudnn_shape(const ConvGeom& g, bool bf16) {
  return {g.n, g.c_in, g.h, g.w, g.c_out, g.kh, g.kw, g.oh, g.ow, g.sh, g.sw, g.ph, g.pw, g.dh, g.dw, g.groups, bf16};
}
// A depthwise weight [C, 1, kH, kW] (or a view of one) read in place through its strides.
cuda::DepthwiseWeightLayout weight_in_place(const Tensor& w) { return {w.stride(0), w.stride(2), w.stride(3)}; }

// On a GPU: the bias, the activation and the residual in the epilogue of the depthwise kernel
// (the weight read in place) or of cuDNN's convolution (cuda/conv.h).
Tensor conv2d_inference_cuda(const Tensor& x, const Tensor& w, const Tensor& bias, const Plan& p, Activation act,
                             const Tensor* residual) {
  const ConvGeom& g = p.g;
  const Device dev = x.device();
  if (w.device() != dev || (bias.defined() && bias.device() != dev) || (residual && residual->device() != dev))
    fail("conv2d_inference: input on {} but weight, bias or residual on another device", dev.str());
  const Tensor xcl = x.contiguous(MemoryFormat::channels_last);
  const Tensor b = bias.defined() ? bias.contiguous() : Tensor();
  const Tensor res = residual ? residual->contiguous(MemoryFormat::channels_last) : Tensor();
  Tensor y = Tensor::empty(p.out_shape, DType::f32, MemoryFormat::channels_last, dev);
  if (y.numel() == 0) return y;
  const float* pb = b.defined() ? b.device_data<float>() : nullptr;
  const float* pr = res.defined() ? res.device_data<float>() : nullptr;
  if (p.kind == Kind::depthwise) {
    cuda::depthwise_forward_epilogue(depthwise_geom(g), xcl.device_data<float>(), w.device_data<float>(),
                                     weight_in_place(w), pb, act, pr, y.device_data<float>(), dev.index);
  } else {
    const Tensor wp = w.permute({0, 2, 3, 1}).contiguous();  // cuDNN's NHWC filter
    cuda::conv_forward_epilogue(cudnn_shape(g, autocast_dtype() == DType::bf16), xcl.device_data<float>(),
                                wp.device_data<float>(), pb, act, pr, y.device_data<float>(), dev.index);
  }
  return y;
}

}  // namespace

Tensor conv2d_inference(const Tensor& x, const Tensor& w, const Tensor& bias, const Conv2dOptions& opts, Activation act,
                        const Tensor* residual) {
  const Plan p = make_plan(x, w, bias, opts, "conv2d_inference");
  if (x.is_cuda()) {
    if (residual)
      HWNAS_CHECK(residual->shape() == p.out_shape, "conv2d_inference: residual {} does not match the output {}",
                  shape_str(residual->shape()), shape_str(p.out_shape));
    return conv2d_inference_cuda(x, w, bias, p, act, residual);
  }
  Tensor y = Tensor::empty(p.out_shape, DType::f32, MemoryFormat::channels_last);
  if (y.numel() == 0) return y;
  Tensor res;
  if (residual) {
    HWNAS_CHECK(residual->shape() == p.out_shape, "conv2d_inference: residual {} does not match the output {}",
                shape_str(residual->shape()), shape_str(p.out_shape));
    res = residual->contiguous(MemoryFormat::channels_last);
  }
  Tensor b = bias.defined() ? bias.contiguous() : Tensor();
  run_forward(p, x.contiguous(MemoryFormat::channels_last), w, b, act, ptr_or_null(res), false, y, nullptr);
  return y;
}

namespace {

// The CUDA path: depthwise convs on our own NHWC kernel, everything else on cuDNN with NHWC
// filters. Weights may be strided slices of shared supernet weights. The depthwise kernel reads
// them in place through their strides (an elastic kernel's centre straight from the shared
// weight) and writes the weight gradient in PyTorch's layout; with HWNAS_FUSED=0 it takes the
// composed reference path, packing the weight tap-major first (cuda/conv_depthwise.h). cuDNN
// gets a packed copy (small), and its gradients are permuted back to the slice's layout.
Variable conv2d_cuda(const Variable& x, const Variable& w, const Variable& bias, const Plan& p) {
  const ConvGeom g = p.g;
  const Device dev = x.data().device();
  if (w.data().device() != dev || (bias.defined() && bias.data().device() != dev))
    fail("conv2d: input on {} but weight or bias on another device", dev.str());
  const bool depthwise = p.kind == Kind::depthwise;
  Tensor xcl = x.data().contiguous(MemoryFormat::channels_last);
  Tensor b = bias.defined() ? bias.data().contiguous() : Tensor();
  const cuda::DepthwiseGeom dg = depthwise_geom(g);
  const bool dw_in_place = depthwise && fused_kernels_enabled();
  // Depthwise in place: the weight as it is. Packed: [C, 1, kH, kW] -> [kH, kW, C, 1], i.e.
  // wt[(ky kW + kx) C + c]; cuDNN: [C_out, kH, kW, C_in/g].
  const Tensor& wd = w.data();
  Tensor wp = dw_in_place ? wd
                          : (depthwise ? wd.permute({2, 3, 0, 1}) : wd.permute({0, 2, 3, 1})).contiguous();
  const cuda::DepthwiseWeightLayout wl =
      dw_in_place ? weight_in_place(wd) : cuda::DepthwiseWeightLayout::packed(dg);
  // bf16 autocast applies to cuDNN's convolutions (the backward keeps the forward's precision);
  // the depthwise kernel computes in f32 (ops/autocast.h).
  const cuda::ConvShape cs = cudnn_shape(g, !depthwise && autocast_dtype() == DType::bf16);
  Tensor y = Tensor::empty(p.out_shape, DType::f32, MemoryFormat::channels_last, dev);
  const float* pb = b.defined() ? b.device_data<float>() : nullptr;
  if (y.numel() > 0) {
    if (depthwise)
      cuda::depthwise_forward(dg, xcl.device_data<float>(), wp.device_data<float>(), wl, pb, y.device_data<float>(),
                              dev.index);
    else
      cuda::conv_forward(cs, xcl.device_data<float>(), wp.device_data<float>(), pb, y.device_data<float>(), dev.index);
  }
  if (!needs_grad({x, w, bias})) return make_result(y, "conv2d", {x, w, bias}, nullptr);
  const bool need_gx = x.requires_grad(), need_gw = w.requires_grad();
  const bool need_gb = bias.defined() && bias.requires_grad();
  Tensor saved_x = need_gw ? xcl : Tensor(), saved_w = need_gx ? wp : Tensor();
  const Shape x_shape = x.shape(), w_shape = w.shape();
  return make_result(y, "conv2d", {x, w, bias}, [=](const Tensor& gy_) -> std::vector<Tensor> {
    Tensor gy = gy_.contiguous(MemoryFormat::channels_last);
    Tensor gx, gw, gb;
    if (need_gx) gx = Tensor::empty(x_shape, DType::f32, MemoryFormat::channels_last, dev);
    if (need_gb) gb = Tensor::empty({g.c_out}, DType::f32, MemoryFormat::contiguous, dev);
    if (gy.numel() == 0) {
      for (Tensor* t : {&gx, &gb})
        if (t->defined()) t->zero_();
      if (need_gw) gw = Tensor::empty(w_shape, DType::f32, MemoryFormat::contiguous, dev).zero_();
      return {gx, gw, gb};
    }
    const float* pgy = gy.device_data<float>();
    if (depthwise) {
      if (need_gx)
        cuda::depthwise_backward_data(dg, pgy, saved_w.device_data<float>(), wl, gx.device_data<float>(), dev.index);
      if (need_gw) {  // the bias gradient comes with the weight's, in the same pass over gy
        float* pgb = need_gb ? gb.device_data<float>() : nullptr;
        if (dw_in_place) {  // written straight into PyTorch's layout
          gw = Tensor::empty(w_shape, DType::f32, MemoryFormat::contiguous, dev);
          cuda::depthwise_backward_weight(dg, pgy, saved_x.device_data<float>(), gw.device_data<float>(),
                                          cuda::DepthwiseWeightLayout::pytorch(dg), pgb, dev.index);
        } else {
          Tensor gwt = Tensor::empty({g.kh, g.kw, g.c_in, 1}, DType::f32, MemoryFormat::contiguous, dev);
          cuda::depthwise_backward_weight(dg, pgy, saved_x.device_data<float>(), gwt.device_data<float>(),
                                          cuda::DepthwiseWeightLayout::packed(dg), pgb, dev.index);
          gw = gwt.permute({2, 3, 0, 1}).contiguous();
        }
      } else if (need_gb) {
        sum_rows_on(dev, pgy, g.n * g.oh * g.ow, g.c_out, g.c_out, gb.device_data<float>());
      }
    } else {
      if (need_gx) cuda::conv_backward_data(cs, pgy, saved_w.device_data<float>(), gx.device_data<float>(), dev.index);
      if (need_gw) {
        Tensor gwn = Tensor::empty({g.c_out, g.kh, g.kw, g.c_in / g.groups}, DType::f32, MemoryFormat::contiguous, dev);
        cuda::conv_backward_filter(cs, pgy, saved_x.device_data<float>(), gwn.device_data<float>(), dev.index);
        gw = gwn.permute({0, 3, 1, 2}).contiguous();
      }
      if (need_gb) sum_rows_on(dev, pgy, g.n * g.oh * g.ow, g.c_out, g.c_out, gb.device_data<float>());
    }
    return {gx, gw, gb};
  });
}

}  // namespace

Variable conv2d(const Variable& x, const Variable& w, const Variable& bias, const Conv2dOptions& opts) {
  const Tensor no_bias;
  const Plan p = make_plan(x.data(), w.data(), bias.defined() ? bias.data() : no_bias, opts, "conv2d");
  if (x.data().is_cuda()) return conv2d_cuda(x, w, bias, p);
  const ConvGeom g = p.g;
  Tensor xcl = x.data().contiguous(MemoryFormat::channels_last);
  Tensor b = bias.defined() ? bias.data().contiguous() : Tensor();
  const bool grad = needs_grad({x, w, bias});
  Tensor y = Tensor::empty(p.out_shape, DType::f32, MemoryFormat::channels_last);
  Tensor gathered;
  if (y.numel() > 0) run_forward(p, xcl, w.data(), b, Activation::none, nullptr, grad, y, &gathered);
  if (!grad) return make_result(y, "conv2d", {x, w, bias}, nullptr);

  const bool need_gx = x.requires_grad(), need_gw = w.requires_grad();
  const bool need_gb = bias.defined() && bias.requires_grad();
  // dW needs the input (for a strided 1x1, the gathered pixels); dx needs the weight.
  Tensor saved_x = need_gw ? (p.kind == Kind::pointwise_strided ? gathered : xcl) : Tensor();
  Tensor saved_w = need_gx ? w.data() : Tensor();
  const Kind kind = p.kind;
  const Shape x_shape = x.shape(), w_shape = w.shape();
  return make_result(y, "conv2d", {x, w, bias}, [=](const Tensor& gy_) -> std::vector<Tensor> {
    Tensor gy = gy_.contiguous(MemoryFormat::channels_last);
    Tensor gx, gw, gb;
    if (gy.numel() == 0) {
      if (need_gx) gx = Tensor::zeros(x_shape, DType::f32, MemoryFormat::channels_last);
      if (need_gw) gw = Tensor::zeros(w_shape);
      if (need_gb) gb = Tensor::zeros({g.c_out});
      return {gx, gw, gb};
    }
    // Every kernel writes all of its outputs, except the strided 1x1's dx,
    // which only has values at the sampled pixels.
    if (need_gx)
      gx = kind == Kind::pointwise_strided ? Tensor::zeros(x_shape, DType::f32, MemoryFormat::channels_last)
                                           : Tensor::empty(x_shape, DType::f32, MemoryFormat::channels_last);
    if (need_gw) gw = Tensor::empty(w_shape);
    if (need_gb) gb = Tensor::empty({g.c_out});
    const float* pgy = gy.data<float>();
    const int64_t rows = g.n * g.oh * g.ow;
    switch (kind) {
      case Kind::pointwise:
      case Kind::pointwise_strided: {
        if (need_gx) {
          PointwiseWeight pw = pointwise_weight(saved_w);
          if (kind == Kind::pointwise) {
            pointwise_backward_data(rows, g.c_in, g.c_out, g.groups, pgy, pw.p, pw.ld, gx.data<float>());
          } else {
            Tensor sub = Tensor::empty({g.n, g.c_in, g.oh, g.ow}, DType::f32, MemoryFormat::channels_last);
            pointwise_backward_data(rows, g.c_in, g.c_out, g.groups, pgy, pw.p, pw.ld, sub.data<float>());
            gx.slice(2, 0, g.h, g.sh).slice(3, 0, g.w, g.sw).copy_(sub);
          }
        }
        if (need_gw)
          pointwise_backward_weight(rows, g.c_in, g.c_out, g.groups, pgy, saved_x.data<float>(), gw.data<float>());
        if (need_gb) sum_rows(pgy, rows, g.c_out, g.c_out, gb.data<float>());
        break;
      }
      case Kind::depthwise: {
        if (need_gx) {
          std::vector<float> wt(g.kh * g.kw * g.c_in);
          pack_depthwise(saved_w, wt.data());
          depthwise_backward_data(g, pgy, wt.data(), gx.data<float>());
        }
        if (need_gw) {
          std::vector<float> gwt(g.kh * g.kw * g.c_in);
          depthwise_backward_weight(g, pgy, saved_x.data<float>(), gwt.data(), need_gb ? gb.data<float>() : nullptr);
          gw = unpack_depthwise(gwt.data(), g.c_in, g.kh, g.kw);
        } else if (need_gb) {
          sum_rows(pgy, rows, g.c_out, g.c_out, gb.data<float>());
        }
        break;
      }
      case Kind::dnnl: {
        Tensor wd = need_gx ? saved_w.contiguous() : Tensor();
        dnnl_conv_backward(g, need_gw ? saved_x.data<float>() : nullptr, need_gx ? wd.data<float>() : nullptr, pgy,
                           need_gx ? gx.data<float>() : nullptr, need_gw ? gw.data<float>() : nullptr,
                           need_gb ? gb.data<float>() : nullptr);
        break;
      }
    }
    return {gx, gw, gb};
  });
}

}  // namespace hwnas
