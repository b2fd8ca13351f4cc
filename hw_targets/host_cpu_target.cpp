#include "hw_targets/host_cpu_target.h"

#include <omp.h>

#include <algorithm>

#include "nn/measure.h"

namespace hwnas {

using nlohmann::json;

HostCpuOptions host_cpu_options(const json& config, const std::string& source) {
  TargetConfigReader r{config, source};
  r.only({"threads", "batch", "warmup", "runs", "rounds", "seed"});
  HostCpuOptions o;
  o.threads = int(r.integer("threads", 1, 1));
  o.batch = r.integer("batch", 1, 1);
  o.warmup = int(r.integer("warmup", 10, 0));
  o.runs = int(r.integer("runs", 30, 1));
  o.rounds = std::min(o.runs, int(r.integer("rounds", o.runs, 1)));  // at most one run per round
  o.seed = uint64_t(r.integer("seed", 0, 0));
  return o;
}

namespace {

// Sets the OpenMP thread count for a scope, so a measurement does not change the caller's.
struct ThreadScope {
  int saved = omp_get_max_threads();
  explicit ThreadScope(int n) { omp_set_num_threads(n); }
  ~ThreadScope() { omp_set_num_threads(saved); }
};

double percentile(std::vector<double> v, double q) {
  std::sort(v.begin(), v.end());
  const double pos = q * double(v.size() - 1);
  const size_t lo = size_t(pos), hi = std::min(lo + 1, v.size() - 1);
  return v[lo] + (v[hi] - v[lo]) * (pos - double(lo));
}

}  // namespace

std::vector<CostResult> measure_on_host_cpu(const std::vector<NetworkSpec>& nets, const HostCpuOptions& o,
                                            const std::function<void(double)>& progress) {
  ThreadScope threads(o.threads);
  std::vector<CostResult> out;
  for (const InferMeasurement& m : measure_infer_many(nets, o.batch, o.warmup, o.runs, o.rounds, o.seed, progress)) {
    CostResult r;
    r.method = CostMethod::measured;
    r.latency_ms = m.median_ms;
    const double p10 = percentile(m.iter_ms, 0.1), p90 = percentile(m.iter_ms, 0.9);
    r.spread_pct = m.median_ms > 0 ? 100.0 * (p90 - p10) / m.median_ms : 0.0;
    r.details = json{{"p10_ms", p10}, {"p90_ms", p90}, {"runs", o.runs}, {"batch", o.batch}, {"threads", o.threads}};
    out.push_back(std::move(r));
  }
  return out;
}

namespace {

class HostCpuTarget : public Target {
 public:
  HostCpuTarget(const json& config, const std::string& source)
      : config_(config), opts_(host_cpu_options(config, source)) {}
  std::string name() const override { return config_.value("name", std::string("host-cpu")); }
  std::string kind() const override { return "host-cpu"; }
  CostResult cost(const NetworkSpec& net) override { return measure_on_host_cpu({net}, opts_).at(0); }
  std::vector<CostResult> cost_many(const std::vector<NetworkSpec>& nets) override {
    return measure_on_host_cpu(nets, opts_, on_progress);
  }
  bool times_layers_in_context() const override { return true; }
  std::vector<LayerTimings> time_layers_in_context(const std::vector<NetworkSpec>& nets) override {
    ThreadScope threads(opts_.threads);
    std::vector<LayerTimings> r;
    for (const InferLayerMeasurement& m :
         measure_infer_layers_many(nets, opts_.batch, opts_.warmup, opts_.runs, opts_.rounds, opts_.seed, on_progress))
      r.push_back(LayerTimings{m.layer_ms, m.whole_ms});
    return r;
  }
  json config() const override {
    json c = config_;
    c["threads"] = opts_.threads;
    c["batch"] = opts_.batch;
    c["warmup"] = opts_.warmup;
    c["runs"] = opts_.runs;
    c["rounds"] = opts_.rounds;
    c["seed"] = opts_.seed;
    return c;
  }

 private:
  json config_;
  HostCpuOptions opts_;
};

}  // namespace

TargetPtr make_host_cpu_target(const json& config, const std::string& source) {
  return std::make_unique<HostCpuTarget>(config, source);
}

}  // namespace hwnas
