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
#include <map>
#include <string>
#include <vector>

#include "io/dataloader.h"
#include "nas/elastic_supernet.h"
#include "nas/train_network.h"

namespace hwnas {

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
  // evaluation
  std::vector<std::string> eval_archs = {"max", "min"};  // names understood by parse_arch
  int64_t recal_batches = 40;
  uint64_t seed = 0;
  int64_t train_limit = 0, test_limit = 0;
  std::string out_dir;  // checkpoint.hwnas, history.json (and arch.json for dnas)
  bool resume = false;
  int64_t stop_after_epochs = 0;
  bool progress = true;
};

struct SupernetEpoch {
  int64_t epoch = 0;
  double train_loss = 0, seconds = 0, subnet_images_per_s = 0;
  std::map<std::string, double> test_accuracy;  // per evaluation arch
};

struct SupernetTrainResult {
  std::vector<SupernetEpoch> epochs;
  nlohmann::json derived_arch;  // dnas: the arg-max of the logits
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

// The samplers by name, for --help and errors.
const std::vector<std::string>& supernet_samplers();

}  // namespace hwnas
