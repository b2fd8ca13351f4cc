#pragma once
// Supernet training on an image dataset with one of four samplers:
//   uniform          single path (SPOS): one uniformly sampled subnet per step
//   sandwich         max + min + N random subnets per step, gradients accumulated, one step;
//                    with in-place distillation the max subnet's soft labels teach the others
//   ordered-dropout  NetAdaptV2: the batch is split into groups, each running its own subnet
//                    (max, min, random...) in one forward-backward
//   dnas             FBNet/FBNetV2: every choice mixed by Gumbel-softmax weights of learned
//                    architecture logits; weights trained with SGD on the training split,
//                    logits with Adam on a held-out split of the training set
// After every epoch each evaluation arch (default max and min) is extracted, its batch norm
// recalibrated on training batches, and tested; a checkpoint (supernet, optimizers, sampler and
// RNG state) is written so that --resume continues bit-identically.
#include <cmath>
#include <map>
#include <memory>
#include <string>
#include <vector>

#include "io/dataloader.h"
#include "nas/elastic_supernet.h"
#include "nas/train_network.h"

namespace hwnas {

class DnasLatencyModel;

struct SupernetTrainConfig {
  std::string space = "elastic-mobile";
  std::string sampler = "sandwich";  // uniform | sandwich | ordered-dropout | dnas
  std::string data_dir;              // Fashion-MNIST folder (empty: the Debian package's)
  int64_t epochs = 10;
  int64_t batch = 128;
  float lr = 0.1f, momentum = 0.9f;
  bool nesterov = true;
  float weight_decay = 5e-5f;
  float label_smoothing = 0.1f;
  float warmup_epochs = 0.5f;
  int64_t crop_padding = 2;
  bool hflip = true;
  int64_t num_random = 2;  // sandwich: random subnets per step besides max and min
  bool distill = true;     // sandwich: in-place distillation from the max subnet
  int64_t od_groups = 4;   // ordered-dropout: subnets per batch (max, min, then random)
  // dnas
  float arch_lr = 0.01f;
  float holdout = 0.2f;            // fraction of the training set that trains the logits
  float tau = 5.f, tau_decay = 0.8f;  // Gumbel temperature tau * tau_decay^epoch
  int64_t arch_warmup_epochs = 1;  // epochs of weight-only training before the logits move
  // dnas latency term (nas/dnas_latency.h): the logits' loss on the held-out split is
  //   CE + latency_coef * E[latency] / latency(max arch)
  // (latency_budget_ms > 0: only the expected latency above the budget counts), E[] under the
  // softmax of the logits. latency_coef 0 (default): no latency term, as before.
  float latency_coef = 0.f;
  std::string latency_source = "lut";        // lut | swap | predictor
  std::string latency_target = "host-cpu";   // lut/swap: make_target name or config file;
                                             // predictor: a predictor file
  float latency_budget_ms = 0.f;
  // Given: used instead of building one from latency_source/latency_target (searches pass a
  // model of their own target); only its describe() goes into the config JSON. Otherwise the
  // model built is kept in out_dir/latency_model.json and reused on resume.
  std::shared_ptr<const DnasLatencyModel> latency_model;
  // Restricted space (HURRICANE stages): the uniform, sandwich and ordered-dropout samplers draw
  // only these choices (nas/space.h sample_arch_within; empty: all), and max/min are the
  // restricted space's.
  ChoiceSets allowed_choices;
  // A supernet checkpoint whose weights start this run (fine-tuning, later search stages);
  // empty: fresh initialization from `seed`.
  std::string init_from;
  // evaluation
  std::vector<std::string> eval_archs = {"max", "min"};  // names understood by parse_arch
  int64_t recal_batches = 40;
  uint64_t seed = 0;
  int64_t train_limit = 0, test_limit = 0;
  std::string out_dir;  // checkpoint.hwnas, history.json (and arch.json for dnas)
  bool resume = false;
  int64_t stop_after_epochs = 0;
  bool progress = true;
  // Where the supernet trains. On a GPU the per-epoch subnet evaluations still run on the CPU
  // (extracted subnets are CPU networks).
  Device device;
  DType autocast = DType::f32;  // bf16: mixed precision on a CUDA device (ops/autocast.h)
};

struct SupernetEpoch {
  int64_t epoch = 0;
  double train_loss = 0, seconds = 0, subnet_images_per_s = 0;
  std::map<std::string, double> test_accuracy;  // per evaluation arch
  int64_t device_mallocs = -1;  // on a GPU: cudaMalloc calls during the epoch's steps (-1: CPU run)
};

struct SupernetTrainResult {
  std::vector<SupernetEpoch> epochs;
  nlohmann::json derived_arch;  // dnas: the arg-max of the logits
  nlohmann::json arch_probabilities;  // dnas: DnasState::probabilities_json()
  // dnas with a latency term: E[latency] under the final softmax, the model's latency of the
  // derived arch (ms), and the mean entropy of the dimensions' softmax (nats); NaN otherwise.
  double expected_latency_ms = std::nan(""), derived_latency_ms = std::nan(""), entropy = std::nan("");
};

SupernetTrainResult train_supernet(const SupernetTrainConfig& cfg);

// Test accuracy of one subnet: extracted, its batch norm recalibrated on `recal_batches`
// batches of `recal_loader`, evaluated on data.test.
double evaluate_subnet(const ElasticMobileSupernet& net, const Arch& arch, const DatasetPair& data,
                       DataLoader& recal_loader, int64_t recal_batches);

// The supernet of a `hwnas supernet train` checkpoint; `config` receives the run's config.
std::unique_ptr<ElasticMobileSupernet> load_supernet(const std::string& path, nlohmann::json* config = nullptr);

// A loader of Fashion-MNIST training batches with training augmentation, for recalibration.
DataLoader recalibration_loader(const DatasetPair& data, int64_t batch, uint64_t seed);
DataLoaderOptions recalibration_loader_options(const DatasetPair& data, int64_t batch, uint64_t seed);

// The samplers by name, for --help and errors.
const std::vector<std::string>& supernet_samplers();

}  // namespace hwnas
