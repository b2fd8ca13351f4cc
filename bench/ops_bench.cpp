// Compute-heavy ops against the machine's peak: conv2d (1x1 as GEMM, depthwise, oneDNN) and
// linear, forward and forward+backward, at training batch 128 (all threads) and inference
// batch 1 (one thread). Counters: GFLOP/s, pct_peak (of the FMA peak of the threads used) and,
// for the memory-bound depthwise convs, GB/s of compulsory traffic.
//   ./ops_bench --benchmark_filter=dw
#include <benchmark/benchmark.h>
#include <omp.h>

#include <chrono>
#include <cstdio>
#include <cstring>
#include <vector>

#include "ops/conv.h"
#include "ops/matmul.h"
#include "ops/simd.h"

#pragma GCC diagnostic ignored "-Wpsabi"

using namespace hwnas;

namespace {

typedef float v8 __attribute__((vector_size(32)));

// 12 independent multiply-add chains of 8 lanes: enough to cover FMA latency x throughput on
// current x86 cores (4 cycles x 2 units = 8 in flight).
HWNAS_MULTIVERSION
float fma_loop(int64_t iters, float m, float a) {
  constexpr int kAcc = 12;
  v8 acc[kAcc];
  for (int i = 0; i < kAcc; ++i) acc[i] = v8{} + float(i) * 1e-3f;
  const v8 vm = v8{} + m, va = v8{} + a;
  for (int64_t it = 0; it < iters; ++it)
    for (int i = 0; i < kAcc; ++i) acc[i] = acc[i] * vm + va;
  v8 s{};
  for (int i = 0; i < kAcc; ++i) s += acc[i];
  float r = 0;
  for (int i = 0; i < 8; ++i) r += s[i];
  return r;
}

// Copy bandwidth (read + write bytes per second) of buffers far larger than the caches, with
// all threads: the memory side of the roofline.
double memory_bandwidth() {
  static const double bw = [] {
    const int64_t n = int64_t{16} << 20;  // 64 MB per buffer
    std::vector<float> a(n, 1.f), b(n, 0.f);
    double best = 0;
    for (int rep = 0; rep < 4; ++rep) {
      const auto t0 = std::chrono::steady_clock::now();
#pragma omp parallel for schedule(static)
      for (int64_t i = 0; i < n; ++i) b[i] = a[i] * 1.0001f;
      const double s = std::chrono::duration<double>(std::chrono::steady_clock::now() - t0).count();
      best = std::max(best, 8.0 * n / s);
    }
    std::printf("memory copy bandwidth: %.1f GB/s with %d threads\n", best * 1e-9, omp_get_max_threads());
    return best;
  }();
  return bw;
}

// Peak FP32 FLOP/s of one thread, measured with all `threads` threads busy (so that shared
// clocks and turbo limits are those of a full run).
double measure_peak_per_thread(int threads) {
  const int64_t iters = 20'000'000;
  const double flops_per_thread = double(iters) * 12 * 8 * 2;
  double best = 0;
  for (int rep = 0; rep < 3; ++rep) {
    volatile float sink = 0;
    const auto t0 = std::chrono::steady_clock::now();
#pragma omp parallel num_threads(threads)
    {
      const float r = fma_loop(iters, 0.999999f, 1e-6f);
#pragma omp critical
      sink = sink + r;
    }
    const double s = std::chrono::duration<double>(std::chrono::steady_clock::now() - t0).count();
    best = std::max(best, flops_per_thread / s);
  }
  return best;
}

double peak_per_thread() {
  static const double p = [] {
    memory_bandwidth();
    const int t = omp_get_max_threads();
    const double v = measure_peak_per_thread(t);
    std::printf("peak FP32: %.1f GFLOP/s per thread, %.1f GFLOP/s with %d threads\n", v * 1e-9, v * t * 1e-9, t);
    return v;
  }();
  return p;
}

// pct_peak: of the FMA peak of the threads used. pct_roof: of the roofline bound
// min(peak, flops / bytes x DRAM copy bandwidth), what a memory-bound kernel can reach when its
// data comes from memory; working sets that stay in cache (batch 1) can go past 100.
void set_counters(benchmark::State& st, double flops, double bytes, int threads) {
  using C = benchmark::Counter;
  const double peak = peak_per_thread() * threads;
  st.counters["GFLOP/s"] = C(flops * 1e-9, C::kIsIterationInvariantRate);
  st.counters["pct_peak"] = C(100.0 * flops / peak, C::kIsIterationInvariantRate);
  if (bytes > 0) {
    const double roof = std::min(peak, flops / bytes * memory_bandwidth());
    st.counters["GB/s"] = C(bytes * 1e-9, C::kIsIterationInvariantRate);
    st.counters["pct_roof"] = C(100.0 * flops / roof, C::kIsIterationInvariantRate);
  }
  st.counters["threads"] = threads;
}

// Batch-1 runs on one thread (the inference setting), training batches on all of them.
struct ThreadScope {
  int prev;
  explicit ThreadScope(int n) : prev(omp_get_max_threads()) { omp_set_num_threads(n); }
  ~ThreadScope() { omp_set_num_threads(prev); }
};

struct ConvCase {
  int64_t n, c_in, c_out, hw, k, stride, groups;
};

// Args: n, c_in, c_out, hw, k, stride, groups.
ConvCase conv_case(const benchmark::State& st) {
  return {st.range(0), st.range(1), st.range(2), st.range(3), st.range(4), st.range(5), st.range(6)};
}

struct ConvSetup {
  Tensor x, w, b;
  Conv2dOptions o;
  double flops, bytes;
  int threads;
};

ConvSetup setup(const ConvCase& c) {
  Generator gen(1);
  ConvSetup s;
  s.x = Tensor::randn({c.n, c.c_in, c.hw, c.hw}, gen).contiguous(MemoryFormat::channels_last);
  s.w = Tensor::randn({c.c_out, c.c_in / c.groups, c.k, c.k}, gen, 0.f, 0.1f);
  s.b = Tensor::randn({c.c_out}, gen);
  s.o = Conv2dOptions::make(c.stride, c.k / 2, 1, c.groups);
  const int64_t oh = conv_out_size(c.hw, c.k, c.stride, c.k / 2, 1);
  s.flops = 2.0 * c.n * oh * oh * c.c_out * (c.c_in / c.groups) * c.k * c.k;
  s.bytes = 4.0 * (s.x.numel() + c.n * c.c_out * oh * oh);
  s.threads = c.n == 1 ? 1 : omp_get_max_threads();
  return s;
}

void BM_conv_fwd(benchmark::State& st) {
  const ConvCase c = conv_case(st);
  peak_per_thread();
  ThreadScope ts(c.n == 1 ? 1 : omp_get_max_threads());
  ConvSetup s = setup(c);
  Variable x(s.x), w(s.w), b(s.b);
  NoGradGuard ng;
  for (auto _ : st) benchmark::DoNotOptimize(conv2d(x, w, b, s.o).data().raw_data());
  set_counters(st, s.flops, s.bytes, s.threads);
}

void BM_conv_fwd_bwd(benchmark::State& st) {
  const ConvCase c = conv_case(st);
  peak_per_thread();
  ThreadScope ts(c.n == 1 ? 1 : omp_get_max_threads());
  ConvSetup s = setup(c);
  // A stem's input is the image: no data gradient, as in training.
  const bool image = c.c_in <= 3;
  Variable x(s.x, !image), w(s.w, true), b(s.b, true);
  Generator gen(2);
  const Tensor gy = Tensor::randn(conv2d(x, w, b, s.o).shape(), gen).contiguous(MemoryFormat::channels_last);
  for (auto _ : st) {
    Variable y = conv2d(x, w, b, s.o);
    // The node's backward itself: leaves would add a copy of each gradient into .grad.
    benchmark::DoNotOptimize(y.grad_fn()->backward(gy));
  }
  // dx and dW each cost about a forward in flops and in traffic.
  set_counters(st, (image ? 2 : 3) * s.flops, (image ? 2 : 3) * s.bytes, s.threads);
}

// The fused batch-1 path: conv + bias + activation in one call.
void BM_conv_inference(benchmark::State& st) {
  const ConvCase c = conv_case(st);
  peak_per_thread();
  ThreadScope ts(1);
  ConvSetup s = setup(c);
  for (auto _ : st) benchmark::DoNotOptimize(conv2d_inference(s.x, s.w, s.b, s.o, Activation::relu6).raw_data());
  set_counters(st, s.flops, s.bytes, 1);
}

void conv_args(benchmark::internal::Benchmark* b, bool training) {
  b->ArgNames({"n", "cin", "cout", "hw", "k", "s", "g"});
  const std::vector<std::vector<int64_t>> shapes = {
      {96, 24, 14, 1, 1, 1},      // 1x1 projection
      {144, 40, 7, 1, 1, 1},      // 1x1 projection, late stage
      {240, 240, 7, 5, 1, 240},   // depthwise 5x5
      {144, 144, 14, 3, 2, 144},  // depthwise 3x3 stride 2
      {3, 16, 32, 3, 1, 1},       // stem (oneDNN)
  };
  for (const auto& sh : shapes) {
    std::vector<int64_t> a{training ? 128 : 1};
    a.insert(a.end(), sh.begin(), sh.end());
    b->Args(a);
  }
  b->Unit(benchmark::kMicrosecond)->UseRealTime();
}

void BM_linear_fwd_bwd(benchmark::State& st) {
  const int64_t n = st.range(0), in = st.range(1), out = st.range(2);
  peak_per_thread();
  Generator gen(3);
  Variable x(Tensor::randn({n, in}, gen), true), w(Tensor::randn({out, in}, gen, 0.f, 0.05f), true);
  Variable b(Tensor::randn({out}, gen), true);
  const Tensor gy = Tensor::randn({n, out}, gen);
  for (auto _ : st) {
    Variable y = linear(x, w, b);
    benchmark::DoNotOptimize(y.grad_fn()->backward(gy));
  }
  set_counters(st, 3 * 2.0 * n * in * out, 0, omp_get_max_threads());
}

void BM_matmul(benchmark::State& st) {
  const int64_t m = st.range(0);
  peak_per_thread();
  Generator gen(4);
  Variable a(Tensor::randn({m, m}, gen)), b(Tensor::randn({m, m}, gen));
  for (auto _ : st) benchmark::DoNotOptimize(matmul(a, b).data().raw_data());
  set_counters(st, 2.0 * m * m * m, 0, omp_get_max_threads());
}

}  // namespace

BENCHMARK(BM_conv_fwd)->Apply([](auto* b) { conv_args(b, true); });
BENCHMARK(BM_conv_fwd_bwd)->Apply([](auto* b) { conv_args(b, true); });
BENCHMARK(BM_conv_fwd)->Apply([](auto* b) { conv_args(b, false); });
BENCHMARK(BM_conv_fwd_bwd)->Apply([](auto* b) { conv_args(b, false); });
BENCHMARK(BM_conv_inference)->Apply([](auto* b) { conv_args(b, false); });
BENCHMARK(BM_linear_fwd_bwd)->Args({128, 1280, 1000})->Unit(benchmark::kMicrosecond)->UseRealTime();
BENCHMARK(BM_matmul)->Arg(512)->Unit(benchmark::kMicrosecond)->UseRealTime();

BENCHMARK_MAIN();
