#include "hw_targets/host_cpu_target.h"

#include <omp.h>

#include <algorithm>

#include "nas/builtin_networks.h"
#include "nn/measure.h"

namespace hwnas {

using nlohmann::json;

HostCpuOptions host_cpu_options(const json& config, const std::string& source) {
  TargetConfigReader r{config, source};
  r.only({"threads", "batch", "warmup", "runs", "rounds", "seed", "reference", "reference_ms"});
  HostCpuOptions o;
  o.threads = int(r.integer("threads", 1, 1));
  o.batch = r.integer("batch", 1, 1);
  o.warmup = int(r.integer("warmup", 10, 0));
  o.runs = int(r.integer("runs", 30, 1));
  o.rounds = std::min(o.runs, int(r.integer("rounds", o.runs, 1)));  // at most one run per round
  o.seed = uint64_t(r.integer("seed", 0, 0));
  o.reference = r.string("reference", "");
  o.reference_ms = r.number("reference_ms", 0, 0);
  if (o.reference.empty()) {
    if (config.contains("reference_ms")) fail("target {}: \"reference_ms\" needs a \"reference\" network", source);
    return o;
  }
  if (o.reference_ms <= 0)
    fail("target {}: \"reference\" needs \"reference_ms\" > 0, the latency (ms) the reference's runs are scaled "
         "to; `hwnas measure --net {}` gives its latency now", source, o.reference);
  // Each network's runs pair with the reference's, one of each per round.
  if (config.contains("rounds") && o.rounds != o.runs)
    fail("target {}: \"rounds\" cannot differ from \"runs\" with a \"reference\" (each run pairs with a "
         "reference run), got rounds {} and runs {}", source, o.rounds, o.runs);
  o.rounds = o.runs;
  try {
    o.reference_net = resolve_network(o.reference);  // a bad name fails here, not at the first measurement
  } catch (const std::exception& e) {
    fail("target {}: \"reference\": {}", source, e.what());
  }
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

CostResult raw_result(const InferMeasurement& m, const HostCpuOptions& o) {
  CostResult r;
  r.method = CostMethod::measured;
  r.latency_ms = m.median_ms;
  const double p10 = percentile(m.iter_ms, 0.1), p90 = percentile(m.iter_ms, 0.9);
  r.spread_pct = m.median_ms > 0 ? 100.0 * (p90 - p10) / m.median_ms : 0.0;
  r.details = json{{"p10_ms", p10}, {"p90_ms", p90}, {"runs", o.runs}, {"batch", o.batch}, {"threads", o.threads}};
  return r;
}

// `m`'s runs against the reference runs that followed each of them (`ref`, the same rounds).
CostResult scaled_result(const InferMeasurement& m, const InferMeasurement& ref, const HostCpuOptions& o) {
  std::vector<double> ratio;
  for (size_t k = 0; k < m.iter_ms.size() && k < ref.iter_ms.size(); ++k)
    ratio.push_back(m.iter_ms[k] / std::max(ref.iter_ms[k], 1e-9));
  const double scale = median(ratio);
  CostResult r = raw_result(m, o);
  r.latency_ms = scale * o.reference_ms;
  r.spread_pct = scale > 0 ? 100.0 * (percentile(ratio, 0.9) - percentile(ratio, 0.1)) / scale : 0.0;
  r.details["raw_median_ms"] = m.median_ms;
  r.details["reference"] = o.reference;
  r.details["reference_ms"] = o.reference_ms;
  r.details["reference_median_ms"] = ref.median_ms;
  r.details["ratio_to_reference"] = scale;
  return r;
}

// Each network followed by its own copy of the reference: measured with rounds = runs, every run
// of a network (index 2i) has a run of the reference (2i + 1) right after it.
std::vector<NetworkSpec> each_with_reference(const std::vector<NetworkSpec>& nets, const NetworkSpec& ref) {
  std::vector<NetworkSpec> paired;
  for (const NetworkSpec& n : nets) {
    paired.push_back(n);
    paired.push_back(ref);
  }
  return paired;
}

}  // namespace

std::vector<CostResult> measure_on_host_cpu(const std::vector<NetworkSpec>& nets, const HostCpuOptions& o,
                                            const std::function<void(double)>& progress) {
  ThreadScope threads(o.threads);
  std::vector<CostResult> out;
  if (o.reference.empty()) {
    for (const InferMeasurement& m : measure_infer_many(nets, o.batch, o.warmup, o.runs, o.rounds, o.seed, progress))
      out.push_back(raw_result(m, o));
    return out;
  }
  const std::vector<InferMeasurement> m =
      measure_infer_many(each_with_reference(nets, o.reference_net), o.batch, o.warmup, o.runs, o.runs, o.seed, progress);
  for (size_t i = 0; i < nets.size(); ++i) out.push_back(scaled_result(m[2 * i], m[2 * i + 1], o));
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
    if (opts_.reference.empty()) {
      for (const InferLayerMeasurement& m :
           measure_infer_layers_many(nets, opts_.batch, opts_.warmup, opts_.runs, opts_.rounds, opts_.seed, on_progress))
        r.push_back(LayerTimings{m.layer_ms, m.whole_ms});
      return r;
    }
    // Each network's layers scaled by reference_ms over the reference's median in the same rounds
    // (a ratio of medians: the layers' runs have no single partner run).
    const std::vector<InferLayerMeasurement> m = measure_infer_layers_many(
        each_with_reference(nets, opts_.reference_net), opts_.batch, opts_.warmup, opts_.runs, opts_.runs, opts_.seed,
        on_progress);
    for (size_t i = 0; i < nets.size(); ++i) {
      const double scale = opts_.reference_ms / std::max(m[2 * i + 1].whole_ms, 1e-9);
      LayerTimings t{m[2 * i].layer_ms, m[2 * i].whole_ms * scale};
      for (double& v : t.layer_ms) v *= scale;
      r.push_back(std::move(t));
    }
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
    if (!opts_.reference.empty()) {
      c["reference"] = opts_.reference;
      c["reference_ms"] = opts_.reference_ms;
    }
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
