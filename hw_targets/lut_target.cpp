#include "hw_targets/lut_target.h"

#include <filesystem>
#include <fstream>

#include "hw_targets/layer_profile.h"
#include "io/atomic_file.h"
#include "tensor/error.h"

namespace hwnas {

using nlohmann::json;

LatencyTable latency_table_from_json(const json& j, const std::string& source) {
  if (!j.is_object()) fail("lookup table {}: must be a JSON object", source);
  LatencyTable t;
  t.name = j.value("name", source);
  if (j.contains("overhead_ms")) {
    if (!j.at("overhead_ms").is_number()) fail("lookup table {}: \"overhead_ms\" must be a number", source);
    t.overhead_ms = j.at("overhead_ms").get<double>();
  }
  if (!j.contains("entries") || !j.at("entries").is_object() || j.at("entries").empty())
    fail("lookup table {}: needs \"entries\": a non-empty object of layer key -> latency in ms", source);
  for (const auto& [k, v] : j.at("entries").items()) {
    if (!v.is_number() || v.get<double>() < 0)
      fail("lookup table {}: entry \"{}\" must be a latency in ms (a number >= 0), got {}", source, k, v.dump());
    t.entries[k] = v.get<double>();
  }
  if (j.contains("meta")) t.meta = j.at("meta");
  return t;
}

json latency_table_to_json(const LatencyTable& t) {
  json entries = json::object();
  for (const auto& [k, v] : t.entries) entries[k] = v;
  return json{{"kind", "lut"}, {"name", t.name}, {"unit", "ms"}, {"overhead_ms", t.overhead_ms},
              {"meta", t.meta}, {"entries", entries}};
}

LatencyTable load_latency_table(const std::string& path) {
  std::ifstream f(path);
  if (!f) fail("lookup table {}: cannot open the file", path);
  json j;
  try {
    j = json::parse(f);
  } catch (const json::exception& e) {
    fail("lookup table {}: not valid JSON ({})", path, e.what());
  }
  return latency_table_from_json(j, path);
}

void save_latency_table(const LatencyTable& t, const std::string& path) {
  write_file_atomic(path, latency_table_to_json(t).dump(2) + "\n");
}

CostResult table_cost(const LatencyTable& t, const NetworkSpec& net, const std::string& source) {
  CostResult r;
  r.method = CostMethod::table;
  r.latency_ms = t.overhead_ms;
  json layers = json::array();
  for (const LayerWork& w : layer_profile(net)) {
    auto it = t.entries.find(w.key);
    double ms = 0;
    if (it != t.entries.end()) {
      ms = it->second;
    } else if (w.type != "identity" && w.type != "flatten" && w.type != "dropout") {
      fail("lookup table {}: no entry for layer {} of {} (\"{}\"); build the table for this space with "
           "`hwnas lut build` or add the entry by hand",
           source, w.index, net.name, w.key);
    }
    r.latency_ms += ms;
    layers.push_back(json{{"index", w.index}, {"type", w.type}, {"key", w.key}, {"ms", ms}});
  }
  r.details = json{{"layers", layers}, {"overhead_ms", t.overhead_ms}};
  return r;
}

namespace {

class LutTarget : public Target {
 public:
  LutTarget(LatencyTable t, json config, std::string source)
      : table_(std::move(t)), config_(std::move(config)), source_(std::move(source)) {}
  std::string name() const override { return config_.value("name", table_.name); }
  std::string kind() const override { return "lut"; }
  CostResult cost(const NetworkSpec& net) override { return table_cost(table_, net, source_); }
  json config() const override { return config_; }

 private:
  LatencyTable table_;
  json config_;
  std::string source_;
};

}  // namespace

TargetPtr make_lut_target(const json& config, const std::string& source) {
  if (!config.contains("table") && !config.contains("entries"))
    fail("target {}: a lookup table needs \"table\": FILE (e.g. from `hwnas lut build`) or inline \"entries\"", source);
  TargetConfigReader{config, source}.only({"table", "entries", "overhead_ms", "meta", "unit"});
  if (config.contains("table")) {
    if (!config.at("table").is_string()) fail("target {}: \"table\" must be the path of a lookup-table JSON file", source);
    std::filesystem::path p = config.at("table").get<std::string>();
    // A relative table path is relative to the config file that names it.
    if (p.is_relative() && config.contains("source")) {
      const auto dir = std::filesystem::path(config.at("source").get<std::string>()).parent_path();
      if (!dir.empty()) p = dir / p;
    }
    return std::make_unique<LutTarget>(load_latency_table(p.string()), config, p.string());
  }
  return std::make_unique<LutTarget>(latency_table_from_json(config, source), json{{"kind", "lut"}, {"source", source}}, source);
}

}  // namespace hwnas
