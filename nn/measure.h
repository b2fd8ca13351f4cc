#pragma once
// The same measurements the peers make (../shared/peers): warm-up, then timed steps on random
// data. Shared by `hwnas bench`, bench/ and the host-cpu target, so all report the same thing.
#include <functional>
#include <vector>

#include "nn/network.h"

namespace hwnas {

struct TrainMeasurement {
  int64_t batch = 0;
  std::vector<double> step_ms;  // each timed step
  double mean_step_ms = 0, median_step_ms = 0;
  double images_per_s = 0;      // batch / mean step (the peers' definition)
};

struct InferMeasurement {
  int64_t batch = 0;
  std::vector<double> iter_ms;
  double mean_ms = 0, median_ms = 0, p90_ms = 0;
};

// Calls f `warmup` times untimed, then `runs` times, returning each timed call in ms.
std::vector<double> time_calls(const std::function<void()>& f, int warmup, int runs);
// A training measurement from timed steps that each push `images_per_step` images (batch x
// subnets per step for supernet steps).
TrainMeasurement train_measurement(int64_t batch, std::vector<double> step_ms, double images_per_step);
// n class labels drawn uniformly from [0, classes).
Tensor random_labels(int64_t n, int64_t classes, Generator& gen);

// SGD(lr 0.05, momentum 0.9, weight decay 4e-5) steps with cross-entropy, like the peers.
// On a GPU (`device`), each timed step ends when the device is idle.
TrainMeasurement measure_train(const NetworkSpec& spec, int64_t batch, int warmup, int steps, uint64_t seed = 0,
                               Device device = {});
// Eval mode, batch norm folded into the convs, no autograd.
InferMeasurement measure_infer(const NetworkSpec& spec, int64_t batch, int warmup, int iters, uint64_t seed = 0);

// Several networks measured together, their timed runs interleaved: `rounds` rounds, each giving
// every network its share of `iters` runs in turn (after `warmup` untimed runs each). On a
// machine whose speed drifts over seconds (a shared VM: medians of one network 20% apart a few
// seconds later), each network's runs then span the same stretch of time, so differences
// between the networks are not differences between moments. rounds = 1: one after another.
// `progress`, when set, gets the fraction done after each round.
using MeasureProgress = std::function<void(double)>;
std::vector<InferMeasurement> measure_infer_many(const std::vector<NetworkSpec>& specs, int64_t batch, int warmup,
                                                 int iters, int rounds, uint64_t seed = 0,
                                                 const MeasureProgress& progress = {});

// Like measure_infer_many, with each layer of each network timed where it runs: a clock read
// between consecutive layers (~20 ns each). layer_ms[i] is the median over runs of layer i
// (spec.layers[i]); whole_ms the median over runs of their sum. A layer timed inside the network
// finds its input just written and its weights wherever the layers before it left them, which
// is what a per-layer lookup table has to add up to; timed alone, its weights stay in cache.
struct InferLayerMeasurement {
  std::vector<double> layer_ms;
  double whole_ms = 0;
};
std::vector<InferLayerMeasurement> measure_infer_layers_many(const std::vector<NetworkSpec>& specs, int64_t batch,
                                                             int warmup, int iters, int rounds, uint64_t seed = 0,
                                                             const MeasureProgress& progress = {});

double median(std::vector<double> v);

}  // namespace hwnas
