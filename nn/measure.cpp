#include "nn/measure.h"

#include <algorithm>
#include <chrono>

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

TrainMeasurement measure_train(const NetworkSpec& spec, int64_t batch, int warmup, int steps, uint64_t seed) {
  if (batch <= 0 || steps <= 0) fail("measure_train: batch and steps must be positive, got {} and {}", batch, steps);
  auto net = build_network(spec, seed);
  net->train();
  Sgd opt(net->parameters(), SgdOptions{0.05f, 0.9f, 0.f, 4e-5f, false});
  Generator gen(seed + 1);
  Variable x(Tensor::randn(batch_shape(spec, batch), gen));
  const Tensor y = random_labels(batch, spec.classes, gen);
  auto step = [&] {
    opt.zero_grad();
    cross_entropy(net->forward(x), y).backward();
    opt.step();
  };
  return train_measurement(batch, time_calls(step, warmup, steps), static_cast<double>(batch));
}

InferMeasurement measure_infer(const NetworkSpec& spec, int64_t batch, int warmup, int iters, uint64_t seed) {
  if (batch <= 0 || iters <= 0) fail("measure_infer: batch and iters must be positive, got {} and {}", batch, iters);
  auto net = build_network(spec, seed);
  net->eval();
  net->prepare_inference();
  NoGradGuard ng;
  Generator gen(seed + 1);
  Variable x(Tensor::randn(batch_shape(spec, batch), gen));
  InferMeasurement m;
  m.batch = batch;
  m.iter_ms = time_calls([&] { net->forward(x); }, warmup, iters);
  double total = 0;
  for (double s : m.iter_ms) total += s;
  m.mean_ms = total / iters;
  m.median_ms = median(m.iter_ms);
  auto sorted = m.iter_ms;
  std::sort(sorted.begin(), sorted.end());
  m.p90_ms = sorted[std::min<size_t>(sorted.size() - 1, static_cast<size_t>(0.9 * sorted.size()))];
  return m;
}

}  // namespace hwnas
