#include "hw_targets/lut_eval.h"

#include <algorithm>

#include <fmt/format.h>

#include "nas/progress_bar.h"
#include "tensor/rng.h"

namespace hwnas {

LutEvalResult evaluate_latency_table(const LatencyTable& table, Target& measured, const SearchSpace& s,
                                     const LutEvalOptions& o) {
  if (o.archs < 2) fail("lut eval: need at least 2 architectures to compare, got {}", o.archs);
  Generator gen(o.seed);
  LutEvalResult r;
  std::vector<NetworkSpec> nets;
  for (int i = 0; i < o.archs; ++i) {
    LutEvalSample smp;
    smp.arch = sample_arch(s, gen);
    nets.push_back(arch_network(s, smp.arch));
    smp.table_ms = table_cost(table, nets.back(), table.name).latency_ms;  // fails early on a missing layer
    r.samples.push_back(std::move(smp));
  }
  // In chunks: a measured target may batch a chunk into one process (onnxruntime), and the
  // progress bar moves.
  const size_t chunk = 10;
  TaskProgress progress(o.progress, fmt::format("measuring {} subnets on {}", nets.size(), measured.name()),
                        int64_t(nets.size()));
  for (size_t first = 0; first < nets.size(); first += chunk) {
    const size_t last = std::min(nets.size(), first + chunk);
    const std::vector<CostResult> c =
        measured.cost_many(std::vector<NetworkSpec>(nets.begin() + first, nets.begin() + last));
    for (size_t i = first; i < last; ++i) {
      r.samples[i].measured_ms = c[i - first].latency_ms;
      r.samples[i].spread_pct = c[i - first].spread_pct.value_or(0.0);
    }
    progress.update(int64_t(last));
  }
  std::vector<double> pred, truth;
  for (const LutEvalSample& smp : r.samples) {
    pred.push_back(smp.table_ms);
    truth.push_back(smp.measured_ms);
  }
  r.metrics = predictor_metrics(pred, truth);
  return r;
}

}  // namespace hwnas
