#include "io/onnx_export.h"

#include <onnx/checker.h>
#include <onnx/shape_inference/implementation.h>

#include <cmath>

#include "io/atomic_file.h"
#include "io/onnx_builder.h"
#include "nn/split_attention.h"

namespace hwnas {

using nlohmann::json;

namespace {

// A batch norm's parameters for entries [start, start + c) (Split-Attention uses slices of one
// larger BatchNorm2d).
struct BnParams {
  std::vector<float> gamma, beta, mean, var;
  float eps = 1e-5f;
  Activation act = Activation::none;
};

BnParams bn_params(const BatchNorm2d& bn, int64_t start, int64_t c) {
  auto slice = [&](const Tensor& t) { return t.narrow(0, start, c).to_vector(); };
  return {slice(bn.weight.data()), slice(bn.bias.data()), slice(bn.running_mean), slice(bn.running_var), bn.eps,
          bn.act};
}

// The activation shape as the layers change it (batch excluded); `flat` once it is [N, C].
struct Value {
  std::string name;
  int64_t c, h, w;
  bool flat = false;
};

class Exporter {
 public:
  Exporter(onnx::GraphProto* g, const OnnxExportOptions& o) : b_(g), o_(o) {}

  Value layer(size_t i, const json& spec_layer, const ModulePtr& m, const Value& x, const json* next_layer,
              const ModulePtr& next_module, bool* consumed_next);

 private:
  [[noreturn]] void error(const std::string& what) const {
    fail("onnx export: layer {} ({}): {}", index_, type_, what);
  }
  template <class M>
  M& as(const ModulePtr& m, const char* expected) const {
    auto* p = dynamic_cast<M*>(m.get());
    if (!p) error(fmt::format("the module is {}, expected {} (is the network built from this spec?)",
                              m ? m->type_name() : "null", expected));
    return *p;
  }
  std::string n(const std::string& what) const { return fmt::format("layer{}/{}", index_, what); }

  std::string act(const std::string& x, Activation a, const std::string& base);
  std::string conv(const std::string& x, const Tensor& w, std::vector<float> bias, const Conv2dOptions& co,
                   const BnParams* bn, const std::string& base);
  std::string batch_norm(const std::string& x, const BnParams& bn, const std::string& base);
  std::string conv_bn_act(const std::string& x, ConvBnAct& m, const std::string& base);
  std::string shuffle(const std::string& x, int64_t groups, int64_t c, int64_t h, int64_t w);
  std::string split_attention(const std::string& x, SplitAttentionConv& sa);

