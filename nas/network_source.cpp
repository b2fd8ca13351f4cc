#include "nas/network_source.h"

#include <filesystem>
#include <fstream>

#include "io/checkpoint.h"
#include "nas/bn_recalibration.h"
#include "nas/builtin_networks.h"
#include "nas/builtin_spaces.h"
#include "nas/supernet_train.h"
#include "nas/weight_export.h"

namespace hwnas {

using nlohmann::json;
namespace fs = std::filesystem;

namespace {

NamedTensors state_of(const Module& net, const std::string& prefix) {
  NamedTensors t;
  for (auto& [n, v] : net.state()) t.emplace_back(prefix + n, v);
  return t;
}

NetworkSpec read_network_json(const std::string& path) {
  std::ifstream f(path);
  if (!f) fail("cannot read network file {}", path);
  try {
    return parse_network_spec(json::parse(f), path);
  } catch (const json::exception& e) {
    fail("{}: invalid JSON: {}", path, e.what());
  }
}

// A .hwnas file of `hwnas train` or `hwnas extract`.
LoadedNetwork load_hwnas_checkpoint(const std::string& path) {
  const Checkpoint ck = load_checkpoint(path);
  const std::string kind = ck.metadata.value("kind", "");
  LoadedNetwork r;
  r.source = {{"net", path}, {"kind", kind}};
  if (kind == "hwnas-train") {
    const json cfg = ck.metadata.value("config", json());
    if (!cfg.contains("net")) fail("{}: a training checkpoint without its network (metadata config.net)", path);
    r.spec = parse_network_spec(cfg.at("net"), path);
    r.net = build_network(r.spec, 0);
    load_into(ck, state_of(*r.net, "model."), /*allow_unexpected=*/true);  // optimizer state is not needed
    r.source["epochs_done"] = ck.metadata.value("epochs_done", 0);
  } else if (kind == "hwnas-subnet") {
    const fs::path beside = fs::path(path).parent_path() / "network.json";
    if (fs::exists(beside)) {
      r.spec = read_network_json(beside.string());
    } else if (ck.metadata.contains("arch")) {
      r.spec = arch_network(elastic_mobile_space(), parse_arch(elastic_mobile_space(), ck.metadata.at("arch").dump()),
                            "subnet");
    } else {
      fail("{}: a subnet's weights without network.json beside them or an arch in the metadata", path);
    }
    r.net = build_network(r.spec, 0);
    load_into(ck, state_of(*r.net, ""));
    if (ck.metadata.contains("arch")) r.source["arch"] = ck.metadata.at("arch");
  } else if (kind == "hwnas-supernet") {
    fail("{} is a supernet checkpoint: give it as --checkpoint with an --arch", path);
  } else {
    fail("{}: checkpoint kind \"{}\" holds no network (expected one of `hwnas train` or `hwnas extract`)", path, kind);
  }
  return r;
}

}  // namespace

LoadedNetwork load_subnet(const SubnetRequest& q) {
  auto supernet = load_supernet(q.checkpoint);
  const SearchSpace& space = elastic_mobile_space();
  const Arch arch = parse_arch(space, q.arch);
  LoadedNetwork r;
  r.net = extract_subnet(*supernet, arch);
  if (q.recal_batches > 0) {
    DatasetPair data = load_dataset_pair("fashion-mnist", q.data_dir);
    DataLoader recal = recalibration_loader(data, q.batch, q.seed);
    recalibrate_bn(*r.net, recal, q.recal_batches);
  }
  r.spec = arch_network(space, arch, "subnet");
  r.source = {{"checkpoint", q.checkpoint}, {"arch", arch_to_json(space, arch)}, {"recal_batches", q.recal_batches}};
  return r;
}

LoadedNetwork load_network(const std::string& net, uint64_t seed) {
  std::error_code ec;
  if (fs::is_directory(net, ec)) {
    const fs::path d(net);
    if (fs::exists(d / "network.json") && fs::exists(d / "weights.hwnas")) {
      LoadedNetwork r;
      r.spec = read_network_json((d / "network.json").string());
      r.net = build_network(r.spec, 0);
      const Checkpoint ck = load_checkpoint((d / "weights.hwnas").string());
      load_into(ck, state_of(*r.net, ""));
      r.source = {{"net", net}, {"kind", ck.metadata.value("kind", "")}};
      if (ck.metadata.contains("arch")) r.source["arch"] = ck.metadata.at("arch");
      return r;
    }
    if (fs::exists(d / "checkpoint.hwnas")) return load_hwnas_checkpoint((d / "checkpoint.hwnas").string());
    fail("folder {} has neither network.json + weights.hwnas (hwnas extract) nor checkpoint.hwnas (hwnas train)", net);
  }
  if (net.ends_with(".hwnas")) return load_hwnas_checkpoint(net);
  if (net.ends_with(".safetensors")) {
    LoadedWeights w = load_network_safetensors(net);
    return {w.spec, w.net, {{"net", net}, {"naming", weight_naming_name(w.naming)}}};
  }
  LoadedNetwork r;
  r.spec = resolve_network(net);
  r.net = build_network(r.spec, seed);
  r.source = {{"net", net}, {"seed", seed}};
  return r;
}

}  // namespace hwnas
