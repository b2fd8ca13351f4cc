#pragma once
// `host-cpu`: the network run by our engine on this machine's CPU (eval mode, BN folded, no
// autograd) at a fixed batch and thread count; warm-up, then the median of N timed runs with
// the spread reported. Config keys: threads (1), batch (1), warmup (10), runs (30), seed (0),
// rounds (= runs): several networks costed together (cost_many, lookup-table builds) have their
// runs interleaved in that many rounds, so that each network's runs span the whole measurement.
// Why: this machine's speed drifts by +-15% over windows of a few seconds (medians of 60 runs of
// one network, no rebuild, 0.3 s apart: 4.5 to 6.7 ms); 100 fbnet subnets measured one after
// another matched a lookup table within 10% for 4-40% of them, interleaved for 91%.
//
// reference + reference_ms (optional): drift over minutes. Interleaving cannot help networks
// measured minutes apart (a search's subnets, a bound calibrated before the search), and on a
// shared 2-core VM whole phases of a minute run 1.5-2x slower. With a reference network (as
// `hwnas net` names it: fbnet:ID, elastic-mobile:min, a network JSON file), each network's runs
// alternate with the reference's, and the reported latency is the median of the paired ratios
// (network run / the reference run just after it) times reference_ms: the network's latency on
// this machine at the speed at which the reference takes reference_ms. The raw median and the
// reference's own median at that moment are in the details. Layer timings (lookup-table
// builds) are scaled the same way, by the ratio of the reference's median to reference_ms, so a
// table built on such a target is in the same units as its whole-network costs.
#include <string>

#include "hw_targets/target.h"

namespace hwnas {

struct HostCpuOptions {
  int threads = 1;
  int64_t batch = 1;
  int warmup = 10, runs = 30, rounds = 30;
  uint64_t seed = 0;
  std::string reference;   // empty: raw latencies
  NetworkSpec reference_net;  // `reference` resolved once, when the options are read
  double reference_ms = 0;
};
HostCpuOptions host_cpu_options(const nlohmann::json& config, const std::string& source);

// Median and spread of `runs` inference calls of each network (or fragment) under the options'
// thread count, the networks' runs interleaved in `rounds` rounds; with a reference, each
// network's runs paired with the reference's and scaled (above).
std::vector<CostResult> measure_on_host_cpu(const std::vector<NetworkSpec>& nets, const HostCpuOptions& o,
                                            const std::function<void(double)>& progress = {});

TargetPtr make_host_cpu_target(const nlohmann::json& config, const std::string& source);

}  // namespace hwnas
