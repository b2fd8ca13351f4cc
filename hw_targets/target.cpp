// The Target registry, config reading and the result's JSON form.
#include "hw_targets/target.h"

#include <fstream>
#include <map>
#include <mutex>

#include "hw_targets/builtin_targets.h"
#include "tensor/error.h"

namespace hwnas {

using nlohmann::json;

const char* cost_method_name(CostMethod m) {
  switch (m) {
    case CostMethod::measured: return "measured";
    case CostMethod::table: return "table";
    case CostMethod::model: return "model";
    case CostMethod::predicted: return "predicted";
  }
  return "?";
}

json cost_to_json(const CostResult& r) {
  json j{{"latency_ms", r.latency_ms}, {"method", cost_method_name(r.method)}};
  if (r.energy_mj) j["energy_mj"] = *r.energy_mj;
  if (r.memory_bytes) j["memory_bytes"] = *r.memory_bytes;
  if (r.area_mm2) j["area_mm2"] = *r.area_mm2;
  if (r.spread_pct) j["spread_pct"] = *r.spread_pct;
  if (!r.details.empty()) j["details"] = r.details;
  return j;
}

std::vector<LayerTimings> Target::time_layers_in_context(const std::vector<NetworkSpec>&) {
  fail("target {} ({}) cannot time layers inside a network", name(), kind());
}

CostResult subnet_cost_on(Target& t, const SearchSpace& s, const Arch& a) { return t.cost(arch_network(s, a)); }

namespace {

std::map<std::string, TargetFactory>& registry() {
  static std::map<std::string, TargetFactory> r;
  return r;
}

// Built-in kinds are registered on first use rather than by static initialisers, which a static
// library would drop when nothing else references their object files.
void ensure_builtins() {
  static std::once_flag once;
  std::call_once(once, [] { register_builtin_targets(); });
}

}  // namespace

void register_target_kind(const std::string& kind, TargetFactory factory) { registry()[kind] = std::move(factory); }

std::vector<std::string> target_kinds() {
  ensure_builtins();
  std::vector<std::string> r;
  for (const auto& [k, f] : registry()) r.push_back(k);
  return r;
}

TargetPtr make_target_from_config(const json& config, const std::string& source) {
  ensure_builtins();
  if (!config.is_object()) fail("target {}: the configuration must be a JSON object, got {}", source, config.dump());
  if (!config.contains("kind") || !config.at("kind").is_string())
    fail("target {}: the configuration needs a string \"kind\" (one of {})", source, fmt::join(target_kinds(), ", "));
  const std::string kind = config.at("kind").get<std::string>();
  auto it = registry().find(kind);
  if (it == registry().end())
    fail("target {}: unknown kind \"{}\" (known: {})", source, kind, fmt::join(target_kinds(), ", "));
  return it->second(config);
}

TargetPtr make_target(const std::string& name_or_file, const json& overrides) {
  ensure_builtins();
  json config;
  std::string source = name_or_file;
  if (registry().count(name_or_file)) {
    config = json{{"kind", name_or_file}};
  } else {
    std::ifstream f(name_or_file);
    if (!f)
      fail("target \"{}\": not a built-in kind ({}) and not a readable JSON file", name_or_file,
           fmt::join(target_kinds(), ", "));
    try {
      config = json::parse(f);
    } catch (const json::exception& e) {
      fail("target file {}: not valid JSON ({})", name_or_file, e.what());
    }
  }
  if (!config.is_object()) fail("target file {}: must hold a JSON object", name_or_file);
  if (!config.contains("source")) config["source"] = source;
  for (const auto& [k, v] : overrides.items()) config[k] = v;
  return make_target_from_config(config, source);
}

namespace {
[[noreturn]] void bad_key(const TargetConfigReader& r, const std::string& key, const std::string& expected) {
  fail("target {}: \"{}\" must be {}, got {}", r.source, key, expected, r.config.at(key).dump());
}
}  // namespace

double TargetConfigReader::number(const std::string& key, double fallback, double min_value) const {
  if (!config.contains(key)) return fallback;
  const json& v = config.at(key);
  if (!v.is_number() || v.get<double>() < min_value) bad_key(*this, key, fmt::format("a number >= {}", min_value));
  return v.get<double>();
}

int64_t TargetConfigReader::integer(const std::string& key, int64_t fallback, int64_t min_value) const {
  if (!config.contains(key)) return fallback;
  const json& v = config.at(key);
  if (!v.is_number_integer() || v.get<int64_t>() < min_value) bad_key(*this, key, fmt::format("an integer >= {}", min_value));
  return v.get<int64_t>();
}

std::string TargetConfigReader::string(const std::string& key, const std::string& fallback) const {
  if (!config.contains(key)) return fallback;
  if (!config.at(key).is_string()) bad_key(*this, key, "a string");
  return config.at(key).get<std::string>();
}

void TargetConfigReader::only(const std::vector<std::string>& known) const {
  for (const auto& [k, v] : config.items()) {
    if (k == "kind" || k == "name" || k == "source" || k == "description") continue;
    if (std::find(known.begin(), known.end(), k) == known.end())
      fail("target {}: unknown key \"{}\" (this kind reads: kind, name, description, {})", source, k, fmt::join(known, ", "));
  }
}

}  // namespace hwnas
