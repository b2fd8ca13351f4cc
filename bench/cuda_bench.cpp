// The kernel lab of the fused CUDA kernels (issue 7): each fused supernet kernel against the
// composed path it replaces, forward + backward through the op, and the multi-tensor optimizer
// steps, on cuda:0. Counters: GB/s of the fused kernel's compulsory DRAM traffic (each tensor
// read or written once) and pct_peak_bw, that traffic's share of the GPU's theoretical bandwidth.
// The composed rows are given the same byte count, so their GB/s read as effective bandwidth:
// the ratio of the two rows is what fusing buys. Every iteration ends with a stream
// synchronisation (manual time), so launch and allocator overheads are included.
//   ./cuda_bench                      (every benchmark skips, saying why, without a GPU)
//   ./cuda_bench --benchmark_filter=split_attention
#include <benchmark/benchmark.h>

#include <chrono>
#include <string>
#include <vector>

#include "nas/elastic_supernet.h"
#include "nn/optim.h"
#include "ops/autocast.h"
#include "ops/conv.h"
#include "ops/fused_kernels.h"
#include "ops/mixed_op.h"
#include "ops/ordered_dropout.h"
#include "ops/shape_ops.h"
#include "ops/split_attention.h"
#include "tensor/device_memory.h"
#include "tensor/rng.h"

using namespace hwnas;

