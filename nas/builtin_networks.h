#pragma once
// The two benchmark networks of ../shared/peers/README.md as fixed networks:
//   fbnet:ID            row ID of the FBNet-space archs.csv (or "fbnet:op0,op1,...,op21")
//   elastic-mobile:max  | elastic-mobile:min | elastic-mobile:{"kernel":[..],"expand":[..],"depth":[..]}
// and resolve_network(), which also accepts a path to a network JSON file.
#include <string>
#include <vector>

#include "nn/network.h"

namespace hwnas {

inline const std::vector<std::string> kFbnetOps = {"k3_e1", "k3_e1_g2", "k3_e3", "k3_e6", "k5_e1",
                                                   "k5_e1_g2", "k5_e3", "k5_e6", "skip"};

// Where archs.csv is looked up: $HWNAS_FBNET_ARCHS, then the shared data folder beside the
// source tree (../shared/data/fbnet-latency/archs.csv).
std::string default_fbnet_archs_path();
std::vector<std::string> fbnet_arch_ops(const std::string& id_or_ops, const std::string& archs_csv = "");
NetworkSpec fbnet_network(const std::vector<std::string>& ops, const std::string& name);

struct ElasticMobileArch {
  std::vector<int> kernel, expand, depth;  // 10, 10, 4 entries
};
ElasticMobileArch elastic_mobile_arch(const std::string& spec);  // "max", "min" or arch JSON
NetworkSpec elastic_mobile_network(const ElasticMobileArch& arch, const std::string& name);

// A built-in name (above) or a path to a network JSON file.
NetworkSpec resolve_network(const std::string& net);

}  // namespace hwnas
