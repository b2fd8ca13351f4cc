#pragma once
// Trains a fixed network (nn/network.h) on an image-classification dataset: SGD or AdamW with
// a cosine schedule and warm-up, label smoothing, augmentation, per-epoch test accuracy,
// a checkpoint after every epoch, and resume from it.
#include <functional>
#include <string>

#include "io/dataset.h"
#include "nn/network.h"

namespace hwnas {

struct TrainConfig {
  NetworkSpec net;
  std::string dataset = "fashion-mnist";  // fashion-mnist | cifar10 | cifar100
  std::string data_dir;                   // empty: the dataset's default location
  int64_t epochs = 10;
  int64_t batch = 128;
  std::string optimizer = "sgd";  // sgd | adamw
  float lr = 0.1f;
  float momentum = 0.9f;
  bool nesterov = true;
  float weight_decay = 5e-5f;
  float label_smoothing = 0.1f;
  float warmup_epochs = 0.5f;
  int64_t crop_padding = 2;
  bool hflip = true;
  uint64_t seed = 0;
  int64_t train_limit = 0;  // use only the first N training samples (0: all), for quick runs
  int64_t test_limit = 0;
  std::string out_dir;  // checkpoint.hwnas and history.json go here (empty: no checkpoints)
  // Weights that start the run instead of a fresh init (fine-tuning): a `hwnas extract`
  // weights.hwnas or a `hwnas train` checkpoint.hwnas of the same network.
  std::string init_weights;
  bool resume = false;
  int64_t stop_after_epochs = 0;  // end this invocation after that many epochs (0: run to the end)
  bool progress = true;
  Device device;  // where the network trains (cpu, or a CUDA device); data stays on the host until each batch
  DType autocast = DType::f32;  // bf16: mixed precision on a CUDA device (ops/autocast.h)
};

struct EpochResult {
  int64_t epoch = 0;
  double train_loss = 0, train_accuracy = 0, test_accuracy = 0, seconds = 0, images_per_s = 0;
};

struct TrainResult {
  std::vector<EpochResult> epochs;
  double final_test_accuracy = 0;
};

TrainResult train_network(const TrainConfig& cfg);

// The per-epoch record in history.json and checkpoints.
nlohmann::json epoch_json(const EpochResult& e);
EpochResult epoch_from_json(const nlohmann::json& j);

// Accuracy of `net` on a dataset in eval mode (batch norm folded, no autograd), with the
// per-channel normalization used in training.
class Module;
double evaluate_accuracy(Module& net, const Dataset& data, const std::vector<float>& mean,
                         const std::vector<float>& std, int64_t batch = 500);

// Rows of logits [N, C] whose arg-max is the label.
int64_t count_correct(const Tensor& logits, const Tensor& labels);

// The training and test sets of a dataset name (fashion-mnist, cifar10, cifar100) and their
// per-channel normalization.
struct DatasetPair {
  Dataset train, test;
  std::vector<float> mean, std;
};
DatasetPair load_dataset_pair(const std::string& name, const std::string& dir);

}  // namespace hwnas
