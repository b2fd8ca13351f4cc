#pragma once
// `host-cpu`: the network run by our engine on this machine's CPU (eval mode, BN folded, no
// autograd) at a fixed batch and thread count; warm-up, then the median of N timed runs with
// the spread reported. Config keys: threads (1), batch (1), warmup (10), runs (30), seed (0).
#include "hw_targets/target.h"

namespace hwnas {

struct HostCpuOptions {
  int threads = 1;
  int64_t batch = 1;
  int warmup = 10, runs = 30;
  uint64_t seed = 0;
};
HostCpuOptions host_cpu_options(const nlohmann::json& config, const std::string& source);

// The timing both the target and the lookup-table builder use: median and spread of `runs`
// inference calls of `net` (a network or a fragment) under the options' thread count.
CostResult measure_on_host_cpu(const NetworkSpec& net, const HostCpuOptions& o);

TargetPtr make_host_cpu_target(const nlohmann::json& config, const std::string& source);

}  // namespace hwnas
