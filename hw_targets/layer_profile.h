#pragma once
// A network seen layer by layer, as the cost models see it: each layer's input and output
// shapes, multiply-adds, parameters and bytes moved, and a canonical key that names the layer's
// work (a lookup table has one entry per key; two layers with the same key cost the same).
#include <nlohmann/json.hpp>

#include <string>
#include <vector>

#include "nn/network.h"

namespace hwnas {

struct LayerWork {
  size_t index = 0;      // position in net.layers
  std::string type;      // the layer's "type" (conv_bn_act, mbconv, linear, global_avg_pool, ...)
  nlohmann::json layer;  // the layer JSON
  Shape in, out;         // C, H, W (after flattening: C, 1, 1)
  int64_t macs = 0;      // multiply-adds at batch 1 (an mbconv: its three convs)
  int64_t params = 0;    // weights, biases, BN affine
  // f32 bytes at batch 1: weights read, the layer's input read and output written, and the
  // activations made and consumed inside the layer (an mbconv's hidden tensors).
  double weight_bytes = 0, input_bytes = 0, output_bytes = 0, internal_bytes = 0;
  std::string key;  // e.g. "mbconv in=16x32x32 act=relu expand=6 groups=1 kernel=3 out=24 stride=1"
};

std::vector<LayerWork> layer_profile(const NetworkSpec& net);

// The key of `layer` applied to an input of shape `in` (what layer_profile puts in `key`).
std::string layer_key(const nlohmann::json& layer, const Shape& in);

// A one-layer fragment (classes 0) that runs `w`'s layer alone on its input shape.
NetworkSpec layer_fragment(const LayerWork& w);

}  // namespace hwnas
