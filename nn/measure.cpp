#include "nn/measure.h"

#include "tensor/device_memory.h"

#include <algorithm>
#include <chrono>
#include <functional>

#include "nn/optim.h"
#include "ops/loss.h"

namespace hwnas {

namespace {
using Clock = std::chrono::steady_clock;
double ms_since(Clock::time_point t) { return std::chrono::duration<double, std::milli>(Clock::now() - t).count(); }
Shape batch_shape(const NetworkSpec& s, int64_t b) { return {b, s.input[0], s.input[1], s.input[2]}; }
}  // namespace

Tensor random_labels(int64_t n, int64_t classes, Generator& gen) {
  Tensor y = Tensor::empty({n}, DType::i64);
  for (int64_t i = 0; i < n; ++i) y.data<int64_t>()[i] = static_cast<int64_t>(gen.below(classes));
  return y;
}

std::vector<double> time_calls(const std::function<void()>& f, int warmup, int runs) {
  for (int i = 0; i < warmup; ++i) f();
  std::vector<double> ms;
  for (int i = 0; i < runs; ++i) {
    const auto t = Clock::now();
    f();
    ms.push_back(ms_since(t));
  }
  return ms;
}

TrainMeasurement train_measurement(int64_t batch, std::vector<double> step_ms, double images_per_step) {
  TrainMeasurement m;
  m.batch = batch;
  m.step_ms = std::move(step_ms);
  double total = 0;
  for (double s : m.step_ms) total += s;
  m.mean_step_ms = total / static_cast<double>(m.step_ms.size());
  m.median_step_ms = median(m.step_ms);
  m.images_per_s = images_per_step / (m.mean_step_ms / 1e3);
  return m;
}

double median(std::vector<double> v) {
  if (v.empty()) return 0;
  std::sort(v.begin(), v.end());
  const size_t n = v.size();
  return n % 2 ? v[n / 2] : 0.5 * (v[n / 2 - 1] + v[n / 2]);
}

TrainMeasurement measure_train(const NetworkSpec& spec, int64_t batch, int warmup, int steps, uint64_t seed,
                               Device device) {
  if (batch <= 0 || steps <= 0) fail("measure_train: batch and steps must be positive, got {} and {}", batch, steps);
  auto net = build_network(spec, seed);
  if (!device.is_cpu()) net->to(device);  // before the optimizer makes its momentum buffers
  net->train();
  Sgd opt(net->parameters(), SgdOptions{0.05f, 0.9f, 0.f, 4e-5f, false});
  Generator gen(seed + 1);
  Variable x(Tensor::randn(batch_shape(spec, batch), gen).to(device));
  const Tensor y = random_labels(batch, spec.classes, gen).to(device);
  auto step = [&] {
    opt.zero_grad();
    cross_entropy(net->forward(x), y).backward();
    opt.step();
    synchronize_device(device);
  };
  return train_measurement(batch, time_calls(step, warmup, steps), static_cast<double>(batch));
}

InferMeasurement measure_infer(const NetworkSpec& spec, int64_t batch, int warmup, int iters, uint64_t seed) {
  return measure_infer_many({spec}, batch, warmup, iters, 1, seed).at(0);
}

namespace {

// Built, in eval mode with batch norm folded, with a fixed random input.
struct PreparedNet {
  std::shared_ptr<Sequential> net;
  Variable x;
};

std::vector<PreparedNet> prepare_nets(const std::vector<NetworkSpec>& specs, int64_t batch, uint64_t seed) {
  std::vector<PreparedNet> r;
  for (const NetworkSpec& spec : specs) {
    PreparedNet p;
    p.net = build_network(spec, seed);
    p.net->eval();
    p.net->prepare_inference();
    Generator gen(seed + 1);
    p.x = Variable(Tensor::randn(batch_shape(spec, batch), gen));
    r.push_back(std::move(p));
  }
  return r;
}

// Calls run(net, timed) warmup times untimed per network, then the runs of each network
// interleaved in `rounds` rounds.
void interleave(size_t nets, int warmup, int iters, int rounds, const std::function<void(size_t, bool)>& run,
                const MeasureProgress& progress) {
  if (iters <= 0 || rounds <= 0) fail("measure: iters and rounds must be positive, got {} and {}", iters, rounds);
  rounds = std::min(rounds, iters);
  for (size_t n = 0; n < nets; ++n)
    for (int i = 0; i < warmup; ++i) run(n, false);
  for (int r = 0; r < rounds; ++r) {
    const int share = iters / rounds + (r < iters % rounds ? 1 : 0);
    for (size_t n = 0; n < nets; ++n)
      for (int i = 0; i < share; ++i) run(n, true);
    if (progress) progress(double(r + 1) / rounds);
  }
}

InferMeasurement infer_measurement(int64_t batch, std::vector<double> iter_ms) {
  InferMeasurement m;
  m.batch = batch;
  double total = 0;
  for (double v : iter_ms) total += v;
  m.mean_ms = total / double(iter_ms.size());
  m.median_ms = median(iter_ms);
  std::vector<double> sorted = iter_ms;
  std::sort(sorted.begin(), sorted.end());
  m.p90_ms = sorted[std::min<size_t>(sorted.size() - 1, static_cast<size_t>(0.9 * sorted.size()))];
  m.iter_ms = std::move(iter_ms);
  return m;
}

}  // namespace

std::vector<InferMeasurement> measure_infer_many(const std::vector<NetworkSpec>& specs, int64_t batch, int warmup,
                                                 int iters, int rounds, uint64_t seed,
                                                 const MeasureProgress& progress) {
  if (batch <= 0 || iters <= 0) fail("measure_infer: batch and iters must be positive, got {} and {}", batch, iters);
  std::vector<PreparedNet> nets = prepare_nets(specs, batch, seed);
  NoGradGuard ng;
  std::vector<std::vector<double>> times(nets.size());
  interleave(nets.size(), warmup, iters, rounds, [&](size_t n, bool timed) {
    const Clock::time_point t = Clock::now();
    nets[n].net->forward(nets[n].x);
    if (timed) times[n].push_back(ms_since(t));
  }, progress);
  std::vector<InferMeasurement> r;
  for (auto& t : times) r.push_back(infer_measurement(batch, std::move(t)));
  return r;
}

std::vector<InferLayerMeasurement> measure_infer_layers_many(const std::vector<NetworkSpec>& specs, int64_t batch,
                                                             int warmup, int iters, int rounds, uint64_t seed,
                                                             const MeasureProgress& progress) {
  if (batch <= 0 || iters <= 0) fail("measure_infer_layers: batch and iters must be positive, got {} and {}", batch, iters);
  std::vector<PreparedNet> nets = prepare_nets(specs, batch, seed);
  NoGradGuard ng;
  std::vector<std::vector<std::vector<double>>> per_layer(nets.size());
  std::vector<std::vector<double>> whole(nets.size());
  for (size_t n = 0; n < nets.size(); ++n) per_layer[n].resize(nets[n].net->layers().size());
  interleave(nets.size(), warmup, iters, rounds, [&](size_t n, bool timed) {
    const std::vector<ModulePtr>& layers = nets[n].net->layers();
    Variable h = nets[n].x;
    Clock::time_point t = Clock::now();
    double sum = 0;
    for (size_t i = 0; i < layers.size(); ++i) {
      h = layers[i]->forward(h);
      const Clock::time_point t1 = Clock::now();
      const double ms = std::chrono::duration<double, std::milli>(t1 - t).count();
      t = t1;
      if (timed) per_layer[n][i].push_back(ms);
      sum += ms;
    }
    if (timed) whole[n].push_back(sum);
  }, progress);
  std::vector<InferLayerMeasurement> r;
  for (size_t n = 0; n < nets.size(); ++n) {
    InferLayerMeasurement m;
    for (auto& v : per_layer[n]) m.layer_ms.push_back(median(v));
    m.whole_ms = median(whole[n]);
    r.push_back(std::move(m));
  }
  return r;
}

}  // namespace hwnas
