#pragma once
// A fixed network described by JSON: input shape, classes and a list of layers; channel counts
// flow from layer to layer, so a layer names only its output width. The format (documented in
// docs/network-json.md):
//   {"name": "...", "input": [C, H, W], "classes": K, "layers": [
//      {"type": "conv_bn_act", "out": 16, "kernel": 3, "stride": 1, "groups": 1, "act": "relu6"},
//      {"type": "mbconv", "out": 24, "kernel": 5, "stride": 2, "expand": 6, "groups": 1, "act": "relu6"},
//      {"type": "conv", "out": 8, "kernel": 3, "stride": 1, "padding": 1, "groups": 1, "bias": true},
//      {"type": "batch_norm", "act": "relu"}, {"type": "activation", "act": "hswish"},
//      {"type": "max_pool"|"avg_pool", "kernel": 2, "stride": 2, "padding": 0},
//      {"type": "channel_shuffle", "groups": 2}, {"type": "identity"},
//      {"type": "global_avg_pool"}, {"type": "flatten"}, {"type": "dropout", "p": 0.2},
//      {"type": "linear", "out": 10}]}
// The last layer must produce [N, classes].
#include <nlohmann/json.hpp>
#include <memory>
#include <string>

#include "nn/layers.h"

namespace hwnas {

struct NetworkSpec {
  std::string name;
  Shape input;  // C, H, W
  // 0 marks a fragment (a few layers timed alone, e.g. for a lookup table): its output is whatever
  // the last layer produces. A parsed network file always has classes > 0.
  int64_t classes = 0;
  nlohmann::json layers;
};

// Parses and validates (types, required keys, positive sizes, shapes flowing through); errors
// name `source` (a file or a built-in name), the layer index and the problem.
NetworkSpec parse_network_spec(const nlohmann::json& j, const std::string& source);
nlohmann::json network_spec_to_json(const NetworkSpec& spec);

// Builds the network with weights initialised from `seed`.
std::shared_ptr<Sequential> build_network(const NetworkSpec& spec, uint64_t seed);

// Multiply-adds of one forward pass per image (convs and linears), for FLOP/s reporting.
int64_t network_macs(const NetworkSpec& spec);

}  // namespace hwnas
