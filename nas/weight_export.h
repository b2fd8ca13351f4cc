#pragma once
// A network's weights as a safetensors file (io/safetensors.h) under documented tensor names, and
// back (docs/export.md has the exact rules):
//
//   hwnas                     our module paths, as Module::state() names them:
//                             "mbconv3.expand.conv.weight", "conv_bn_act0.bn.running_var", ...
//                             tensors exactly as the network holds them. Any network.
//   fbnet_torch.FBNet         the state_dict keys of ../shared/peers/fbnet_torch.py's FBNet(ops), for
//                             a network that is exactly fbnet_network(ops) (fbnet:ID): "stem.0.weight",
//                             "blocks.4.body.1.1.running_mean", "header.0.weight", "fc.bias"; plus
//                             each BatchNorm2d's "num_batches_tracked" (I64 scalar, 0: we do not
//                             count batches), so FBNet(ops).load_state_dict(tensors) works as is.
//   elastic_torch.ElasticNet  the state_dict keys of ../shared/peers/elastic_torch.py's ElasticNet (the
//                             supernet its fixed subnets run on) for a network that is exactly
//                             elastic_mobile_network(arch): max-size tensors ("stages.1.2.pw"
//                             [240, 40, 1, 1]) with the subnet's weights where ElasticNet.forward(x,
//                             arch) reads them (the first C_in*e hidden channels, the centre kxk of
//                             the 5x5 depthwise filters) and PyTorch's initial values elsewhere
//                             (conv weights 0, BN weight 1, bias 0, mean 0, var 1). The arch is in
//                             the metadata ("hwnas.arch"); ElasticNet().load_state_dict(tensors) then
//                             forward(x, arch) gives our outputs.
//
// "auto" picks the peer naming when the network is a peer network and hwnas otherwise (e.g. with
// Split-Attention). Metadata written: "format" = "pt", "hwnas.naming", "hwnas.network" (the network
// JSON), and "hwnas.fbnet_ops" or "hwnas.arch" for the peer namings.
//
// Import reads either naming back (from "hwnas.naming", or, in files without it such as a
// PyTorch peer's state_dict saved as safetensors, from the names it holds) into a network built
// from the spec; it copies bit-exactly, and refuses, listing every problem, files whose names,
// shapes or dtypes do not fit, and files written for another network or arch.
#include <cstdint>
#include <memory>
#include <optional>
#include <string>
#include <vector>

#include "io/safetensors.h"
#include "nas/builtin_networks.h"
#include "nn/network.h"

namespace hwnas {

enum class WeightNaming { hwnas, fbnet_torch, elastic_torch };
const char* weight_naming_name(WeightNaming n);  // "hwnas", "fbnet_torch.FBNet", "elastic_torch.ElasticNet"

// The peer network with exactly this structure (same layers, strides, widths, activations), if any.
std::optional<std::vector<std::string>> fbnet_ops_of(const NetworkSpec& spec);
std::optional<ElasticMobileArch> elastic_mobile_arch_of(const NetworkSpec& spec);
// fbnet_torch / elastic_torch when the network is one of theirs, else hwnas.
WeightNaming peer_naming(const NetworkSpec& spec);

// One tensor of the file and where it comes from.
struct FileWeight {
  std::string file_name;
  Shape file_shape;
  DType dtype = DType::f32;
  std::string module_name;  // our Module::state() name; empty for a tensor only the peer has
  Shape offset;             // where our tensor sits inside the file tensor, per dim (empty: all 0)
  float fill = 0;           // the value of the file tensor outside our tensor
};
// Every tensor of `net` (build_network(spec, ...) or an extracted subnet) appears exactly once.
std::vector<FileWeight> weight_layout(const NetworkSpec& spec, const Module& net, WeightNaming naming);

// The file's tensors and metadata for `naming` ("auto" picks peer_naming(spec)).
struct WeightFile {
  WeightNaming naming = WeightNaming::hwnas;
  NamedTensors tensors;
  SafetensorsMetadata metadata;
};
WeightNaming resolve_naming(const NetworkSpec& spec, const std::string& names);  // "auto" | "hwnas"
WeightFile network_weight_file(const NetworkSpec& spec, const Module& net, WeightNaming naming,
                               const SafetensorsMetadata& extra_metadata = {});

struct SafetensorsExport {
  WeightNaming naming = WeightNaming::hwnas;
  int64_t tensors = 0;
  uint64_t bytes = 0;
};
SafetensorsExport export_safetensors(const NetworkSpec& spec, const Module& net, const std::string& path,
                                     const std::string& names = "auto",
                                     const SafetensorsMetadata& extra_metadata = {});

// Copies the file's weights into `net` (all or nothing). Returns the naming it found.
WeightNaming import_safetensors(const NetworkSpec& spec, Module& net, const SafetensorsFile& file);

// A file written by export_safetensors: the network from its "hwnas.network" metadata, built and
// loaded with the file's weights.
struct LoadedWeights {
  NetworkSpec spec;
  std::shared_ptr<Sequential> net;
  WeightNaming naming = WeightNaming::hwnas;
};
LoadedWeights load_network_safetensors(const std::string& path);

}  // namespace hwnas
