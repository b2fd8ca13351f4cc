#pragma once
// `lut`: a per-layer lookup table. A network's latency is the sum of its layers' entries plus a
// per-network overhead (what a whole run costs beyond its layers: dispatch, the input copy).
// The table is a JSON file a person can also write by hand (docs/hw-targets.md):
//   {"kind": "lut", "name": "host-cpu-fbnet", "overhead_ms": 0.02,
//    "entries": {"mbconv in=16x32x32 act=relu expand=6 groups=1 kernel=3 out=24 stride=1": 0.41, ...}}
// Keys are layer_key(layer, input shape) (hw_targets/layer_profile.h). Layers that do no work
// (identity, flatten, dropout) cost 0 when the table has no entry for them; any other layer
// without an entry is an error naming its key.
#include <map>

#include "hw_targets/target.h"

namespace hwnas {

struct LatencyTable {
  std::string name;
  double overhead_ms = 0;
  std::map<std::string, double> entries;  // layer key -> ms
  nlohmann::json meta = nlohmann::json::object();  // how it was built: target config, space, date
};

LatencyTable latency_table_from_json(const nlohmann::json& j, const std::string& source);
nlohmann::json latency_table_to_json(const LatencyTable& t);
LatencyTable load_latency_table(const std::string& path);
void save_latency_table(const LatencyTable& t, const std::string& path);  // atomic

// The table's prediction with the per-layer terms in details["layers"].
CostResult table_cost(const LatencyTable& t, const NetworkSpec& net, const std::string& source);

// Config: the table itself ({"kind": "lut", "entries": ...}) or {"kind": "lut", "table": FILE}.
TargetPtr make_lut_target(const nlohmann::json& config, const std::string& source);

}  // namespace hwnas
