#include "hw_targets/lut_build.h"

#include <algorithm>
#include <map>

#include "nas/progress_bar.h"
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

LatencyTable build_latency_table(Target& measured, const SearchSpace& s, const LutBuildOptions& o) {
  const std::vector<LayerWork> layers = space_layers(s, 200, o.seed);
  LatencyTable t;
  t.name = measured.name() + "-" + s.name;
  // Layers are measured in small batches so that targets that batch (a runtime process per call)
  // still show progress.
  const size_t chunk = 16;
  TaskProgress progress(o.progress, fmt::format("timing {} layers on {}", layers.size(), measured.name()),
                        int64_t(layers.size()));
  for (size_t first = 0; first < layers.size(); first += chunk) {
    std::vector<NetworkSpec> fragments;
    for (size_t i = first; i < std::min(layers.size(), first + chunk); ++i) fragments.push_back(layer_fragment(layers[i]));
    const std::vector<CostResult> r = measured.cost_many(fragments);
    if (r.size() != fragments.size()) fail("lut build: target {} returned {} results for {} layers", measured.name(), r.size(), fragments.size());
    for (size_t i = 0; i < r.size(); ++i) t.entries[layers[first + i].key] = r[i].latency_ms;
    progress.update(int64_t(std::min(layers.size(), first + chunk)));
  }

  std::vector<Arch> calib = {max_arch(s), min_arch(s)};
  Generator gen(o.seed + 7);
  while (int(calib.size()) < o.calibration_archs) calib.push_back(sample_arch(s, gen));
  calib.resize(size_t(std::max(0, o.calibration_archs)));
  std::vector<NetworkSpec> nets;
  for (const Arch& a : calib) nets.push_back(arch_network(s, a));
  std::vector<double> gaps;
  json calibration = json::array();
  if (!nets.empty()) {
    const std::vector<CostResult> whole = measured.cost_many(nets);
    t.overhead_ms = 0;
    for (size_t i = 0; i < nets.size(); ++i) {
      const double summed = table_cost(t, nets[i], t.name).latency_ms;
      gaps.push_back(whole[i].latency_ms - summed);
      calibration.push_back(json{{"arch", arch_to_json(s, calib[i])}, {"measured_ms", whole[i].latency_ms}, {"layers_ms", summed}});
    }
    std::sort(gaps.begin(), gaps.end());
    t.overhead_ms = gaps[gaps.size() / 2];
  }
  t.meta = json{{"space", s.name}, {"target", measured.config()}, {"layers", layers.size()}, {"calibration", calibration}};
  return t;
}

}  // namespace hwnas
