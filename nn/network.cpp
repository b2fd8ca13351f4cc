#include "nn/network.h"

#include <optional>
#include <set>

namespace hwnas {

using nlohmann::json;

namespace {

struct LayerCtx {
  const std::string& source;
  size_t index;
  const json& layer;

  [[noreturn]] void error(const std::string& what) const {
    fail("{}: layer {} {}: {}", source, index, layer.dump(), what);
  }
  int64_t get_int(const char* key, std::optional<int64_t> dflt = std::nullopt, int64_t min = 1) const {
    if (!layer.contains(key)) {
      if (dflt) return *dflt;
      error(fmt::format("missing integer key \"{}\"", key));
    }
    const json& v = layer.at(key);
    if (!v.is_number_integer()) error(fmt::format("\"{}\" must be an integer, got {}", key, v.dump()));
    const int64_t x = v.get<int64_t>();
    if (x < min) error(fmt::format("\"{}\" must be >= {}, got {}", key, min, x));
    return x;
  }
  Activation get_act(Activation dflt) const {
    if (!layer.contains("act")) return dflt;
    if (!layer.at("act").is_string()) error("\"act\" must be a string");
    try {
      return activation_from_name(layer.at("act").get<std::string>());
    } catch (const Error& e) {
      error(e.what());
    }
  }
};

const std::set<std::string>& layer_types() {
  static const std::set<std::string> t = {"conv_bn_act", "mbconv",   "conv",    "batch_norm",      "activation",
                                          "max_pool",    "avg_pool", "channel_shuffle", "identity", "global_avg_pool",
                                          "flatten",     "dropout",  "linear"};
  return t;
}

// Walks the layers tracking the activation shape (validating as it goes), counts multiply-adds,
// and builds the modules when `net` is given.
int64_t walk(const NetworkSpec& spec, const std::string& source, Sequential* net, uint64_t seed) {
  Generator gen(seed);
  int64_t c = spec.input[0], h = spec.input[1], w = spec.input[2];
  bool flat = false;
  int64_t macs = 0;
  for (size_t i = 0; i < spec.layers.size(); ++i) {
    const json& l = spec.layers[i];
    LayerCtx ctx{source, i, l};
    if (!l.is_object() || !l.contains("type") || !l.at("type").is_string()) ctx.error("needs a string \"type\"");
    const std::string type = l.at("type").get<std::string>();
    if (!layer_types().count(type))
      ctx.error(fmt::format("unknown type \"{}\" (known: {})", type, fmt::join(layer_types(), ", ")));
    const bool spatial_op = type != "linear" && type != "dropout" && type != "activation" && type != "identity" &&
                            type != "batch_norm";
    if (flat && spatial_op) ctx.error("needs a 4-D input, but the previous layers already flattened it");
    ModulePtr m;
    auto conv_out = [&](int64_t k, int64_t s, int64_t p, int64_t d) {
      const int64_t oh = conv_out_size(h, k, s, p, d), ow = conv_out_size(w, k, s, p, d);
      if (oh <= 0 || ow <= 0) ctx.error(fmt::format("input {}x{} is too small for kernel {} stride {}", h, w, k, s));
      h = oh;
      w = ow;
    };
    if (type == "conv_bn_act" || type == "conv") {
      const int64_t out = ctx.get_int("out"), k = ctx.get_int("kernel"), s = ctx.get_int("stride", 1);
      const int64_t g = ctx.get_int("groups", 1);
      const int64_t p = type == "conv" ? ctx.get_int("padding", k / 2, 0) : k / 2;
      if (c % g || out % g) ctx.error(fmt::format("groups {} must divide in {} and out {}", g, c, out));
      conv_out(k, s, p, 1);
      macs += h * w * out * (c / g) * k * k;
      if (net) {
        if (type == "conv_bn_act")
          m = std::make_shared<ConvBnAct>(c, out, k, s, g, ctx.get_act(Activation::relu), gen);
        else
          m = std::make_shared<Conv2d>(c, out, k, Conv2dOptions::make(s, p, 1, g), l.value("bias", false), gen);
      }
      c = out;
    } else if (type == "mbconv") {
      const int64_t out = ctx.get_int("out"), k = ctx.get_int("kernel"), s = ctx.get_int("stride", 1);
      const int64_t e = ctx.get_int("expand"), g = ctx.get_int("groups", 1), r = ctx.get_int("radix", 1);
      const int64_t hid = c * e;
      if (c % g || out % g || hid % g) ctx.error(fmt::format("groups {} must divide in {}, hidden {} and out {}", g, c, hid, out));
      if (r < 1) ctx.error(fmt::format("radix must be 1 or more, got {}", r));
      macs += h * w * hid * (c / g);
      conv_out(k, s, k / 2, 1);
      macs += h * w * hid * k * k * r + h * w * out * (hid / g);
      // Split-Attention's fc1 and fc2 on the pooled [hid] vector (ResNeSt's width rule).
      if (r > 1) macs += hid * std::max<int64_t>(hid * r / 4, 32) * (1 + r);
      if (net) m = std::make_shared<MBConv>(c, out, k, s, e, g, ctx.get_act(Activation::relu), gen, r);
      c = out;
    } else if (type == "batch_norm") {
      if (net) m = std::make_shared<BatchNorm2d>(c, 1e-5f, 0.1f, ctx.get_act(Activation::none));
    } else if (type == "activation") {
      if (!l.contains("act")) ctx.error("missing \"act\"");
      if (net) m = std::make_shared<ActivationLayer>(ctx.get_act(Activation::none));
    } else if (type == "max_pool" || type == "avg_pool") {
      const int64_t k = ctx.get_int("kernel", 2), s = ctx.get_int("stride", k), p = ctx.get_int("padding", 0, 0);
      conv_out(k, s, p, 1);
      if (net) m = std::make_shared<Pool2d>(type == "max_pool", Pool2dOptions{k, s, p, true});
    } else if (type == "channel_shuffle") {
      const int64_t g = ctx.get_int("groups");
      if (c % g) ctx.error(fmt::format("groups {} must divide channels {}", g, c));
      if (net) m = std::make_shared<ChannelShuffle>(g);
    } else if (type == "identity") {
      if (net) m = std::make_shared<Identity>();
    } else if (type == "global_avg_pool") {
      flat = true;
      h = w = 1;
      if (net) m = std::make_shared<GlobalAvgPool>();
    } else if (type == "flatten") {
      c = c * h * w;
      h = w = 1;
      flat = true;
      if (net) m = std::make_shared<Flatten>();
    } else if (type == "dropout") {
      if (!l.contains("p") || !l.at("p").is_number() || l.at("p").get<double>() < 0 || l.at("p").get<double>() >= 1)
        ctx.error("\"p\" must be a number in [0, 1)");
      if (net) m = std::make_shared<Dropout>(l.at("p").get<float>(), seed + 1000003 * (i + 1));
    } else if (type == "linear") {
      if (!flat) ctx.error("needs a 2-D input: put global_avg_pool or flatten before it");
      const int64_t out = ctx.get_int("out");
      macs += c * out;
      if (net) m = std::make_shared<Linear>(c, out, l.value("bias", true), gen);
      c = out;
    }
    if (net) net->add(type + std::to_string(i), m);
  }
  if (spec.classes > 0 && (!flat || c != spec.classes))
    fail("{}: the last layer must produce [N, {}] (classes), but the network ends with {}", source, spec.classes,
         flat ? fmt::format("[N, {}]", c) : fmt::format("[N, {}, {}, {}]", c, h, w));
  return macs;
}

}  // namespace

NetworkSpec parse_network_spec(const json& j, const std::string& source) {
  if (!j.is_object()) fail("{}: a network description must be a JSON object", source);
  NetworkSpec s;
  s.name = j.value("name", source);
  if (!j.contains("input") || !j.at("input").is_array() || j.at("input").size() != 3)
    fail("{}: \"input\" must be [C, H, W]", source);
  for (const auto& d : j.at("input")) {
    if (!d.is_number_integer() || d.get<int64_t>() <= 0) fail("{}: \"input\" entries must be positive integers, got {}", source, j.at("input").dump());
    s.input.push_back(d.get<int64_t>());
  }
  if (!j.contains("classes") || !j.at("classes").is_number_integer() || j.at("classes").get<int64_t>() <= 0)
    fail("{}: \"classes\" must be a positive integer", source);
  s.classes = j.at("classes").get<int64_t>();
  if (!j.contains("layers") || !j.at("layers").is_array() || j.at("layers").empty())
    fail("{}: \"layers\" must be a non-empty array", source);
  s.layers = j.at("layers");
  walk(s, source, nullptr, 0);  // validates
  return s;
}

json network_spec_to_json(const NetworkSpec& spec) {
  return json{{"name", spec.name}, {"input", spec.input}, {"classes", spec.classes}, {"layers", spec.layers}};
}

std::shared_ptr<Sequential> build_network(const NetworkSpec& spec, uint64_t seed) {
  auto net = std::make_shared<Sequential>();
  walk(spec, spec.name, net.get(), seed);
  return net;
}

int64_t network_macs(const NetworkSpec& spec) { return walk(spec, spec.name, nullptr, 0); }

}  // namespace hwnas
