// General convolutions (stems with 1 or 3 input channels, grouped and dense k x k) through
// oneDNN. Activations stay nhwc; the weights are given to oneDNN as "any" so that it picks its
// direct jit kernels. With plain oihw weights oneDNN 2.6 only offers its reference kernel for nhwc
// activations, and with hwio only its im2col GEMM, 2-7x slower than the jit kernels on our
// shapes; the price is a reorder of the (small) weights per call. Primitives are built once per
// geometry and cached.
#include <omp.h>

#include <memory>
#include <mutex>
#include <oneapi/dnnl/dnnl.hpp>
#include <unordered_map>

#include "ops/conv_kernels.h"
#include "ops/gemm.h"
#include "tensor/tensor.h"

namespace hwnas::conv_detail {
namespace {

using dnnl::memory;
using tag = memory::format_tag;
constexpr auto f32 = memory::data_type::f32;

dnnl::engine& engine() {
  static dnnl::engine e(dnnl::engine::kind::cpu, 0);
  return e;
}

dnnl::stream& stream() {
  thread_local dnnl::stream s(engine());
  return s;
}

// oneDNN fixes a primitive's thread count when it is built and forks that many threads for each
// of its parallel sections. Small convolutions (tiny tests, late layers at batch 1) lose more to
// fork/join than they gain, and lose badly when cores are oversubscribed, so they get a
// single-threaded primitive, built and run with the thread count set to 1.
int threads_for(const ConvGeom& g) {
  const double flops = 2.0 * g.n * g.oh * g.ow * g.c_out * (g.c_in / g.groups) * g.kh * g.kw;
  return flops < 2e6 ? 1 : omp_get_max_threads();
}

class ScopedThreads {
 public:
  explicit ScopedThreads(int n) : prev_(omp_get_max_threads()) {
    if (n != prev_) omp_set_num_threads(n);
  }
  ~ScopedThreads() {
    if (omp_get_max_threads() != prev_) omp_set_num_threads(prev_);
  }
  ScopedThreads(const ScopedThreads&) = delete;
  ScopedThreads& operator=(const ScopedThreads&) = delete;

