#include "nas/train_network.h"


#include <chrono>
#include <cmath>
#include <cstdio>
#include <filesystem>
#include <fstream>

#include "io/atomic_file.h"
#include "io/checkpoint.h"
#include "io/cifar.h"
#include "io/dataloader.h"
#include "io/idx.h"
#include "nn/optim.h"
#include "nas/progress_bar.h"
#include "ops/autocast.h"
#include "ops/loss.h"

namespace hwnas {

using nlohmann::json;

DatasetPair load_dataset_pair(const std::string& name, const std::string& dir) {
  if (name == "fashion-mnist") {
    const std::string d = dir.empty() ? kFashionMnistDir : dir;
    return {load_fashion_mnist(true, d), load_fashion_mnist(false, d), {0.2860f}, {0.3530f}};
  }
  if (name == "cifar10") {
    if (dir.empty()) fail("--data-dir is needed for cifar10 (the folder with data_batch_1.bin ... test_batch.bin)");
    return {load_cifar10(dir, true), load_cifar10(dir, false), {0.4914f, 0.4822f, 0.4465f}, {0.2470f, 0.2435f, 0.2616f}};
  }
  if (name == "cifar100") {
    if (dir.empty()) fail("--data-dir is needed for cifar100 (the folder with train.bin and test.bin)");
    return {load_cifar100(dir, true), load_cifar100(dir, false), {0.5071f, 0.4865f, 0.4409f}, {0.2673f, 0.2564f, 0.2762f}};
  }
  fail("unknown dataset \"{}\" (known: fashion-mnist, cifar10, cifar100)", name);
}

// Rows of logits [N, C] whose arg-max is the label.
int64_t count_correct(const Tensor& logits, const Tensor& labels) {
  const Tensor l = logits.contiguous();
  const int64_t n = l.size(0), c = l.size(1);
  const float* p = l.data<float>();
  const int64_t* y = labels.data<int64_t>();
  int64_t correct = 0;
  for (int64_t i = 0; i < n; ++i) correct += (std::max_element(p + i * c, p + (i + 1) * c) - (p + i * c)) == y[i];
  return correct;
}

double evaluate_accuracy(Module& net, const Dataset& data, const std::vector<float>& mean,
                         const std::vector<float>& std, int64_t batch) {
  const bool was_training = net.is_training();
  const auto params = net.parameters();
  const Device dev = params.empty() ? Device{} : params[0].data().device();
  net.eval();
  net.prepare_inference();  // BN folded into the convs (on a GPU too: cuda/conv.h's epilogue)
  NoGradGuard ng;
  DataLoaderOptions o;
  o.batch_size = batch;
  o.mean = mean;
  o.std = std;
  DataLoader loader(data, o);
  loader.start_epoch(0);
  int64_t correct = 0, total = 0;
  while (auto b = loader.next()) {
    correct += count_correct(net.forward(Variable(b->images.to(dev))).data().cpu(), b->labels);
    total += b->labels.size(0);
  }
  net.train(was_training);
  return total ? static_cast<double>(correct) / total : 0.0;
}

namespace {

json config_json(const TrainConfig& c) {
  return {{"net", network_spec_to_json(c.net)}, {"dataset", c.dataset}, {"epochs", c.epochs}, {"batch", c.batch},
          {"optimizer", c.optimizer}, {"lr", c.lr}, {"momentum", c.momentum}, {"nesterov", c.nesterov},
          {"weight_decay", c.weight_decay}, {"label_smoothing", c.label_smoothing}, {"warmup_epochs", c.warmup_epochs},
          {"crop_padding", c.crop_padding}, {"hflip", c.hflip}, {"seed", c.seed}, {"train_limit", c.train_limit},
          {"init_weights", c.init_weights}, {"autocast", dtype_name(c.autocast)}};
}

}  // namespace

json epoch_json(const EpochResult& e) {
  return {{"epoch", e.epoch}, {"train_loss", e.train_loss}, {"train_accuracy", e.train_accuracy},
          {"test_accuracy", e.test_accuracy}, {"seconds", e.seconds}, {"images_per_s", e.images_per_s}};
}

EpochResult epoch_from_json(const json& e) {
  return {e.at("epoch"), e.at("train_loss"), e.at("train_accuracy"), e.at("test_accuracy"), e.at("seconds"),
          e.at("images_per_s")};
}

TrainResult train_network(const TrainConfig& cfg) {
  if (cfg.epochs <= 0 || cfg.batch <= 0) fail("train: --epochs and --batch must be positive");
  if (cfg.optimizer != "sgd" && cfg.optimizer != "adamw")
    fail("train: --optimizer must be sgd or adamw, got \"{}\"", cfg.optimizer);
  check_autocast_device(cfg.autocast, cfg.device, "train");
  const AutocastScope autocast(cfg.autocast);  // forward and backward of every step, and evaluation
  DatasetPair data = load_dataset_pair(cfg.dataset, cfg.data_dir);
  if (cfg.train_limit > 0 && cfg.train_limit < data.train.size()) data.train = data.train.slice(0, cfg.train_limit);
  if (cfg.test_limit > 0 && cfg.test_limit < data.test.size()) data.test = data.test.slice(0, cfg.test_limit);
  if (data.train.image_shape() != cfg.net.input)
    fail("train: network \"{}\" takes input {} but {} images are {}", cfg.net.name, shape_str(cfg.net.input),
         cfg.dataset, shape_str(data.train.image_shape()));
  if (data.train.num_classes() != cfg.net.classes)
    fail("train: network \"{}\" has {} classes but {} has {}", cfg.net.name, cfg.net.classes, cfg.dataset,
         data.train.num_classes());

  auto net = build_network(cfg.net, cfg.seed);
  if (!cfg.init_weights.empty()) {
    // Both an extracted subnet's weights (plain names) and a training checkpoint ("model." names).
    const Checkpoint ck = load_checkpoint(cfg.init_weights);
    const bool prefixed = std::any_of(ck.tensors.begin(), ck.tensors.end(),
                                      [](const auto& t) { return t.first.rfind("model.", 0) == 0; });
    NamedTensors t;
    for (auto& [n, v] : net->state()) t.emplace_back(prefixed ? "model." + n : n, v);
    try {
      load_into(ck, t, /*allow_unexpected=*/prefixed);
    } catch (const std::exception& e) {
      fail("train: --init {} does not fit network \"{}\": {}", cfg.init_weights, cfg.net.name, e.what());
    }
  }
  if (!cfg.device.is_cpu()) net->to(cfg.device);  // before the optimizer makes its state
  net->train();
  std::unique_ptr<Optimizer> opt;
  if (cfg.optimizer == "sgd")
    opt = std::make_unique<Sgd>(net->parameters(), SgdOptions{cfg.lr, cfg.momentum, 0.f, cfg.weight_decay, cfg.nesterov});
  else
    opt = std::make_unique<AdamW>(net->parameters(), AdamWOptions{cfg.lr, 0.9f, 0.999f, 1e-8f, cfg.weight_decay});

  DataLoaderOptions lo;
  lo.batch_size = cfg.batch;
  lo.shuffle = true;
  lo.drop_last = true;
  lo.seed = cfg.seed;
  lo.crop_padding = cfg.crop_padding;
  lo.hflip = cfg.hflip;
  lo.mean = data.mean;
  lo.std = data.std;
  DataLoader loader(data.train, lo);
  const int64_t steps_per_epoch = loader.num_batches();
  if (steps_per_epoch == 0) fail("train: {} training samples make no full batch of {}", data.train.size(), cfg.batch);
  const int64_t total_steps = steps_per_epoch * cfg.epochs;
  const int64_t warmup = static_cast<int64_t>(cfg.warmup_epochs * steps_per_epoch);

  TrainResult result;
  int64_t start_epoch = 0;
  namespace fs = std::filesystem;
  const std::string ckpt_path = cfg.out_dir.empty() ? "" : (fs::path(cfg.out_dir) / "checkpoint.hwnas").string();
  auto model_and_opt_state = [&] {
    NamedTensors t;
    for (auto& [n, v] : net->state()) t.emplace_back("model." + n, v);
    for (auto& [n, v] : opt->state()) t.emplace_back("optimizer." + n, v);
    return t;
  };
  if (!ckpt_path.empty()) {
    fs::create_directories(cfg.out_dir);
    if (fs::exists(ckpt_path)) {
      if (!cfg.resume)
        fail("train: {} exists; pass --resume to continue that run, or choose another --out", ckpt_path);
      Checkpoint ck = load_checkpoint(ckpt_path);
      const json saved = ck.metadata.value("config", json());
      json now = config_json(cfg);
      for (const char* key : {"net", "dataset", "batch", "optimizer", "seed", "train_limit"})
        if (saved.value(key, json()) != now[key])
          fail("train: cannot resume {}: its \"{}\" was {} but this run has {}", ckpt_path, key,
               saved.value(key, json()).dump(), now[key].dump());
      load_into(ck, model_and_opt_state());
      start_epoch = ck.metadata.at("epochs_done").get<int64_t>();
      opt->set_step_count(ck.metadata.at("step").get<int64_t>());
      for (const auto& e : ck.metadata.at("history")) result.epochs.push_back(epoch_from_json(e));
      if (cfg.progress) std::fprintf(stderr, "resuming %s at epoch %lld\n", ckpt_path.c_str(), static_cast<long long>(start_epoch + 1));
    }
  }

  for (int64_t epoch = start_epoch; epoch < cfg.epochs; ++epoch) {
    loader.start_epoch(epoch);
    ProgressBar bar(cfg.progress, epoch, cfg.epochs, steps_per_epoch);
    const auto t0 = std::chrono::steady_clock::now();
    double loss_sum = 0;
    int64_t correct = 0, seen = 0, step_in_epoch = 0;
    while (auto b = loader.next()) {
      const int64_t step = epoch * steps_per_epoch + step_in_epoch;
      opt->set_lr(cosine_lr(step, total_steps, warmup, cfg.lr));
      opt->zero_grad();
      Variable logits = net->forward(Variable(b->images.to(cfg.device)));
      Variable loss = cross_entropy(logits, b->labels, cfg.label_smoothing);
      loss.backward();
      opt->step();
      loss_sum += loss.item();
      correct += count_correct(logits.data().cpu(), b->labels);
      seen += b->labels.size(0);
      ++step_in_epoch;
      bar.update(step_in_epoch, loss_sum / step_in_epoch, seen);
    }
    EpochResult er;
    er.epoch = epoch + 1;
    er.seconds = std::chrono::duration<double>(std::chrono::steady_clock::now() - t0).count();
    er.images_per_s = seen / er.seconds;
    er.train_loss = loss_sum / std::max<int64_t>(step_in_epoch, 1);
    er.train_accuracy = static_cast<double>(correct) / std::max<int64_t>(seen, 1);
    er.test_accuracy = evaluate_accuracy(*net, data.test, data.mean, data.std);
    result.epochs.push_back(er);
    if (cfg.progress)
      std::fprintf(stderr, "epoch %lld/%lld: train loss %.4f, train acc %.2f%%, test acc %.2f%%, %.0f img/s, %.0f s\n",
                   static_cast<long long>(er.epoch), static_cast<long long>(cfg.epochs), er.train_loss,
                   100 * er.train_accuracy, 100 * er.test_accuracy, er.images_per_s, er.seconds);
    if (!ckpt_path.empty()) {
      json history = json::array();
      for (const auto& e : result.epochs) history.push_back(epoch_json(e));
      json meta = {{"kind", "hwnas-train"}, {"config", config_json(cfg)}, {"epochs_done", epoch + 1},
                   {"step", opt->step_count()}, {"history", history}};
      save_checkpoint(ckpt_path, model_and_opt_state(), meta);
      write_file_atomic((fs::path(cfg.out_dir) / "history.json").string(), json{{"config", config_json(cfg)}, {"epochs", history}}.dump(2));
    }
    if (cfg.stop_after_epochs > 0 && epoch + 1 >= cfg.stop_after_epochs && epoch + 1 < cfg.epochs) break;
  }
  result.final_test_accuracy = result.epochs.empty() ? 0 : result.epochs.back().test_accuracy;
  return result;
}

}  // namespace hwnas
