// Per-layer work of a network, from the same analytic counts as subnet_cost (nas/space_cost.cpp).
#include "hw_targets/layer_profile.h"

#include <fmt/format.h>

#include "nas/space.h"

namespace hwnas {

using nlohmann::json;

namespace {

double f32_bytes(const Shape& s) {
  double n = 4;
  for (int64_t d : s) n *= double(d);
  return n;
}

}  // namespace

std::string layer_key(const json& layer, const Shape& in) {
  std::string key = layer.at("type").get<std::string>();
  key += fmt::format(" in={}x{}x{}", in.at(0), in.at(1), in.at(2));
  // json objects iterate in sorted key order, so the key does not depend on how a file spells it.
  for (const auto& [k, v] : layer.items()) {
    if (k == "type" || k == "name") continue;
    key += " " + k + "=" + (v.is_string() ? v.get<std::string>() : v.dump());
  }
  return key;
}

std::vector<LayerWork> layer_profile(const NetworkSpec& net) {
  std::vector<Shape> outs;
  layers_cost(net.input, net.layers, &outs);
  std::vector<LayerWork> r;
  Shape in = net.input;
  for (size_t i = 0; i < net.layers.size(); ++i) {
    LayerWork w;
    w.index = i;
    w.layer = net.layers[i];
    w.type = w.layer.at("type").get<std::string>();
    w.in = in;
    w.out = outs[i];
    const SubnetCost c = layers_cost(in, json::array({w.layer}));
    w.macs = c.macs;
    w.params = c.params;
    w.weight_bytes = 4.0 * double(c.params);
    const bool makes_output = w.type != "identity" && w.type != "dropout" && w.type != "flatten";
    w.input_bytes = f32_bytes(in);
    w.output_bytes = makes_output ? f32_bytes(w.out) : 0;
    w.internal_bytes = std::max(0.0, double(c.activation_bytes) - w.output_bytes);
    w.key = layer_key(w.layer, in);
    r.push_back(std::move(w));
    in = outs[i];
  }
  return r;
}

NetworkSpec layer_fragment(const LayerWork& w) {
  NetworkSpec s;
  s.name = w.key;
  s.input = w.in;
  s.classes = 0;
  s.layers = json::array({w.layer});
  // A linear layer needs a flat input; flattening [C, 1, 1] is a view and costs nothing.
  if (w.type == "linear") s.layers = json::array({json{{"type", "flatten"}}, w.layer});
  return s;
}

}  // namespace hwnas
