#include "hw_targets/lut_eval.h"

#include <fmt/format.h>

#include "nas/progress_bar.h"
#include "tensor/rng.h"

namespace hwnas {

LutEvalResult evaluate_latency_table(const LatencyTable& table, Target& measured, const SearchSpace& s,
                                     const LutEvalOptions& o, const std::string& source) {
  if (o.archs < 2) fail("lut eval: need at least 2 architectures to compare, got {}", o.archs);
  Generator gen(o.seed);
  LutEvalResult r;
  std::vector<NetworkSpec> nets;
  for (int i = 0; i < o.archs; ++i) {
    LutEvalSample smp;
    smp.arch = sample_arch(s, gen);
    nets.push_back(arch_network(s, smp.arch));
    smp.table_ms = table_cost(table, nets.back(), source.empty() ? table.name : source).latency_ms;  // fails early on a missing layer
    r.samples.push_back(std::move(smp));
  }
  // All in one call: a measured target interleaves their runs (host_cpu_target.h says why).
  TaskProgress progress(o.progress, fmt::format("measuring {} subnets on {}", nets.size(), measured.name()),
                        int64_t(nets.size()));
  measured.on_progress = [&](double f) { progress.update(int64_t(f * double(nets.size()))); };
  const std::vector<CostResult> c = measured.cost_many(nets);
  measured.on_progress = nullptr;
  if (c.size() != nets.size()) fail("lut eval: target {} returned {} results for {} subnets", measured.name(), c.size(), nets.size());
  for (size_t i = 0; i < nets.size(); ++i) {
    r.samples[i].measured_ms = c[i].latency_ms;
    r.samples[i].spread_pct = c[i].spread_pct.value_or(0.0);
  }
  progress.update(int64_t(nets.size()));
  std::vector<double> pred, truth;
  for (const LutEvalSample& smp : r.samples) {
    pred.push_back(smp.table_ms);
    truth.push_back(smp.measured_ms);
  }
  r.metrics = predictor_metrics(pred, truth);
  return r;
}

}  // namespace hwnas
