#include <iostream>
#include <nlohmann/json.hpp>

#include "nas/builtin_networks.h"
#include "nas/train_network.h"
#include "ops/autocast.h"
#include "tensor/device_memory.h"
#include "tools/commands.h"

namespace hwnas::cli {

void add_train_command(CLI::App& app) {
  auto cfg = std::make_shared<TrainConfig>();
  auto net = std::make_shared<std::string>("elastic-mobile:max");
  auto threads = std::make_shared<int>(0);
  auto quiet = std::make_shared<bool>(false);
  auto device = std::make_shared<std::string>("cpu");
  auto* cmd = app.add_subcommand("train", "Train a fixed network on an image dataset; prints the test accuracy");
  cmd->add_option("--net", *net, "fbnet:ARCH_ID, elastic-mobile:max|min|ARCH_JSON, or a network JSON file")
      ->capture_default_str();
  cmd->add_option("--dataset", cfg->dataset, "fashion-mnist | cifar10 | cifar100")->capture_default_str();
  cmd->add_option("--data-dir", cfg->data_dir, "dataset folder (default for fashion-mnist: /usr/share/datasets/fashion-mnist)");
  cmd->add_option("--epochs", cfg->epochs, "epochs")->capture_default_str()->check(positive());
  cmd->add_option("--batch", cfg->batch, "batch size")->capture_default_str()->check(positive());
  cmd->add_option("--optimizer", cfg->optimizer, "sgd | adamw")->capture_default_str();
  cmd->add_option("--lr", cfg->lr, "peak learning rate (cosine schedule after warm-up)")
      ->capture_default_str()
      ->check(positive());
  cmd->add_option("--momentum", cfg->momentum, "SGD momentum")->capture_default_str();
  cmd->add_option("--nesterov", cfg->nesterov, "Nesterov momentum (true/false)")->capture_default_str();
  cmd->add_option("--weight-decay", cfg->weight_decay, "weight decay")->capture_default_str();
  cmd->add_option("--label-smoothing", cfg->label_smoothing, "label smoothing")->capture_default_str();
  cmd->add_option("--warmup-epochs", cfg->warmup_epochs, "linear warm-up length in epochs")->capture_default_str();
  cmd->add_option("--crop-padding", cfg->crop_padding, "random crop padding in pixels (0: off)")->capture_default_str();
  cmd->add_option("--hflip", cfg->hflip, "random horizontal flips (true/false)")->capture_default_str();
  cmd->add_option("--seed", cfg->seed, "seed for init, shuffling and augmentation")->capture_default_str();
  cmd->add_option("--train-limit", cfg->train_limit, "use only the first N training images (0: all)");
  cmd->add_option("--test-limit", cfg->test_limit, "use only the first N test images (0: all)");
  cmd->add_option("--out", cfg->out_dir, "run folder: checkpoint.hwnas and history.json after every epoch");
  cmd->add_option("--init", cfg->init_weights,
                  "start from these weights instead of a fresh init (fine-tuning): weights.hwnas of `hwnas extract` "
                  "or a `hwnas train` checkpoint of the same network");
  cmd->add_flag("--resume", cfg->resume, "continue the run in --out from its last checkpoint");
  cmd->add_option("--stop-after", cfg->stop_after_epochs,
                  "stop after this many epochs of the planned --epochs (continue later with --resume)");
  cmd->add_option("--threads", *threads, "OpenMP threads (default: OMP_NUM_THREADS or all cores)")
      ->check(non_negative());
  cmd->add_option("--device", *device, "cpu, cuda or cuda:N (the CUDA backend; SGD only)")->capture_default_str();
  auto autocast = std::make_shared<std::string>("off");
  cmd->add_option("--autocast", *autocast,
                  "off or bf16: bf16 mixed precision for convs and linear layers on a CUDA --device (fp32 master "
                  "weights)")
      ->capture_default_str();
  cmd->add_flag("--quiet", *quiet, "no progress bar");
  cmd->callback([=] {
    set_threads(*threads);
    cfg->device = parse_device(*device);
    cfg->autocast = parse_autocast(*autocast, "--autocast");
    if (cfg->resume && cfg->out_dir.empty()) throw CLI::ValidationError("--resume", "needs --out");
    cfg->net = resolve_network(*net);
    cfg->progress = !*quiet;
    TrainResult r = train_network(*cfg);
    nlohmann::json j = {{"net", *net}, {"dataset", cfg->dataset}, {"epochs", cfg->epochs},
                        {"test_accuracy", r.final_test_accuracy}};
    std::cout << j.dump() << std::endl;
  });
}

}  // namespace hwnas::cli
