#pragma once
// Where a network with its weights comes from, for `hwnas extract` and `hwnas export`:
//   - a subnet of a supernet checkpoint (`hwnas supernet train`): extracted for an arch, its batch
//     norm optionally recalibrated on Fashion-MNIST training batches;
//   - a built-in network or a network JSON file (weights initialised from a seed);
//   - a folder written by `hwnas extract` (network.json + weights.hwnas) or `hwnas train`
//     (checkpoint.hwnas, the network in its metadata), or that checkpoint file itself;
//   - a .safetensors file written by `hwnas export` (the network in its metadata).
#include <cstdint>
#include <memory>
#include <string>

#include <nlohmann/json.hpp>

#include "nn/network.h"

namespace hwnas {

struct LoadedNetwork {
  NetworkSpec spec;
  std::shared_ptr<Sequential> net;  // in training mode, as built
  nlohmann::json source;            // what it came from, for metadata and messages
};

struct SubnetRequest {
  std::string checkpoint;
  std::string arch = "max";  // max, min, an arch JSON or a file holding one
  int64_t recal_batches = 40;  // 0: keep the supernet's statistics
  int64_t batch = 128;         // recalibration batch size
  std::string data_dir;        // Fashion-MNIST folder (empty: the default)
  uint64_t seed = 0;           // of the recalibration batches
};
LoadedNetwork load_subnet(const SubnetRequest& r);

// `net`: fbnet:ID, elastic-mobile:max|min|ARCH_JSON, a network JSON file (weights from `seed`), or
// a folder / .hwnas / .safetensors file as above (seed unused).
LoadedNetwork load_network(const std::string& net, uint64_t seed = 0);

}  // namespace hwnas
