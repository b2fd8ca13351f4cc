// `hwnas supernet train`, `hwnas eval` and `hwnas extract`: train a weight-sharing supernet,
// measure one of its subnets, and write a subnet out as a standalone network.
#include <cmath>
#include <filesystem>
#include <iostream>
#include <nlohmann/json.hpp>

#include "io/atomic_file.h"
#include "io/checkpoint.h"
#include "nas/bn_recalibration.h"
#include "nas/builtin_spaces.h"
#include "nas/supernet_train.h"
#include "ops/autocast.h"
#include "tensor/device_memory.h"
#include "tools/commands.h"
#include "tools/subnet_options.h"

namespace hwnas::cli {

namespace {

void add_supernet_train(CLI::App& parent) {
  auto cfg = std::make_shared<SupernetTrainConfig>();
  auto threads = std::make_shared<int>(0);
  auto quiet = std::make_shared<bool>(false);
  auto no_distill = std::make_shared<bool>(false);
  auto* cmd = parent.add_subcommand("train", "Train a weight-sharing supernet on Fashion-MNIST");
  cmd->add_option("--space", cfg->space, "search space (elastic-mobile)")->capture_default_str();
  cmd->add_option("--sampler", cfg->sampler,
                  "uniform (SPOS) | sandwich (max+min+N random, in-place distillation) | ordered-dropout "
                  "(NetAdaptV2: groups of the batch through different subnets in one pass) | dnas (FBNetV2 "
                  "Gumbel-softmax logits trained on a held-out split)")
      ->capture_default_str();
  cmd->add_option("--epochs", cfg->epochs, "epochs")->capture_default_str()->check(positive());
  cmd->add_option("--batch", cfg->batch, "batch size")->capture_default_str()->check(positive());
  cmd->add_option("--lr", cfg->lr, "peak SGD learning rate (cosine after warm-up)")->capture_default_str()->check(positive());
  cmd->add_option("--weight-decay", cfg->weight_decay, "SGD weight decay")->capture_default_str()->check(non_negative());
  cmd->add_option("--label-smoothing", cfg->label_smoothing, "label smoothing of the hard-label loss")->capture_default_str();
  cmd->add_option("--num-random", cfg->num_random, "sandwich: random subnets per step")->capture_default_str()->check(non_negative());
  cmd->add_flag("--no-distill", *no_distill, "sandwich: train every subnet on the labels instead of the max subnet's soft labels");
  cmd->add_option("--od-groups", cfg->od_groups, "ordered-dropout: subnets per batch (max, min, random...)")
      ->capture_default_str()
      ->check(positive());
  cmd->add_option("--arch-lr", cfg->arch_lr, "dnas: Adam learning rate of the architecture logits")->capture_default_str();
  cmd->add_option("--holdout", cfg->holdout, "dnas: fraction of the training set that trains the logits")->capture_default_str();
  cmd->add_option("--tau", cfg->tau, "dnas: initial Gumbel-softmax temperature")->capture_default_str()->check(positive());
  cmd->add_option("--tau-decay", cfg->tau_decay, "dnas: temperature factor per epoch")->capture_default_str()->check(positive());
  cmd->add_option("--arch-warmup", cfg->arch_warmup_epochs, "dnas: weight-only epochs before the logits train")
      ->capture_default_str();
  cmd->add_option("--latency-coef", cfg->latency_coef,
                  "dnas: weight of the latency term; the logits' loss is CE + coef * E[latency] / latency(max "
                  "subnet), E[] under the softmax of the logits (0: no latency term)")
      ->capture_default_str()
      ->check(non_negative());
  cmd->add_option("--latency-source", cfg->latency_source,
                  "dnas: latency model: lut (per-layer lookup table of --latency-target: its own table when it is "
                  "a lut target, else one built on it; exact per block) | swap (cost of the max subnet with one "
                  "choice swapped in, measured on --latency-target; additive) | predictor (a latency predictor "
                  "file given as --latency-target, applied to the soft encoding)")
      ->capture_default_str();
  cmd->add_option("--latency-target", cfg->latency_target,
                  "dnas: hardware target of the latency term (a target name such as host-cpu or roofline, or a "
                  "target config file; a predictor file for --latency-source predictor); the model is kept in "
                  "--out as latency_model.json and reused by --resume")
      ->capture_default_str();
  cmd->add_option("--latency-budget", cfg->latency_budget_ms,
                  "dnas: latency budget in ms; > 0: only E[latency] above it is penalized (0: all of it)")
      ->capture_default_str()
      ->check(non_negative());
  cmd->add_option("--init-from", cfg->init_from,
                  "start from the weights of this supernet checkpoint (e.g. DNAS on a trained supernet)");
  cmd->add_option("--eval-archs", cfg->eval_archs, "subnets tested after every epoch (max, min, or arch JSON)")
      ->capture_default_str();
  cmd->add_option("--recal-batches", cfg->recal_batches, "training batches for BN recalibration before each test")
      ->capture_default_str()
      ->check(positive());
  cmd->add_option("--data-dir", cfg->data_dir, "Fashion-MNIST folder (default: /usr/share/datasets/fashion-mnist)");
  cmd->add_option("--seed", cfg->seed, "seed for init, data order, subnet sampling")->capture_default_str();
  cmd->add_option("--train-limit", cfg->train_limit, "use only the first N training images (0: all)");
  cmd->add_option("--test-limit", cfg->test_limit, "use only the first N test images (0: all)");
  cmd->add_option("--out", cfg->out_dir, "run folder: checkpoint.hwnas and history.json after every epoch");
  cmd->add_flag("--resume", cfg->resume, "continue the run in --out from its last checkpoint");
  cmd->add_option("--stop-after", cfg->stop_after_epochs, "stop after this many epochs (continue with --resume)");
  auto device = std::make_shared<std::string>("cpu");
  cmd->add_option("--device", *device,
                  "cpu, cuda or cuda:N: where the supernet trains (the CUDA backend; per-epoch subnet evaluations "
                  "stay on the CPU)")
      ->capture_default_str();
  auto autocast = std::make_shared<std::string>("off");
  cmd->add_option("--autocast", *autocast,
                  "off or bf16: bf16 mixed precision for the supernet's convs and linear layers on a CUDA --device "
                  "(fp32 master weights)")
      ->capture_default_str();
  cmd->add_option("--threads", *threads, "OpenMP threads (default: OMP_NUM_THREADS or all cores)")->check(non_negative());
  cmd->add_flag("--quiet", *quiet, "no progress bar");
  cmd->callback([=] {
    set_threads(*threads);
    cfg->device = parse_device(*device);
    cfg->autocast = parse_autocast(*autocast, "--autocast");
    if (cfg->resume && cfg->out_dir.empty()) throw CLI::ValidationError("--resume", "needs --out");
    cfg->distill = !*no_distill;
    cfg->progress = !*quiet;
    SupernetTrainResult r = train_supernet(*cfg);
    nlohmann::json j = {{"space", cfg->space}, {"sampler", cfg->sampler}, {"epochs", cfg->epochs}};
    if (!r.epochs.empty()) {
      j["test_accuracy"] = r.epochs.back().test_accuracy;
      double seconds = 0;
      for (const auto& e : r.epochs) seconds += e.seconds;
      j["train_seconds"] = seconds;
      j["subnet_images_per_s"] = r.epochs.back().subnet_images_per_s;
    }
    if (!r.derived_arch.is_null()) j["derived_arch"] = r.derived_arch;
    if (!std::isnan(r.entropy)) j["arch_entropy"] = r.entropy;
    if (!std::isnan(r.expected_latency_ms)) {
      j["latency_coef"] = cfg->latency_coef;
      j["expected_latency_ms"] = r.expected_latency_ms;
      j["derived_latency_ms"] = r.derived_latency_ms;
    }
    std::cout << j.dump() << std::endl;
  });
}

}  // namespace

void add_supernet_command(CLI::App& app) {
  auto* cmd = app.add_subcommand("supernet", "Weight-sharing supernets: training");
  cmd->require_subcommand(1);
  add_supernet_train(*cmd);
}

void add_eval_command(CLI::App& app) {
  auto a = std::make_shared<SubnetArgs>();
  auto threads = std::make_shared<int>(0);
  auto* cmd = app.add_subcommand("eval", "Fashion-MNIST test accuracy of one subnet of a trained supernet (BN recalibrated)");
  add_subnet_options(cmd, *a, false);
  cmd->add_option("--test-limit", a->test_limit, "use only the first N test images (0: all)");
  cmd->add_option("--threads", *threads, "OpenMP threads")->check(non_negative());
  cmd->callback([=] {
    set_threads(*threads);
    auto net = load_supernet(a->checkpoint);
    const SearchSpace& space = elastic_mobile_space();
    const Arch arch = parse_arch(space, a->arch);
    DatasetPair data = load_dataset_pair("fashion-mnist", a->data_dir);
    if (a->test_limit > 0 && a->test_limit < data.test.size()) data.test = data.test.slice(0, a->test_limit);
    DataLoader recal = recalibration_loader(data, a->batch, a->seed);
    const double acc = evaluate_subnet(*net, arch, data, recal, a->recal_batches);
    nlohmann::json j = {{"checkpoint", a->checkpoint}, {"arch", arch_to_json(space, arch)},
                        {"recal_batches", a->recal_batches}, {"test_images", data.test.size()}, {"test_accuracy", acc}};
    std::cout << j.dump() << std::endl;
  });
}

void add_extract_command(CLI::App& app) {
  auto a = std::make_shared<SubnetArgs>();
  auto out = std::make_shared<std::string>();
  auto* cmd = app.add_subcommand(
      "extract", "Write one subnet of a trained supernet as a standalone network: network.json + weights.hwnas");
  add_subnet_options(cmd, *a, true);
  cmd->add_option("--out", *out, "output folder")->required();
  cmd->callback([=] {
    LoadedNetwork sub = load_subnet(a->request());
    const SearchSpace& space = elastic_mobile_space();
    const Arch arch = parse_arch(space, a->arch);
    auto& subnet = sub.net;
    namespace fs = std::filesystem;
    fs::create_directories(*out);
    const NetworkSpec& spec = sub.spec;
    write_file_atomic((fs::path(*out) / "network.json").string(), network_spec_to_json(spec).dump(2) + "\n");
    NamedTensors t;
    for (auto& [n, v] : subnet->state()) t.emplace_back(n, v);
    save_checkpoint((fs::path(*out) / "weights.hwnas").string(), t,
                    {{"kind", "hwnas-subnet"}, {"source", a->checkpoint}, {"arch", arch_to_json(space, arch)},
                     {"recal_batches", a->recal_batches}});
    nlohmann::json j = {{"out", *out}, {"arch", arch_to_json(space, arch)}, {"params", subnet->num_parameters()}};
    std::cout << j.dump() << std::endl;
  });
}

}  // namespace hwnas::cli
