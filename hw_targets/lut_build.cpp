#include "hw_targets/lut_build.h"

#include <algorithm>
#include <map>

#include "nas/progress_bar.h"
#include "nn/measure.h"
#include "tensor/error.h"

namespace hwnas {

using nlohmann::json;

std::vector<LayerWork> space_layers(const SearchSpace& s, int random_archs, uint64_t seed) {
  std::map<std::string, LayerWork> found;
  auto walk = [&](const Arch& a) {
    for (LayerWork& w : layer_profile(arch_network(s, a)))
      if (!found.count(w.key)) found.emplace(w.key, std::move(w));
  };
  for (const Arch& base : {max_arch(s), min_arch(s)}) {
    walk(base);
    const std::vector<size_t> choices = arch_choices(s, base);
    for (size_t d = 0; d < s.dims.size(); ++d)
      for (size_t c = 0; c < s.dims[d].size(); ++c) {
        std::vector<size_t> changed = choices;
        changed[d] = c;
        walk(arch_from_choices(s, changed));
      }
  }
  Generator gen(seed);
  for (int i = 0; i < random_archs; ++i) walk(sample_arch(s, gen));
  std::vector<LayerWork> r;
  for (auto& [k, w] : found) r.push_back(std::move(w));
  return r;
}

LutMethod parse_lut_method(const std::string& name) {
  if (name == "auto") return LutMethod::automatic;
  if (name == "in-context") return LutMethod::in_context;
  if (name == "isolated") return LutMethod::isolated;
  fail("lut build: unknown method \"{}\" (auto, in-context, isolated)", name);
}

const char* lut_method_name(LutMethod m) {
  switch (m) {
    case LutMethod::automatic: return "auto";
    case LutMethod::in_context: return "in-context";
    case LutMethod::isolated: return "isolated";
  }
  return "?";
}

std::vector<Arch> covering_archs(const SearchSpace& s, const std::vector<LayerWork>& layers, int occurrences,
                                 uint64_t seed, std::vector<std::string>* uncovered) {
  std::map<std::string, int> need;
  for (const LayerWork& w : layers) need[w.key] = occurrences;
  // Candidates: the extremes, every single-choice change of them (they reach the rare layers:
  // a deep stage's last block exists only at its largest depth), then random archs.
  std::vector<Arch> cands;
  for (const Arch& base : {max_arch(s), min_arch(s)}) {
    cands.push_back(base);
    const std::vector<size_t> choices = arch_choices(s, base);
    for (size_t d = 0; d < s.dims.size(); ++d)
      for (size_t c = 0; c < s.dims[d].size(); ++c) {
        std::vector<size_t> changed = choices;
        changed[d] = c;
        cands.push_back(arch_from_choices(s, changed));
      }
  }
  Generator gen(seed + 13);
  for (int i = 0; i < 1000; ++i) cands.push_back(sample_arch(s, gen));
  std::vector<std::vector<std::string>> keys;
  for (const Arch& a : cands) {
    keys.emplace_back();
    for (const LayerWork& w : layer_profile(arch_network(s, a)))
      if (need.count(w.key)) keys.back().push_back(w.key);
  }
  std::vector<Arch> picked;
  std::vector<bool> used(cands.size(), false);
  for (;;) {
    size_t best = cands.size();
    int best_gain = 0;
    for (size_t i = 0; i < cands.size(); ++i) {
      if (used[i]) continue;
      std::map<std::string, int> left;
      int gain = 0;
      for (const std::string& k : keys[i]) {
        auto [it, fresh] = left.emplace(k, need[k]);
        if (it->second > 0) ++gain, --it->second;
      }
      if (gain > best_gain) best = i, best_gain = gain;
    }
    if (best == cands.size()) break;
    used[best] = true;
    picked.push_back(cands[best]);
    for (const std::string& k : keys[best]) --need[k];
  }
  if (uncovered) {
    uncovered->clear();
    for (const auto& [k, n] : need)
      if (n == occurrences) uncovered->push_back(k);
  }
  return picked;
}

namespace {

// Entries from layers timed inside covering subnets (median over occurrences); layers no
// subnet reaches are timed alone. Returns the number timed alone.
size_t time_layers_in_subnets(Target& measured, const SearchSpace& s, const std::vector<LayerWork>& layers,
                              const LutBuildOptions& o, LatencyTable& t, json& meta) {
  const std::vector<Arch> archs = covering_archs(s, layers, o.occurrences, o.seed);
  std::vector<NetworkSpec> nets;
  for (const Arch& a : archs) nets.push_back(arch_network(s, a));
  // All in one call: the target interleaves the subnets' runs (host_cpu_target.h says why).
  TaskProgress progress(o.progress,
                        fmt::format("timing {} layers inside {} subnets on {}", layers.size(), archs.size(), measured.name()),
                        int64_t(archs.size()));
  measured.on_progress = [&](double f) { progress.update(int64_t(f * double(archs.size()))); };
  const std::vector<LayerTimings> r = measured.time_layers_in_context(nets);
  measured.on_progress = nullptr;
  progress.update(int64_t(archs.size()));
  if (r.size() != nets.size()) fail("lut build: target {} returned {} timings for {} subnets", measured.name(), r.size(), nets.size());
  std::map<std::string, std::vector<double>> samples;
  for (size_t i = 0; i < nets.size(); ++i)
    for (const LayerWork& w : layer_profile(nets[i])) {
      if (w.index >= r[i].layer_ms.size())
        fail("lut build: target {} timed {} layers of a {}-layer subnet", measured.name(), r[i].layer_ms.size(), nets[i].layers.size());
      samples[w.key].push_back(r[i].layer_ms[w.index]);
    }
  for (auto& [key, v] : samples) t.entries[key] = median(v);
  std::vector<LayerWork> alone;
  for (const LayerWork& w : layers)
    if (!t.entries.count(w.key)) alone.push_back(w);
  std::vector<NetworkSpec> fragments;
  for (const LayerWork& w : alone) fragments.push_back(layer_fragment(w));
  if (!fragments.empty()) {
    const std::vector<CostResult> r = measured.cost_many(fragments);
    for (size_t i = 0; i < alone.size(); ++i) t.entries[alone[i].key] = r.at(i).latency_ms;
  }
  // The overhead from the same runs: each subnet's whole run minus its summed entries, so that no
  // second measurement, taken while the machine runs at another speed, sets it.
  std::vector<double> gaps;
  for (size_t i = 0; i < nets.size(); ++i) gaps.push_back(r[i].whole_ms - table_cost(t, nets[i], t.name).latency_ms);
  t.overhead_ms = median(gaps);
  meta["subnets"] = archs.size();
  meta["occurrences"] = o.occurrences;
  meta["timed_alone"] = alone.size();
  return alone.size();
}

void time_layers_alone(Target& measured, const std::vector<LayerWork>& layers, const LutBuildOptions& o, LatencyTable& t) {
  // Layers are measured in small batches so that targets that batch (a runtime process per
  // call) still show progress.
  const size_t chunk = 16;
  TaskProgress progress(o.progress, fmt::format("timing {} layers alone on {}", layers.size(), measured.name()),
                        int64_t(layers.size()));
  for (size_t first = 0; first < layers.size(); first += chunk) {
    std::vector<NetworkSpec> fragments;
    for (size_t i = first; i < std::min(layers.size(), first + chunk); ++i) fragments.push_back(layer_fragment(layers[i]));
    const std::vector<CostResult> r = measured.cost_many(fragments);
    if (r.size() != fragments.size()) fail("lut build: target {} returned {} results for {} layers", measured.name(), r.size(), fragments.size());
    for (size_t i = 0; i < r.size(); ++i) t.entries[layers[first + i].key] = r[i].latency_ms;
    progress.update(int64_t(std::min(layers.size(), first + chunk)));
  }
}

}  // namespace

LatencyTable build_latency_table(Target& measured, const SearchSpace& s, const LutBuildOptions& o) {
  if (o.occurrences < 1) fail("lut build: occurrences must be >= 1, got {}", o.occurrences);
  LutMethod method = o.method;
  if (method == LutMethod::automatic)
    method = measured.times_layers_in_context() ? LutMethod::in_context : LutMethod::isolated;
  if (method == LutMethod::in_context && !measured.times_layers_in_context())
    fail("lut build: target {} ({}) cannot time layers inside a network; use the isolated method", measured.name(),
         measured.kind());
  const std::vector<LayerWork> layers = space_layers(s, 200, o.seed);
  LatencyTable t;
  t.name = measured.name() + "-" + s.name;
  json method_meta = json::object();
  if (method == LutMethod::in_context)
    time_layers_in_subnets(measured, s, layers, o, t, method_meta);
  else
    time_layers_alone(measured, layers, o, t);

  // Isolated: whole subnets measured to set the overhead (median of measured minus summed).
  json calibration = json::array();
  if (method == LutMethod::isolated && o.calibration_archs > 0) {
    std::vector<Arch> calib = {max_arch(s), min_arch(s)};
    Generator gen(o.seed + 7);
    while (int(calib.size()) < o.calibration_archs) calib.push_back(sample_arch(s, gen));
    calib.resize(size_t(o.calibration_archs));
    std::vector<NetworkSpec> nets;
    for (const Arch& a : calib) nets.push_back(arch_network(s, a));
    const std::vector<CostResult> whole = measured.cost_many(nets);
    t.overhead_ms = 0;
    std::vector<double> gaps;
    for (size_t i = 0; i < nets.size(); ++i) {
      const double summed = table_cost(t, nets[i], t.name).latency_ms;
      gaps.push_back(whole.at(i).latency_ms - summed);
      calibration.push_back(json{{"arch", arch_to_json(s, calib[i])}, {"measured_ms", whole[i].latency_ms}, {"layers_ms", summed}});
    }
    t.overhead_ms = median(gaps);
  }
  t.meta = json{{"space", s.name},           {"target", measured.config()},      {"layers", layers.size()},
                {"method", lut_method_name(method)}, {"calibration", calibration}};
  t.meta.update(method_meta);
  return t;
}

}  // namespace hwnas