  OnnxGraphBuilder b_;
  const OnnxExportOptions& o_;
  size_t index_ = 0;
  std::string type_;
};

std::string Exporter::act(const std::string& x, Activation a, const std::string& base) {
  switch (a) {
    case Activation::none: return x;
    case Activation::relu: return b_.op("Relu", {x}, base + "/relu");
    case Activation::relu6: return b_.op("Clip", {x, b_.scalar(0.f), b_.scalar(6.f)}, base + "/relu6");
    case Activation::sigmoid: return b_.op("Sigmoid", {x}, base + "/sigmoid");
    case Activation::swish: return b_.op("Mul", {x, b_.op("Sigmoid", {x}, base + "/swish_gate")}, base + "/swish");
    case Activation::hsigmoid:
      return b_.op("HardSigmoid", {x}, base + "/hsigmoid", {attr_float("alpha", 1.f / 6.f), attr_float("beta", 0.5f)});
    case Activation::hswish: {
      if (o_.opset >= 14) return b_.op("HardSwish", {x}, base + "/hswish");
      const std::string gate =
          b_.op("Clip", {b_.op("Add", {x, b_.scalar(3.f)}, base + "/hswish_shift"), b_.scalar(0.f), b_.scalar(6.f)},
                base + "/hswish_clip");
      return b_.op("Mul", {b_.op("Mul", {x, gate}, base + "/hswish_mul"), b_.scalar(1.f / 6.f)}, base + "/hswish");
    }
  }
  error(fmt::format("activation {} has no ONNX mapping", static_cast<int>(a)));
}

// Conv with weight w [O, I/g, kh, kw] (any memory layout) and optional bias; with `bn` and
// folding on, the batch norm is folded in (its activation is left to the caller), else a
// BatchNormalization node follows.
std::string Exporter::conv(const std::string& x, const Tensor& w, std::vector<float> bias, const Conv2dOptions& co,
                           const BnParams* bn, const std::string& base) {
  if (w.dim() != 4) error(fmt::format("conv weight must be 4-D, got {}", shape_str(w.shape())));
  const int64_t out = w.size(0), per = w.numel() / out;
  std::vector<float> wv = w.to_vector();  // logical order = OIHW
  const bool fold = bn && o_.fold_bn;
  if (fold) {
    // BN(conv(x) + b) = conv(x) * s + (b - mean) * s + beta, s = gamma / sqrt(var + eps); in double
    // so the folded weights are as close to the unfolded maths as float allows.
    if (bias.empty()) bias.assign(out, 0.f);
    for (int64_t o = 0; o < out; ++o) {
      const double s = bn->gamma[o] / std::sqrt(static_cast<double>(bn->var[o]) + bn->eps);
      for (int64_t i = 0; i < per; ++i) wv[o * per + i] = static_cast<float>(wv[o * per + i] * s);
      bias[o] = static_cast<float>((static_cast<double>(bias[o]) - bn->mean[o]) * s + bn->beta[o]);
    }
  }
  std::vector<std::string> inputs = {x, b_.weight(base + "/weight", w.shape(), wv)};
  if (!bias.empty()) inputs.push_back(b_.weight(base + "/bias", {out}, bias));
  const std::string y =
      b_.op("Conv", inputs, base + "/conv",
            {attr_ints("kernel_shape", {w.size(2), w.size(3)}), attr_ints("strides", {co.stride_h, co.stride_w}),
             attr_ints("pads", {co.pad_h, co.pad_w, co.pad_h, co.pad_w}),
             attr_ints("dilations", {co.dilation_h, co.dilation_w}), attr_int("group", co.groups)});
  return bn && !fold ? batch_norm(y, *bn, base) : y;
}

std::string Exporter::batch_norm(const std::string& x, const BnParams& bn, const std::string& base) {
  const int64_t c = static_cast<int64_t>(bn.gamma.size());
  return b_.op("BatchNormalization",
               {x, b_.weight(base + "/bn_scale", {c}, bn.gamma), b_.weight(base + "/bn_bias", {c}, bn.beta),
                b_.weight(base + "/bn_mean", {c}, bn.mean), b_.weight(base + "/bn_var", {c}, bn.var)},
               base + "/bn", {attr_float("epsilon", bn.eps)});
}

std::string Exporter::conv_bn_act(const std::string& x, ConvBnAct& m, const std::string& base) {
  const BnParams bn = bn_params(*m.bn, 0, m.bn->weight.size(0));
  std::vector<float> bias = m.conv->bias.defined() ? m.conv->bias.data().to_vector() : std::vector<float>{};
  return act(conv(x, m.conv->weight.data(), bias, m.conv->opts, &bn, base), bn.act, base);
}

std::string Exporter::shuffle(const std::string& x, int64_t g, int64_t c, int64_t h, int64_t w) {
  // Shape entry 0 copies the (possibly symbolic) batch dim.
  const std::string split = b_.op("Reshape", {x, b_.int64s(n("shuffle_shape5"), {0, g, c / g, h, w})}, n("shuffle_split"));
  const std::string t = b_.op("Transpose", {split}, n("shuffle_transpose"), {attr_ints("perm", {0, 2, 1, 3, 4})});
  return b_.op("Reshape", {t, b_.int64s(n("shuffle_shape4"), {0, c, h, w})}, n("shuffle"));
}

std::string Exporter::split_attention(const std::string& x, SplitAttentionConv& sa) {
  // The module's largest configuration is what forward(x) computes for a built network.
  const int64_t c = sa.max_channels, k = sa.max_kernel, r = sa.max_radix, a = SplitAttentionConv::attention_width(c, r);
  const Conv2dOptions dw_opts = Conv2dOptions::make(sa.stride, k / 2, 1, c);
  const std::string axis1 = b_.int64s(n("sa_axis1"), {1});
  std::vector<std::string> stacked;
  for (int64_t m = 0; m < r; ++m) {
    const BnParams bn = bn_params(*sa.bn, m * sa.max_channels, c);
    const std::string base = n(fmt::format("sa_split{}", m));
    const std::string s = act(conv(x, sa.dw_weight(m, c, k).data(), {}, dw_opts, &bn, base), bn.act, base);
    stacked.push_back(b_.op("Unsqueeze", {s, axis1}, base + "/unsqueeze"));
  }
  const std::string splits = b_.op("Concat", stacked, n("sa_splits"), {attr_int("axis", 1)});  // [N, r, C, H, W]
  const std::string sum = b_.op("ReduceSum", {splits, axis1}, n("sa_sum"), {attr_int("keepdims", 0)});
  const std::string pooled = b_.op("GlobalAveragePool", {sum}, n("sa_pool"));  // [N, C, 1, 1]
  const BnParams fc1_bn = bn_params(*sa.fc1_bn, 0, a);
  const std::string hidden =
      act(conv(pooled, sa.fc1_weight(c, r).data(), sa.fc1_bias(c, r).data().to_vector(), Conv2dOptions{}, &fc1_bn,
               n("sa_fc1")),
          fc1_bn.act, n("sa_fc1"));
  // fc2 of every split as one conv with split-major output channels.
  Tensor fc2_w = Tensor::empty({r * c, a, 1, 1});
  std::vector<float> fc2_b;
  for (int64_t m = 0; m < r; ++m) {
    fc2_w.narrow(0, m * c, c).copy_(sa.fc2_weight(m, c, r).data());
    const auto bm = sa.fc2_bias(m, c).data().to_vector();
    fc2_b.insert(fc2_b.end(), bm.begin(), bm.end());
  }
  const std::string logits = conv(hidden, fc2_w, fc2_b, Conv2dOptions{}, nullptr, n("sa_fc2"));
  const std::string att5 = b_.op("Reshape", {logits, b_.int64s(n("sa_att_shape"), {0, r, c, 1, 1})}, n("sa_logits"));
  const std::string att = b_.op("Softmax", {att5}, n("sa_softmax"), {attr_int("axis", 1)});
  const std::string weighted = b_.op("Mul", {splits, att}, n("sa_weighted"));
  return b_.op("ReduceSum", {weighted, axis1}, n("sa_out"), {attr_int("keepdims", 0)});
}

Value Exporter::layer(size_t i, const json& l, const ModulePtr& m, const Value& x, const json* next_layer,
                      const ModulePtr& next_module, bool* consumed_next) {
  index_ = i;
  type_ = l.value("type", std::string("?"));
  Value y = x;
  auto spatial = [&](int64_t k, int64_t s, int64_t p, int64_t d) {
    y.h = conv_out_size(x.h, k, s, p, d);
    y.w = conv_out_size(x.w, k, s, p, d);
  };
  const bool needs_4d = type_ != "linear" && type_ != "dropout" && type_ != "activation" && type_ != "identity" &&
                        type_ != "batch_norm" && type_ != "flatten";
  if (x.flat && needs_4d) error("needs a 4-D input, but the previous layers already flattened it");
  if (type_ == "conv_bn_act") {
    auto& cba = as<ConvBnAct>(m, "ConvBnAct");
    const auto& co = cba.conv->opts;
    spatial(cba.conv->kernel, co.stride_h, co.pad_h, co.dilation_h);
    y.c = cba.conv->out_channels;
    y.name = conv_bn_act(x.name, cba, n("conv_bn_act"));
  } else if (type_ == "conv") {
    auto& cv = as<Conv2d>(m, "Conv2d");
    std::vector<float> bias = cv.bias.defined() ? cv.bias.data().to_vector() : std::vector<float>{};
    // A batch_norm layer right after a plain conv folds into it like a conv_bn_act's.
    const bool fold_next = o_.fold_bn && next_layer && next_layer->value("type", "") == "batch_norm" &&
                           dynamic_cast<BatchNorm2d*>(next_module.get());
    spatial(cv.kernel, cv.opts.stride_h, cv.opts.pad_h, cv.opts.dilation_h);
    y.c = cv.out_channels;
    if (fold_next) {
      auto& bn = static_cast<BatchNorm2d&>(*next_module);
      const BnParams p = bn_params(bn, 0, bn.weight.size(0));
      y.name = act(conv(x.name, cv.weight.data(), bias, cv.opts, &p, n("conv")), p.act, n("conv"));
      *consumed_next = true;
    } else {
      y.name = conv(x.name, cv.weight.data(), bias, cv.opts, nullptr, n("conv"));
    }
  } else if (type_ == "mbconv") {
    auto& mb = as<MBConv>(m, "MBConv");
    std::string h = conv_bn_act(x.name, *mb.expand_conv, n("expand"));
    const int64_t hidden = mb.expand_conv->conv->out_channels;
    if (mb.shuffle_groups > 1) h = shuffle(h, mb.shuffle_groups, hidden, x.h, x.w);
    if (mb.dw_conv) {
      const auto& co = mb.dw_conv->conv->opts;
      spatial(mb.dw_conv->conv->kernel, co.stride_h, co.pad_h, co.dilation_h);
      h = conv_bn_act(h, *mb.dw_conv, n("dw"));
    } else {
      auto& sa = *mb.split_attention;
      spatial(sa.max_kernel, sa.stride, sa.max_kernel / 2, 1);
      h = split_attention(h, sa);
    }
    h = conv_bn_act(h, *mb.project_conv, n("project"));
    y.c = mb.project_conv->conv->out_channels;
    y.name = mb.residual ? b_.op("Add", {h, x.name}, n("residual")) : h;
  } else if (type_ == "batch_norm") {
    auto& bn = as<BatchNorm2d>(m, "BatchNorm2d");
    const BnParams p = bn_params(bn, 0, bn.weight.size(0));
    y.name = act(batch_norm(x.name, p, n("batch_norm")), p.act, n("batch_norm"));
  } else if (type_ == "activation") {
    y.name = act(x.name, as<ActivationLayer>(m, "ActivationLayer").act, n("activation"));
  } else if (type_ == "max_pool" || type_ == "avg_pool") {
    auto& p = as<Pool2d>(m, "Pool2d");
    const auto& po = p.opts;
    spatial(po.kernel, po.stride, po.padding, 1);
    std::vector<OnnxAttr> attrs = {attr_ints("kernel_shape", {po.kernel, po.kernel}),
                                   attr_ints("strides", {po.stride, po.stride}),
                                   attr_ints("pads", {po.padding, po.padding, po.padding, po.padding})};
    if (!p.is_max) attrs.push_back(attr_int("count_include_pad", po.count_include_pad ? 1 : 0));
    y.name = b_.op(p.is_max ? "MaxPool" : "AveragePool", {x.name}, n(type_), attrs);
  } else if (type_ == "channel_shuffle") {
    y.name = shuffle(x.name, as<ChannelShuffle>(m, "ChannelShuffle").groups, x.c, x.h, x.w);
  } else if (type_ == "identity") {
    as<Identity>(m, "Identity");
  } else if (type_ == "dropout") {
    as<Dropout>(m, "Dropout");  // the identity at inference
  } else if (type_ == "global_avg_pool") {
    as<GlobalAvgPool>(m, "GlobalAvgPool");
    y.name = b_.op("Flatten", {b_.op("GlobalAveragePool", {x.name}, n("pool"))}, n("flatten"), {attr_int("axis", 1)});
    y.h = y.w = 1;
    y.flat = true;
  } else if (type_ == "flatten") {
    as<Flatten>(m, "Flatten");
    y.name = b_.op("Flatten", {x.name}, n("flatten"), {attr_int("axis", 1)});
    y.c = x.c * x.h * x.w;
    y.h = y.w = 1;
    y.flat = true;
  } else if (type_ == "linear") {
    auto& lin = as<Linear>(m, "Linear");
    if (!x.flat) error("needs a 2-D input [N, C]: put global_avg_pool or flatten before it");
    const Tensor& w = lin.weight.data();
    if (w.size(1) != x.c) error(fmt::format("weight {} does not take {} inputs", shape_str(w.shape()), x.c));
    std::vector<std::string> in = {x.name, b_.weight(n("weight"), w.shape(), w.to_vector())};
    if (lin.bias.defined()) in.push_back(b_.weight(n("bias"), {w.size(0)}, lin.bias.data().to_vector()));
    y.name = b_.op("Gemm", in, n("gemm"), {attr_int("transB", 1)});
    y.c = w.size(0);
  } else {
    error("this layer type has no ONNX mapping");
  }
  if (!y.flat && (y.h <= 0 || y.w <= 0)) error(fmt::format("output {}x{} is empty", y.h, y.w));
  return y;
}

void check(const onnx::ModelProto& model, const std::string& what) {
  try {
    onnx::checker::check_model(model);
    // Strict shape inference on a copy: every node's shapes must be consistent, and the inferred
    // output must agree with the declared output shape.
    onnx::ModelProto copy = model;
    onnx::shape_inference::InferShapes(copy, onnx::OpSchemaRegistry::Instance(),
                                       onnx::ShapeInferenceOptions(true, 1, true));
  } catch (const std::exception& e) {
    fail("onnx export: {} fails the ONNX checker: {}", what, e.what());
  }
}

}  // namespace

onnx::ModelProto export_onnx(const NetworkSpec& spec, Sequential& net, const OnnxExportOptions& opts) {
  if (opts.opset < 13 || opts.opset > 17)
    fail("onnx export: opset {} is not supported, expected 13..17 (the ops used change meaning outside it)",
         opts.opset);
  if (!opts.dynamic_batch && opts.batch < 1) fail("onnx export: batch must be positive, got {}", opts.batch);
  if (spec.input.size() != 3) fail("onnx export: network {} input must be [C, H, W], got {}", spec.name, shape_str(spec.input));
  const auto& mods = net.layers();
  if (!spec.layers.is_array() || mods.size() != spec.layers.size())
    fail("onnx export: network {} has {} layers but the module has {} (is it built from this spec?)", spec.name,
         spec.layers.is_array() ? spec.layers.size() : 0, mods.size());

  onnx::ModelProto model;
  model.set_ir_version(onnx::IR_VERSION);
  model.set_producer_name("hwnas");
  model.set_producer_version(HWNAS_VERSION);
  model.set_doc_string(fmt::format("{} exported by hwnas (opset {}, batch norm {})", spec.name, opts.opset,
                                   opts.fold_bn ? "folded" : "unfolded"));
  auto* imp = model.add_opset_import();
  imp->set_domain("");
  imp->set_version(opts.opset);
  onnx::GraphProto* g = model.mutable_graph();
  g->set_name(spec.name.empty() ? "hwnas" : spec.name);

  const int64_t batch = opts.dynamic_batch ? -1 : opts.batch;
  set_float_tensor_info(g->add_input(), "input", {batch, spec.input[0], spec.input[1], spec.input[2]}, "batch");

  Exporter ex(g, opts);
  Value v{"input", spec.input[0], spec.input[1], spec.input[2]};
  for (size_t i = 0; i < mods.size(); ++i) {
    const bool has_next = i + 1 < mods.size();
    bool consumed_next = false;
    v = ex.layer(i, spec.layers[i], mods[i], v, has_next ? &spec.layers[i + 1] : nullptr,
                 has_next ? mods[i + 1] : nullptr, &consumed_next);
    if (consumed_next) ++i;
  }

  // Name the last value "logits": rename its producer's output (nothing consumes it yet), or add
  // an Identity when the network passes a graph input through.
  OnnxGraphBuilder b(g);
  onnx::NodeProto* last = b.producer(v.name);
  if (last) {
    for (auto& o : *last->mutable_output())
      if (o == v.name) o = "logits";
  } else {
    b.op("Identity", {v.name}, "logits");
  }
  std::vector<int64_t> out_dims = {batch, v.c};
  if (!v.flat) out_dims.insert(out_dims.end(), {v.h, v.w});
  set_float_tensor_info(g->add_output(), "logits", out_dims, "batch");
  check(model, "network " + spec.name);
  return model;
}

namespace {
void write_model(const onnx::ModelProto& model, const std::string& path) {
  std::string bytes;
  if (!model.SerializeToString(&bytes)) fail("onnx export: cannot serialize the model for {}", path);
  write_file_atomic(path, bytes);
}
}  // namespace

void save_onnx(const onnx::ModelProto& model, const std::string& path) {
  check(model, path);
  write_model(model, path);
}

std::string export_onnx_bytes(const NetworkSpec& spec, Sequential& net, const OnnxExportOptions& opts) {
  std::string bytes;
  if (!export_onnx(spec, net, opts).SerializeToString(&bytes))
    fail("onnx export: cannot serialize network {}", spec.name);
  return bytes;
}

void export_onnx_file(const NetworkSpec& spec, Sequential& net, const std::string& path,
                      const OnnxExportOptions& opts) {
  write_model(export_onnx(spec, net, opts), path);  // export_onnx has checked it
}

void export_network_onnx(const NetworkSpec& spec, uint64_t seed, const std::string& path,
                         const OnnxExportOptions& opts) {
  auto net = build_network(spec, seed);
  net->eval();
  export_onnx_file(spec, *net, path, opts);
}

}  // namespace hwnas