 private:
  int prev_;
};

// All fields int64_t so the struct has no padding and hashes as plain bytes.
struct Key {
  int64_t n, c_in, h, w, c_out, kh, kw, sh, sw, ph, pw, dh, dw, groups;
  int64_t has_bias, training, act, residual, threads;
  bool operator==(const Key&) const = default;
};

struct KeyHash {
  size_t operator()(const Key& k) const {
    const auto* p = reinterpret_cast<const unsigned char*>(&k);
    uint64_t h = 1469598103934665603ull;
    for (size_t i = 0; i < sizeof k; ++i) h = (h ^ p[i]) * 1099511628211ull;
    return h;
  }
};

struct Descs {
  memory::desc src, dst, user_w, any_w, bias;
  memory::dims strides, dilates, pad_l, pad_r;
};

Descs make_descs(const ConvGeom& g) {
  Descs d;
  d.src = memory::desc({g.n, g.c_in, g.h, g.w}, f32, tag::nhwc);
  d.dst = memory::desc({g.n, g.c_out, g.oh, g.ow}, f32, tag::nhwc);
  const memory::dims wd = g.groups == 1 ? memory::dims{g.c_out, g.c_in, g.kh, g.kw}
                                        : memory::dims{g.groups, g.c_out / g.groups, g.c_in / g.groups, g.kh, g.kw};
  d.user_w = memory::desc(wd, f32, g.groups == 1 ? tag::oihw : tag::goihw);
  d.any_w = memory::desc(wd, f32, tag::any);
  d.bias = memory::desc({g.c_out}, f32, tag::x);
  d.strides = {g.sh, g.sw};
  d.dilates = {g.dh - 1, g.dw - 1};  // oneDNN counts the gaps, not the step
  d.pad_l = {g.ph, g.pw};
  d.pad_r = {g.ph, g.pw};
  return d;
}

dnnl::post_ops act_post_ops(Activation act, bool residual) {
  dnnl::post_ops po;
  using A = dnnl::algorithm;
  switch (act) {
    case Activation::none:
      break;
    case Activation::relu:
      po.append_eltwise(1.f, A::eltwise_relu, 0.f, 0.f);
      break;
    case Activation::relu6:
      po.append_eltwise(1.f, A::eltwise_clip, 0.f, 6.f);
      break;
    case Activation::hswish:
      po.append_eltwise(1.f, A::eltwise_hardswish, 0.f, 0.f);
      break;
    case Activation::hsigmoid:
      po.append_eltwise(1.f, A::eltwise_linear, 1.f / 6.f, 0.5f);
      po.append_eltwise(1.f, A::eltwise_clip, 0.f, 1.f);
      break;
    case Activation::sigmoid:
      po.append_eltwise(1.f, A::eltwise_logistic, 0.f, 0.f);
      break;
    case Activation::swish:
      po.append_eltwise(1.f, A::eltwise_swish, 1.f, 0.f);
      break;
  }
  if (residual) po.append_sum(1.f);  // after the activation: y = act(conv + b) + y_before
  return po;
}

struct Entry {
  Descs d;
  dnnl::convolution_forward::primitive_desc fwd_pd;
  dnnl::convolution_forward fwd;
  dnnl::reorder w_to_fwd;  // empty when oneDNN keeps the plain layout
  std::once_flag bwd_once;
  dnnl::convolution_backward_data::primitive_desc bd_pd;
  dnnl::convolution_backward_data bd;
  dnnl::reorder w_to_bd;
  dnnl::convolution_backward_weights::primitive_desc bw_pd;
  dnnl::convolution_backward_weights bw;
  dnnl::reorder gw_to_user;
};

dnnl::reorder reorder_if_needed(const memory::desc& from, const memory::desc& to) {
  if (from == to) return {};
  return dnnl::reorder(dnnl::reorder::primitive_desc(engine(), from, engine(), to));
}

std::shared_ptr<Entry> build_forward(const ConvGeom& g, const Key& k) {
  auto e = std::make_shared<Entry>();
  e->d = make_descs(g);
  const auto& d = e->d;
  const auto prop = k.training ? dnnl::prop_kind::forward_training : dnnl::prop_kind::forward_inference;
  const auto desc = k.has_bias
                        ? dnnl::convolution_forward::desc(prop, dnnl::algorithm::convolution_direct, d.src, d.any_w,
                                                          d.bias, d.dst, d.strides, d.dilates, d.pad_l, d.pad_r)
                        : dnnl::convolution_forward::desc(prop, dnnl::algorithm::convolution_direct, d.src, d.any_w,
                                                          d.dst, d.strides, d.dilates, d.pad_l, d.pad_r);
  dnnl::primitive_attr attr;
  attr.set_post_ops(act_post_ops(static_cast<Activation>(k.act), k.residual != 0));
  e->fwd_pd = dnnl::convolution_forward::primitive_desc(desc, attr, engine());
  e->fwd = dnnl::convolution_forward(e->fwd_pd);
  e->w_to_fwd = reorder_if_needed(d.user_w, e->fwd_pd.weights_desc());
  return e;
}

void build_backward(Entry& e) {
  const auto& d = e.d;
  e.bd_pd = dnnl::convolution_backward_data::primitive_desc(
      dnnl::convolution_backward_data::desc(dnnl::algorithm::convolution_direct, d.src, d.any_w, d.dst, d.strides,
                                            d.dilates, d.pad_l, d.pad_r),
      engine(), e.fwd_pd);
  e.bd = dnnl::convolution_backward_data(e.bd_pd);
  e.w_to_bd = reorder_if_needed(d.user_w, e.bd_pd.weights_desc());
  e.bw_pd = dnnl::convolution_backward_weights::primitive_desc(
      dnnl::convolution_backward_weights::desc(dnnl::algorithm::convolution_direct, d.src, d.any_w, d.bias, d.dst,
                                               d.strides, d.dilates, d.pad_l, d.pad_r),
      engine(), e.fwd_pd);
  e.bw = dnnl::convolution_backward_weights(e.bw_pd);
  e.gw_to_user = reorder_if_needed(e.bw_pd.diff_weights_desc(), d.user_w);
}

Entry& lookup(const ConvGeom& g, bool has_bias, bool training, Activation act, bool residual, int threads) {
  static std::mutex mu;
  static std::unordered_map<Key, std::shared_ptr<Entry>, KeyHash> cache;
  // clang-format off
  const Key k{g.n, g.c_in, g.h, g.w, g.c_out, g.kh, g.kw, g.sh, g.sw, g.ph, g.pw, g.dh, g.dw, g.groups,
              has_bias, training, static_cast<int64_t>(act), residual, threads};
  // clang-format on
  std::lock_guard lock(mu);
  auto& slot = cache[k];
  if (!slot) {
    try {
      slot = build_forward(g, k);
    } catch (const dnnl::error& err) {
      cache.erase(k);
      fail(
          "conv2d: oneDNN has no convolution for x [{}, {}, {}, {}], {} filters {}x{}, stride {}x{}, pad {}x{}, "
          "dilation {}x{}, groups {}: {}",
          g.n, g.c_in, g.h, g.w, g.c_out, g.kh, g.kw, g.sh, g.sw, g.ph, g.pw, g.dh, g.dw, g.groups, err.what());
    }
  }
  return *slot;  // entries are never erased once built, so the reference outlives the lock
}

// The weights as the primitive wants them: the user's buffer, or a reordered copy in `scratch`.
memory weights_for(const dnnl::reorder& r, const memory::desc& user, const memory::desc& want, const float* w,
                   Tensor& scratch) {
  memory um(user, engine(), const_cast<float*>(w));
  if (!r) return um;
  scratch = Tensor::empty({static_cast<int64_t>(want.get_size() / sizeof(float))});
  memory m(want, engine(), scratch.data<float>());
  r.execute(stream(), um, m);
  return m;
}

}  // namespace

void dnnl_conv_forward(const ConvGeom& g, const float* x, const float* w, const float* bias, Activation act,
                       bool residual, bool training, float* y) {
  HWNAS_CHECK(!training || (act == Activation::none && !residual),
              "conv2d: activation and residual are only fused in inference");
  const int threads = threads_for(g);
  ScopedThreads scope(threads);
  Entry& e = lookup(g, bias != nullptr, training, act, residual, threads);
  Tensor scratch;
  memory wm = weights_for(e.w_to_fwd, e.d.user_w, e.fwd_pd.weights_desc(), w, scratch);
  std::unordered_map<int, memory> args{{DNNL_ARG_SRC, memory(e.d.src, engine(), const_cast<float*>(x))},
                                       {DNNL_ARG_WEIGHTS, wm},
                                       {DNNL_ARG_DST, memory(e.d.dst, engine(), y)}};
  if (bias) args.emplace(DNNL_ARG_BIAS, memory(e.d.bias, engine(), const_cast<float*>(bias)));
  e.fwd.execute(stream(), args);
  stream().wait();
}

void dnnl_conv_backward(const ConvGeom& g, const float* x, const float* w, const float* gy, float* gx, float* gw,
                        float* gb) {
  // The backward primitives hang off the training forward of the same geometry (its hint).
  const int threads = threads_for(g);
  ScopedThreads scope(threads);
  Entry& e = lookup(g, true, true, Activation::none, false, threads);
  std::call_once(e.bwd_once, [&] { build_backward(e); });
  memory gym(e.d.dst, engine(), const_cast<float*>(gy));
  Tensor w_scratch, gw_blocked, gb_scratch;  // alive until the stream is done with them
  if (gx) {
    memory wm = weights_for(e.w_to_bd, e.d.user_w, e.bd_pd.weights_desc(), w, w_scratch);
    e.bd.execute(
        stream(),
        {{DNNL_ARG_DIFF_DST, gym}, {DNNL_ARG_WEIGHTS, wm}, {DNNL_ARG_DIFF_SRC, memory(e.d.src, engine(), gx)}});
  }
  if (gw) {
    const memory::desc gwd = e.bw_pd.diff_weights_desc();
    if (e.gw_to_user) gw_blocked = Tensor::empty({static_cast<int64_t>(gwd.get_size() / sizeof(float))});
    memory gwm(gwd, engine(), e.gw_to_user ? gw_blocked.data<float>() : gw);
    if (!gb) gb_scratch = Tensor::empty({g.c_out});
    e.bw.execute(stream(), {{DNNL_ARG_DIFF_DST, gym},
                            {DNNL_ARG_SRC, memory(e.d.src, engine(), const_cast<float*>(x))},
                            {DNNL_ARG_DIFF_WEIGHTS, gwm},
                            {DNNL_ARG_DIFF_BIAS, memory(e.d.bias, engine(), gb ? gb : gb_scratch.data<float>())}});
    if (e.gw_to_user) {
      memory user(e.d.user_w, engine(), gw);
      e.gw_to_user.execute(stream(), gwm, user);
    }
  } else if (gb) {
    sum_rows(gy, g.n * g.oh * g.ow, g.c_out, g.c_out, gb);
  }
  stream().wait();
}

const char* dnnl_conv_impl(const ConvGeom& g, bool has_bias) {
  const int threads = threads_for(g);
  ScopedThreads scope(threads);
  return lookup(g, has_bias, true, Activation::none, false, threads).fwd_pd.impl_info_str();
}

}  // namespace hwnas::conv_detail