namespace {

const Device kGpu{DeviceType::cuda, 0};

bool have_gpu(benchmark::State& st) {
  if (cuda_device_count() > 0) return true;
  st.SkipWithError(("no GPU to measure on: " + cuda_unavailable_reason()).c_str());
  return false;
}

Tensor gpu_randn(const Shape& shape, uint64_t seed, MemoryFormat fmt = MemoryFormat::contiguous) {
  Generator g(seed);
  return Tensor::randn(shape, g).contiguous(fmt).to(kGpu);
}

// Runs f once untimed (first launches, allocator cache), then times each iteration to the end of
// its GPU work, and reports bytes per iteration as GB/s and % of the GPU's peak bandwidth.
template <class F>
void measure(benchmark::State& st, double bytes, F&& f) {
  static const GpuInfo info = gpu_info(kGpu);
  f();
  synchronize_device(kGpu);
  for (auto _ : st) {
    const auto t0 = std::chrono::steady_clock::now();
    f();
    synchronize_device(kGpu);
    st.SetIterationTime(std::chrono::duration<double>(std::chrono::steady_clock::now() - t0).count());
  }
  using C = benchmark::Counter;
  st.counters["GB/s"] = C(bytes * 1e-9, C::kIsIterationInvariantRate);
  st.counters["pct_peak_bw"] = C(100.0 * bytes / info.peak_bandwidth, C::kIsIterationInvariantRate);
  st.SetLabel(info.name);
}

// Mixed-op weighted sum of k candidates [128, 64, 28, 28], weights on the host (as DNAS keeps
// them). Fused traffic: forward k reads + 1 write; backward gy, k candidate reads (weight
// gradients) and k gradient writes.
void BM_weighted_sum(benchmark::State& st) {
  if (!have_gpu(st)) return;
  const bool fused = st.range(0) != 0;
  const int k = static_cast<int>(st.range(1));
  const Shape shape = {128, 64, 28, 28};
  std::vector<Variable> xs;
  for (int m = 0; m < k; ++m) xs.emplace_back(gpu_randn(shape, 1 + m), true);
  Variable w(Tensor::full({k}, 1.f / k), true);
  const Tensor gy = gpu_randn(shape, 99);
  FusedKernelsScope scope(fused);
  const double n = static_cast<double>(shape_numel(shape));
  measure(st, (3.0 * k + 2) * n * 4, [&] {
    for (auto& x : xs) x.zero_grad();
    w.zero_grad();
    weighted_sum(xs, w).backward(gy);
  });
}
BENCHMARK(BM_weighted_sum)
    ->ArgNames({"fused", "k"})
    ->ArgsProduct({{1, 0}, {4, 9}})
    ->UseManualTime()
    ->Unit(benchmark::kMicrosecond);

// Split-Attention combine of r splits [128, 64, 28, 28] with logits [128, 64], channels_last or
// contiguous. Fused traffic: forward r reads + 1 write; backward gy, r split reads, r writes.
void BM_split_attention(benchmark::State& st) {
  if (!have_gpu(st)) return;
  const bool fused = st.range(0) != 0;
  const int r = static_cast<int>(st.range(1));
  const bool cl = st.range(2) != 0;
  const Shape shape = {128, 64, 28, 28};
  const MemoryFormat fmt = cl ? MemoryFormat::channels_last : MemoryFormat::contiguous;
  std::vector<Variable> splits, logits;
  for (int m = 0; m < r; ++m) {
    splits.emplace_back(gpu_randn(shape, 1 + m, fmt), true);
    logits.emplace_back(gpu_randn({128, 64}, 50 + m), true);
  }
  const Tensor gy = gpu_randn(shape, 99, fmt);
  FusedKernelsScope scope(fused);
  const double n = static_cast<double>(shape_numel(shape));
  measure(st, (3.0 * r + 2) * n * 4, [&] {
    for (auto& v : splits) v.zero_grad();
    for (auto& v : logits) v.zero_grad();
    split_attention_combine(splits, logits).backward(gy);
  });
}
BENCHMARK(BM_split_attention)
    ->ArgNames({"fused", "radix", "channels_last"})
    ->ArgsProduct({{1, 0}, {2, 4}, {1, 0}})
    ->UseManualTime()
    ->Unit(benchmark::kMicrosecond);

// Split-Attention pooling of r splits [128, 64, 28, 28] to [128, 64], forward and backward.
// Fused traffic: forward r reads; backward one broadcast gradient written (the fused op shares
// it between the splits; the composed path writes one per split, which this count leaves out).
void BM_split_attention_pool(benchmark::State& st) {
  if (!have_gpu(st)) return;
  const bool fused = st.range(0) != 0;
  const int r = static_cast<int>(st.range(1));
  const Shape shape = {128, 64, 28, 28};
  std::vector<Variable> splits;
  for (int m = 0; m < r; ++m) splits.emplace_back(gpu_randn(shape, 1 + m, MemoryFormat::channels_last), true);
  const Tensor gy = gpu_randn({128, 64}, 99);
  FusedKernelsScope scope(fused);
  measure(st, (r + 1.0) * static_cast<double>(shape_numel(shape)) * 4, [&] {
    for (auto& v : splits) v.zero_grad();
    split_attention_pool(splits).backward(gy);
  });
}
BENCHMARK(BM_split_attention_pool)
    ->ArgNames({"fused", "radix"})
    ->ArgsProduct({{1, 0}, {2, 4}})
    ->UseManualTime()
    ->Unit(benchmark::kMicrosecond);

// Ordered dropout of [256, 96, 14, 14] in 4 width groups. Fused traffic: a read and a write of
// the tensor forward, the same backward.
void BM_ordered_dropout(benchmark::State& st) {
  if (!have_gpu(st)) return;
  const bool fused = st.range(0) != 0;
  const Shape shape = {256, 96, 14, 14};
  Variable x(gpu_randn(shape, 1, MemoryFormat::channels_last), true);
  const Tensor gy = gpu_randn(shape, 99, MemoryFormat::channels_last);
  std::vector<int64_t> widths(256);
  for (int64_t i = 0; i < 256; ++i) widths[i] = 96 - 24 * (i / 64);
  FusedKernelsScope scope(fused);
  measure(st, 4.0 * static_cast<double>(shape_numel(shape)) * 4, [&] {
    x.zero_grad();
    ordered_dropout(x, widths).backward(gy);
  });
}
BENCHMARK(BM_ordered_dropout)->ArgNames({"fused"})->Arg(1)->Arg(0)->UseManualTime()->Unit(benchmark::kMicrosecond);

// One optimizer step over the elastic-mobile supernet's parameters on the GPU (multi-tensor
// launches). Traffic per element: SGD with momentum reads w, g, buf and writes w, buf; AdamW
// reads w, g, m, v and writes w, m, v.
void BM_optimizer_step(benchmark::State& st) {
  if (!have_gpu(st)) return;
  const bool adamw = st.range(0) != 0;
  ElasticMobileSupernet net(0);
  net.to(kGpu);
  std::vector<Variable> params = net.parameters();
  double elems = 0;
  for (size_t i = 0; i < params.size(); ++i) {
    params[i].mutable_grad() = gpu_randn(params[i].shape(), 7 + i);
    elems += static_cast<double>(params[i].numel());
  }
  std::unique_ptr<Optimizer> opt;
  if (adamw) opt = std::make_unique<AdamW>(params, AdamWOptions{});
  else opt = std::make_unique<Sgd>(params, SgdOptions{0.1f, 0.9f, 0.f, 5e-5f, true});
  st.counters["tensors"] = static_cast<double>(params.size());
  measure(st, elems * 4 * (adamw ? 7 : 5), [&] { opt->step(); });
}
BENCHMARK(BM_optimizer_step)->ArgNames({"adamw"})->Arg(0)->Arg(1)->UseManualTime()->Unit(benchmark::kMicrosecond);

// The elastic depthwise convolution of the sandwich's max subnet at its widest: the centre 3x3
// of the shared 5x5 weight over x [512, 240, 14, 14] (stage 2, expand 6), forward and backward.
// fused: the kernel reads the centre in place and writes the weight gradient in PyTorch's
// layout; composed: the centre packed tap-major first, the gradient permuted back. Traffic:
// x and y (forward), gy and gx (input gradient), gy and x (weight gradient).
void BM_depthwise_elastic(benchmark::State& st) {
  if (!have_gpu(st)) return;
  const bool fused = st.range(0) != 0;
  const Shape shape = {512, 240, 14, 14};
  Variable x(gpu_randn(shape, 1, MemoryFormat::channels_last), true);
  Variable w5(gpu_randn({240, 1, 5, 5}, 2), true);
  const Tensor gy = gpu_randn(shape, 3, MemoryFormat::channels_last);
  FusedKernelsScope scope(fused);
  measure(st, 6.0 * static_cast<double>(shape_numel(shape)) * 4, [&] {
    x.zero_grad();
    w5.zero_grad();
    conv2d(x, narrow(narrow(w5, 2, 1, 3), 3, 1, 3), Variable(), Conv2dOptions::make(1, 1, 1, 240)).backward(gy);
  });
}
BENCHMARK(BM_depthwise_elastic)->ArgNames({"fused"})->Arg(1)->Arg(0)->UseManualTime()->Unit(benchmark::kMicrosecond);

// A pointwise convolution of the supernet's widest stage at the sandwich's batch (x [512, 64,
// 14, 14] -> 384 channels, the 1x1 expand of a block with expand 6), forward and both backward
// convolutions, in f32 (FMA math) and under bf16 autocast (tensor cores). Counters: TFLOP/s of
// the three convolutions' 3 x 2 N H W C_in C_out, and pct_peak_flops against the peak of the
// path's units from the SM count and clock with Hopper's (sm_90) per-SM rates: 256 f32 flops
// per clock on the FMA units, 4096 dense bf16 flops per clock on the tensor cores. The bf16 row
// includes its cast kernels (ops/autocast.h: activations stay f32 between ops).
void BM_conv_autocast(benchmark::State& st) {
  if (!have_gpu(st)) return;
  const bool bf16 = st.range(0) != 0;
  const int64_t n = 512, c_in = 64, c_out = 384, hw = 14;
  Variable x(gpu_randn({n, c_in, hw, hw}, 1, MemoryFormat::channels_last), true);
  Variable w(gpu_randn({c_out, c_in, 1, 1}, 2), true);
  const Tensor gy = gpu_randn({n, c_out, hw, hw}, 3, MemoryFormat::channels_last);
  const GpuInfo info = gpu_info(kGpu);
  const double flops = 3.0 * 2.0 * n * hw * hw * c_in * c_out;
  const double peak = info.sms * info.sm_clock_hz * (bf16 ? 4096.0 : 256.0);
  measure(st, 0.0, [&] {
    x.zero_grad();
    w.zero_grad();
    Variable y;
    {
      AutocastScope scope(bf16 ? DType::bf16 : DType::f32);
      y = conv2d(x, w, Variable(), Conv2dOptions::make(1, 0));
    }
    y.backward(gy);
  });
  using C = benchmark::Counter;
  st.counters.erase("GB/s");
  st.counters.erase("pct_peak_bw");
  st.counters["TFLOP/s"] = C(flops * 1e-12, C::kIsIterationInvariantRate);
  st.counters["pct_peak_flops"] = C(100.0 * flops / peak, C::kIsIterationInvariantRate);
  if (info.cc_major != 9) st.SetLabel(info.name + " (peak from sm_90 per-SM rates: not this GPU's)");
}
BENCHMARK(BM_conv_autocast)->ArgNames({"bf16"})->Arg(0)->Arg(1)->UseManualTime()->Unit(benchmark::kMicrosecond);

}  // namespace

BENCHMARK_MAIN();
