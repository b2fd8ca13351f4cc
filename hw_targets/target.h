#pragma once
// What a subnet costs on a piece of hardware. A Target is measured (host CPU through our engine,
// ONNX Runtime, CUDA), a table (per-layer lookup), a model (roofline, FPGA) or a learned
// predictor; all answer the same question for a fixed network, so a search can ask any of them.
//
// Each target is configured by a small JSON object (docs/hw-targets.md), so a user adds a device
// by writing a file, not by recompiling:
//   {"name": "my-laptop", "kind": "host-cpu", "threads": 1, "batch": 1, "warmup": 10, "runs": 30}
// `kind` picks the implementation from the registry; every other key is the kind's own.
#include <nlohmann/json.hpp>

#include <functional>
#include <memory>
#include <optional>
#include <string>
#include <vector>

#include "nas/space.h"
#include "nn/network.h"

namespace hwnas {

enum class CostMethod { measured, table, model, predicted };
const char* cost_method_name(CostMethod m);

struct CostResult {
  double latency_ms = 0;
  CostMethod method = CostMethod::measured;
  std::optional<double> energy_mj;     // where the target knows it
  std::optional<double> memory_bytes;  // peak memory (measured) or on-chip memory (modeled)
  std::optional<double> area_mm2;      // modeled accelerators
  // Measured targets: the spread of the timed runs, (p90 - p10) / median in percent.
  std::optional<double> spread_pct;
  nlohmann::json details = nlohmann::json::object();  // target-specific (per-layer, config...)
};
nlohmann::json cost_to_json(const CostResult& r);

// One network's layers, each timed where it runs inside the network (input just produced by the
// layer before, weights wherever the earlier layers left them): layer_ms[i] is the median time
// of net.layers[i] (0 for a layer that runs no kernel), whole_ms the median whole run as cost()
// would time it (host-cpu: the sum of the layer times, nothing runs between them; onnxruntime: a
// twin session without the profiler, so it includes the runtime's own work around the nodes).
struct LayerTimings {
  std::vector<double> layer_ms;
  double whole_ms = 0;
};

class Target {
 public:
  virtual ~Target() = default;
  // The name a user gave the target (the config's "name", else its kind).
  virtual std::string name() const = 0;
  virtual std::string kind() const = 0;
  // The cost of one forward pass of `net` at the target's configured batch.
  virtual CostResult cost(const NetworkSpec& net) = 0;
  // Several networks at once; targets with a per-call start-up cost (a runtime process) batch them.
  virtual std::vector<CostResult> cost_many(const std::vector<NetworkSpec>& nets) {
    std::vector<CostResult> r;
    for (const NetworkSpec& n : nets) r.push_back(cost(n));
    return r;
  }
  // Measured targets that can time each layer inside a whole network run (see LayerTimings)
  // say so here; lookup tables are built from such timings (hw_targets/lut_build.h).
  virtual bool times_layers_in_context() const { return false; }
  virtual std::vector<LayerTimings> time_layers_in_context(const std::vector<NetworkSpec>& nets);
  // The configuration it was built from, with defaults filled in (written beside results).
  virtual nlohmann::json config() const = 0;
  // Set by a caller that shows progress: long measurements (cost_many, time_layers_in_context)
  // that can tell call it with the fraction of the call done.
  std::function<void(double)> on_progress;
};
using TargetPtr = std::unique_ptr<Target>;

// The cost of a subnet of a space: its fixed network (arch_network) costed by the target.
CostResult subnet_cost_on(Target& t, const SearchSpace& s, const Arch& a);

// Registry by kind. Each kind's factory validates its config and throws naming the key.
using TargetFactory = std::function<TargetPtr(const nlohmann::json& config)>;
void register_target_kind(const std::string& kind, TargetFactory factory);
std::vector<std::string> target_kinds();

// `name_or_file`: a kind with its defaults ("host-cpu", "onnxruntime", "roofline", "fpga",
// "cuda"), or a JSON config file; `overrides` are merged into the config (CLI flags).
TargetPtr make_target(const std::string& name_or_file, const nlohmann::json& overrides = nlohmann::json::object());
TargetPtr make_target_from_config(const nlohmann::json& config, const std::string& source);

// Typed reads of a target config that name the target, the key and what was expected.
struct TargetConfigReader {
  const nlohmann::json& config;
  std::string source;
  double number(const std::string& key, double fallback, double min_value) const;
  int64_t integer(const std::string& key, int64_t fallback, int64_t min_value) const;
  std::string string(const std::string& key, const std::string& fallback) const;
  // Throws when the config has a key outside `known` (catches typos such as "thread").
  void only(const std::vector<std::string>& known) const;
};

}  // namespace hwnas
