// Training step and batch-1 inference of the two benchmark networks (../shared/peers/README.md),
// reported as images/s or latency plus GFLOP/s (3x forward multiply-adds for a training step).
// For side-by-side ratios against PyTorch and ONNX Runtime use bench/compare_peers.sh.
#include <benchmark/benchmark.h>
#include <omp.h>

#include "nas/builtin_networks.h"
#include "nn/measure.h"

using namespace hwnas;

namespace {

void train_step(benchmark::State& state, const std::string& net, int64_t batch, int threads) {
  omp_set_num_threads(threads);
  const NetworkSpec spec = resolve_network(net);
  const double flops = 2.0 * 3.0 * network_macs(spec) * batch;
  for (auto _ : state) {
    auto m = measure_train(spec, batch, /*warmup=*/1, /*steps=*/3);
    state.SetIterationTime(m.mean_step_ms / 1e3);
    state.counters["images_per_s"] = m.images_per_s;
    state.counters["GFLOP/s"] = flops / (m.mean_step_ms / 1e3) / 1e9;
  }
}

void infer(benchmark::State& state, const std::string& net) {
  omp_set_num_threads(1);
  const NetworkSpec spec = resolve_network(net);
  const double flops = 2.0 * network_macs(spec);
  for (auto _ : state) {
    auto m = measure_infer(spec, 1, /*warmup=*/10, /*iters=*/100);
    state.SetIterationTime(m.median_ms / 1e3);
    state.counters["latency_ms"] = m.median_ms;
    state.counters["GFLOP/s"] = flops / (m.median_ms / 1e3) / 1e9;
  }
}

}  // namespace

BENCHMARK_CAPTURE(train_step, elastic_max_b128_t2, std::string("elastic-mobile:max"), 128, 2)
    ->UseManualTime()->Iterations(1)->Unit(benchmark::kMillisecond);
BENCHMARK_CAPTURE(train_step, fbnet0_b64_t2, std::string("fbnet:0"), 64, 2)
    ->UseManualTime()->Iterations(1)->Unit(benchmark::kMillisecond);
BENCHMARK_CAPTURE(infer, elastic_max_b1_t1, std::string("elastic-mobile:max"))
    ->UseManualTime()->Iterations(1)->Unit(benchmark::kMillisecond);
BENCHMARK_CAPTURE(infer, elastic_min_b1_t1, std::string("elastic-mobile:min"))
    ->UseManualTime()->Iterations(1)->Unit(benchmark::kMillisecond);
BENCHMARK_CAPTURE(infer, fbnet0_b1_t1, std::string("fbnet:0"))
    ->UseManualTime()->Iterations(1)->Unit(benchmark::kMillisecond);

BENCHMARK_MAIN();
