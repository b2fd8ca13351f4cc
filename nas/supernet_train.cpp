#include "nas/supernet_train.h"

#include <chrono>
#include <cmath>
#include <cstdio>
#include <filesystem>

#include "io/atomic_file.h"
#include "io/checkpoint.h"
#include "io/dataloader.h"
#include "nas/bn_recalibration.h"
#include "nas/builtin_spaces.h"
#include "nas/dnas.h"
#include "nas/dnas_latency.h"
#include "nas/elastic_supernet.h"
#include "nas/progress_bar.h"
#include "nn/optim.h"
#include "ops/autocast.h"
#include "ops/elementwise.h"
#include "ops/loss.h"
#include "ops/softmax.h"
#include "tensor/device_memory.h"

namespace hwnas {

using nlohmann::json;

const std::vector<std::string>& supernet_samplers() {
  static const std::vector<std::string> names = {"uniform", "sandwich", "ordered-dropout", "dnas"};
  return names;
}

namespace {

json config_json(const SupernetTrainConfig& c) {
  return {{"space", c.space}, {"sampler", c.sampler}, {"epochs", c.epochs}, {"batch", c.batch}, {"lr", c.lr},
          {"momentum", c.momentum}, {"nesterov", c.nesterov}, {"weight_decay", c.weight_decay},
          {"label_smoothing", c.label_smoothing}, {"warmup_epochs", c.warmup_epochs},
          {"crop_padding", c.crop_padding}, {"hflip", c.hflip}, {"num_random", c.num_random},
          {"distill", c.distill}, {"od_groups", c.od_groups}, {"arch_lr", c.arch_lr}, {"holdout", c.holdout},
          {"tau", c.tau}, {"tau_decay", c.tau_decay}, {"arch_warmup_epochs", c.arch_warmup_epochs},
          {"seed", c.seed}, {"train_limit", c.train_limit}, {"allowed_choices", c.allowed_choices},
          {"init_from", c.init_from}, {"latency_coef", c.latency_coef}, {"latency_source", c.latency_source},
          {"latency_target", c.latency_target}, {"latency_budget_ms", c.latency_budget_ms},
          {"latency_model", c.latency_model ? c.latency_model->describe() : json()},
          {"autocast", dtype_name(c.autocast)}};
}

json epoch_to_json(const SupernetEpoch& e) {
  json j = {{"epoch", e.epoch}, {"train_loss", e.train_loss}, {"seconds", e.seconds},
            {"subnet_images_per_s", e.subnet_images_per_s}, {"test_accuracy", e.test_accuracy}};
  if (e.device_mallocs >= 0) j["device_mallocs"] = e.device_mallocs;
  return j;
}

SupernetEpoch supernet_epoch_from_json(const json& j) {
  SupernetEpoch e;
  e.epoch = j.at("epoch");
  e.train_loss = j.at("train_loss");
  e.seconds = j.at("seconds");
  e.subnet_images_per_s = j.at("subnet_images_per_s");
  e.test_accuracy = j.at("test_accuracy").get<std::map<std::string, double>>();
  e.device_mallocs = j.value("device_mallocs", int64_t{-1});
  return e;
}

// Before training on a GPU: untimed forward-backward steps on zero images, with the batch-norm
// running statistics restored and the gradients dropped afterwards.
//  - Plans: the subnets of choice_covering_archs (nas/space.h; DNAS: the full mixture, which
//    runs every candidate), so the conv plan cache is warm for the space's shapes.
//  - Memory: the heaviest step the sampler runs (the max subnet on a full batch; DNAS: the
//    mixture). Its peak beyond what stays allocated is reserved in one block, so the sampled,
//    smaller subnets' steps are served from the allocator's cache without cudaMalloc (each
//    epoch's history records how many were still needed: "device_mallocs").
// Returns the bytes reserved.
size_t prepare_device(ElasticMobileSupernet& net, const SupernetTrainConfig& cfg, const Arch& amax, DnasState* dn) {
  std::vector<Tensor> saved;
  for (auto& [name, b] : net.named_buffers()) saved.push_back(b.clone());
  {
    const Variable x(Tensor::zeros({cfg.batch, 1, 28, 28}, DType::f32, MemoryFormat::channels_last).to(cfg.device));
    const Tensor y = Tensor::zeros({cfg.batch}, DType::i64).to(cfg.device);
    if (dn) {
      cross_entropy(net.forward_weighted(x, dn->mean_weights()), y).backward();
    } else {
      std::vector<Arch> archs = choice_covering_archs(elastic_mobile_space());
      archs.push_back(amax);
      for (const Arch& a : archs) cross_entropy(net.forward(x, a), y).backward();
    }
  }
  size_t i = 0;
  for (auto& [name, b] : net.named_buffers()) b.copy_(saved[i++]);
  for (Variable& p : net.parameters()) p.zero_grad();
  if (dn) dn->zero_grad();
  saved.clear();
  const DeviceMemoryStats st = device_memory_stats(cfg.device);
  const size_t transient = st.peak_allocated_bytes > st.allocated_bytes ? st.peak_allocated_bytes - st.allocated_bytes : 0;
  const size_t bytes = transient + transient / 4;  // headroom for the cache's rounding and split blocks
  reserve_device_memory(cfg.device, bytes);
  return bytes;
}

void check_config(const SupernetTrainConfig& c) {
  if (c.space != "elastic-mobile")
    fail("supernet train: --space \"{}\" is not supported: supernet training is built for elastic-mobile "
         "(a supernet built from any space spec is not implemented yet)", c.space);
  const auto& s = supernet_samplers();
  if (std::find(s.begin(), s.end(), c.sampler) == s.end())
    fail("supernet train: unknown --sampler \"{}\" (known: uniform, sandwich, ordered-dropout, dnas)", c.sampler);
  if (c.epochs <= 0 || c.batch <= 0) fail("supernet train: --epochs and --batch must be positive");
  if (c.num_random < 0) fail("supernet train: --num-random must be 0 or more, got {}", c.num_random);
  if (c.od_groups < 1 || c.od_groups > c.batch)
    fail("supernet train: --od-groups must be in 1..batch ({}), got {}", c.batch, c.od_groups);
  if (c.sampler == "dnas" && (c.holdout <= 0.f || c.holdout >= 1.f))
    fail("supernet train: --holdout must be in (0, 1), got {}", c.holdout);
  if (c.latency_coef < 0.f) fail("supernet train: --latency-coef must be 0 or more, got {}", c.latency_coef);
  if (c.latency_coef > 0.f && c.sampler != "dnas")
    fail("supernet train: --latency-coef needs --sampler dnas (got {})", c.sampler);
  if (c.latency_coef > 0.f && !c.latency_model) {
    const auto& ls = dnas_latency_sources();
    if (std::find(ls.begin(), ls.end(), c.latency_source) == ls.end())
      fail("supernet train: unknown --latency-source \"{}\" (known: lut, swap, predictor)", c.latency_source);
  }
  if (c.recal_batches <= 0) fail("supernet train: --recal-batches must be positive, got {}", c.recal_batches);
}

DataLoaderOptions train_loader_options(const SupernetTrainConfig& c, const DatasetPair& d, uint64_t seed) {
  DataLoaderOptions o;
  o.batch_size = c.batch;
  o.shuffle = true;
  o.drop_last = true;
  o.seed = seed;
  o.crop_padding = c.crop_padding;
  o.hflip = c.hflip;
  o.mean = d.mean;
  o.std = d.std;
  return o;
}

}  // namespace

double evaluate_subnet(const ElasticMobileSupernet& net, const Arch& arch, const DatasetPair& data,
                       DataLoader& recal_loader, int64_t recal_batches) {
  auto subnet = extract_subnet(net, arch);
  recalibrate_bn(*subnet, recal_loader, recal_batches);
  return evaluate_accuracy(*subnet, data.test, data.mean, data.std);
}

std::unique_ptr<ElasticMobileSupernet> load_supernet(const std::string& path, json* config) {
  Checkpoint ck = load_checkpoint(path);
  if (ck.metadata.value("kind", "") != "hwnas-supernet")
    fail("{} is not a supernet checkpoint of `hwnas supernet train` (its kind is \"{}\")", path,
         ck.metadata.value("kind", ""));
  const json cfg = ck.metadata.value("config", json());
  if (cfg.value("space", "") != "elastic-mobile")
    fail("{}: supernet of space \"{}\" is not supported (elastic-mobile only)", path, cfg.value("space", ""));
  auto net = std::make_unique<ElasticMobileSupernet>(0);
  NamedTensors t;
  for (auto& [n, v] : net->state()) t.emplace_back("model." + n, v);
  load_into(ck, t, /*allow_unexpected=*/true);  // the optimizer and arch state are not needed here
  if (config) *config = cfg;
  return net;
}

DataLoaderOptions recalibration_loader_options(const DatasetPair& data, int64_t batch, uint64_t seed) {
  SupernetTrainConfig c;
  c.batch = batch;
  return train_loader_options(c, data, seed);
}

DataLoader recalibration_loader(const DatasetPair& data, int64_t batch, uint64_t seed) {
  return DataLoader(data.train, recalibration_loader_options(data, batch, seed));
}

SupernetTrainResult train_supernet(const SupernetTrainConfig& cfg) {
  check_config(cfg);
  check_autocast_device(cfg.autocast, cfg.device, "supernet train");
  const AutocastScope autocast(cfg.autocast);  // the GPU steps; CPU subnet evaluations ignore it
  const SearchSpace& space = elastic_mobile_space();
  DatasetPair data = load_dataset_pair("fashion-mnist", cfg.data_dir);
  if (cfg.train_limit > 0 && cfg.train_limit < data.train.size()) data.train = data.train.slice(0, cfg.train_limit);
  if (cfg.test_limit > 0 && cfg.test_limit < data.test.size()) data.test = data.test.slice(0, cfg.test_limit);
  const bool dnas = cfg.sampler == "dnas";
  // DNAS trains the logits on a held-out tail of the training set, the weights on the rest.
  Dataset weight_set = data.train, arch_set;
  if (dnas) {
    const int64_t held = static_cast<int64_t>(std::round(cfg.holdout * static_cast<double>(data.train.size())));
    if (held < cfg.batch || data.train.size() - held < cfg.batch)
      fail("supernet train: --holdout {} of {} training images leaves less than a batch of {} on one side",
           cfg.holdout, data.train.size(), cfg.batch);
    weight_set = data.train.slice(0, data.train.size() - held);
    arch_set = data.train.slice(data.train.size() - held, held);
  }

  ElasticMobileSupernet net(cfg.seed);
  if (!cfg.init_from.empty()) {
    auto init = load_supernet(cfg.init_from);
    auto to = net.state();
    auto from = init->state();
    for (size_t i = 0; i < to.size(); ++i) to[i].second.copy_(from[i].second);
  }
  if (!cfg.device.is_cpu()) net.to(cfg.device);  // before the optimizer makes its momentum buffers
  net.train();
  Sgd opt(net.parameters(), SgdOptions{cfg.lr, cfg.momentum, 0.f, cfg.weight_decay, cfg.nesterov});
  Generator arch_gen(cfg.seed ^ 0x5eed5a3b1e5ULL);  // subnet sampling and Gumbel noise
  std::unique_ptr<DnasState> dn;
  if (dnas) dn = std::make_unique<DnasState>(space, cfg.arch_lr);

  std::vector<Arch> eval_archs;
  for (const auto& a : cfg.eval_archs) eval_archs.push_back(parse_arch(space, a));

  DataLoader loader(weight_set, train_loader_options(cfg, data, cfg.seed));
  std::unique_ptr<DataLoader> arch_loader;
  if (dnas) arch_loader = std::make_unique<DataLoader>(arch_set, train_loader_options(cfg, data, cfg.seed + 1));
  // Recalibration batches: training images with training augmentation, the same every epoch.
  DataLoader recal_loader = recalibration_loader(data, cfg.batch, cfg.seed + 2);
  const int64_t steps_per_epoch = loader.num_batches();
  if (steps_per_epoch == 0) fail("supernet train: {} training images make no full batch of {}", weight_set.size(), cfg.batch);
  const int64_t total_steps = steps_per_epoch * cfg.epochs;
  const int64_t warmup = static_cast<int64_t>(cfg.warmup_epochs * steps_per_epoch);

  SupernetTrainResult result;
  int64_t start_epoch = 0;
  namespace fs = std::filesystem;
  const std::string ckpt_path = cfg.out_dir.empty() ? "" : (fs::path(cfg.out_dir) / "checkpoint.hwnas").string();
  auto state_tensors = [&] {
    NamedTensors t;
    for (auto& [n, v] : net.state()) t.emplace_back("model." + n, v);
    for (auto& [n, v] : opt.state()) t.emplace_back("optimizer." + n, v);
    if (dn)
      for (auto& [n, v] : dn->state()) t.emplace_back("arch." + n, v);
    return t;
  };
  if (!ckpt_path.empty()) {
    fs::create_directories(cfg.out_dir);
    if (fs::exists(ckpt_path)) {
      if (!cfg.resume) fail("supernet train: {} exists; pass --resume to continue that run, or choose another --out", ckpt_path);
      Checkpoint ck = load_checkpoint(ckpt_path);
      if (ck.metadata.value("kind", "") != "hwnas-supernet")
        fail("supernet train: {} is not a supernet checkpoint (kind \"{}\")", ckpt_path, ck.metadata.value("kind", ""));
      const json saved = ck.metadata.value("config", json()), now = config_json(cfg);
      const json defaults = config_json(SupernetTrainConfig{});
      for (const auto& [key, value] : now.items())  // keys newer than the checkpoint: their default
        if (key != "epochs" && (saved.contains(key) ? saved[key] : defaults.value(key, json())) != value)
          fail("supernet train: cannot resume {}: its \"{}\" was {} but this run has {}", ckpt_path, key,
               saved.value(key, json()).dump(), value.dump());
      load_into(ck, state_tensors());
      start_epoch = ck.metadata.at("epochs_done").get<int64_t>();
      opt.set_step_count(ck.metadata.at("step").get<int64_t>());
      generator_state_from_json(arch_gen, ck.metadata.at("arch_rng"));
      if (dn) dn->set_step_count(ck.metadata.at("arch_step").get<int64_t>());
      for (const auto& e : ck.metadata.at("history")) result.epochs.push_back(supernet_epoch_from_json(e));
      if (cfg.progress)
        std::fprintf(stderr, "resuming %s at epoch %lld\n", ckpt_path.c_str(), static_cast<long long>(start_epoch + 1));
    }
  }
  // The latency model (dnas with a latency term), kept beside the checkpoint so that a resumed
  // run uses the same numbers instead of measuring again.
  DnasLatencyPtr lat;
  if (dnas && cfg.latency_coef > 0.f) {
    lat = cfg.latency_model;
    if (!lat) {
      const json describe = {{"source", cfg.latency_source}, {"target", cfg.latency_target}};
      lat = load_or_build_dnas_latency(
          space, cfg.out_dir.empty() ? "" : (fs::path(cfg.out_dir) / "latency_model.json").string(), describe,
          [&] { return make_dnas_latency(space, cfg.latency_source, cfg.latency_target, cfg.progress); });
    }
  }
  auto dnas_summary = [&] {
    result.derived_arch = arch_to_json(space, dn->derived_arch());
    result.arch_probabilities = dn->probabilities_json();
    result.entropy = logits_entropy(dn->logits());
    if (lat) {
      result.expected_latency_ms = expected_latency_ms(*lat, dn->logits());
      result.derived_latency_ms = lat->latency_ms(dn->derived_arch());
    }
  };
  if (dn && start_epoch > 0) dnas_summary();  // a finished run resumed: its answer as it stands

  const Arch amax = max_arch_within(space, cfg.allowed_choices), amin = min_arch_within(space, cfg.allowed_choices);
  auto sample = [&] { return sample_arch_within(space, cfg.allowed_choices, arch_gen); };
  if (!cfg.device.is_cpu() && start_epoch < cfg.epochs) {
    const size_t reserved = prepare_device(net, cfg, amax, dn.get());
    if (cfg.progress)
      std::fprintf(stderr, "%s: conv plans warmed for the space's shapes; %.1f MiB reserved for the largest step\n",
                   cfg.device.str().c_str(), static_cast<double>(reserved) / (1 << 20));
  }
  for (int64_t epoch = start_epoch; epoch < cfg.epochs; ++epoch) {
    loader.start_epoch(epoch);
    if (arch_loader) arch_loader->start_epoch(epoch);
    const float tau = cfg.tau * std::pow(cfg.tau_decay, static_cast<float>(epoch));
    const bool train_arch = dnas && epoch >= cfg.arch_warmup_epochs;
    ProgressBar bar(cfg.progress, epoch, cfg.epochs, steps_per_epoch, "subnet-img/s");
    const auto t0 = std::chrono::steady_clock::now();
    const size_t mallocs0 = device_memory_stats(cfg.device).driver_allocs;
    double loss_sum = 0;
    int64_t subnet_images = 0, step_in_epoch = 0;
    while (auto b = loader.next()) {
      const int64_t step = epoch * steps_per_epoch + step_in_epoch;
      opt.set_lr(cosine_lr(step, total_steps, warmup, cfg.lr));
      opt.zero_grad();
      const Variable x(b->images.to(cfg.device));
      const int64_t n = b->labels.size(0);
      double loss = 0;
      if (cfg.sampler == "uniform") {
        Variable l = cross_entropy(net.forward(x, sample()), b->labels, cfg.label_smoothing);
        l.backward();
        loss = l.item();
        subnet_images += n;
      } else if (cfg.sampler == "sandwich") {
        Variable logits = net.forward(x, amax);
        Variable l = cross_entropy(logits, b->labels, cfg.label_smoothing);
        Tensor soft;
        if (cfg.distill) {
          NoGradGuard ng;
          soft = softmax(Variable(logits.data()), 1).data();
        }
        l.backward();
        loss = l.item();
        std::vector<Arch> others = {amin};
        for (int64_t r = 0; r < cfg.num_random; ++r) others.push_back(sample());
        for (const Arch& a : others) {
          Variable out = net.forward(x, a);
          (cfg.distill ? soft_cross_entropy(out, soft) : cross_entropy(out, b->labels, cfg.label_smoothing)).backward();
        }
        subnet_images += n * static_cast<int64_t>(2 + cfg.num_random);
      } else if (cfg.sampler == "ordered-dropout") {
        auto groups = ordered_dropout_groups(n, cfg.od_groups, arch_gen);
        if (!cfg.allowed_choices.empty())  // same group sizes, the restricted space's subnets
          for (size_t g = 0; g < groups.size(); ++g)
            groups[g].arch = g == 0 ? amax : g == 1 ? amin : sample();
        Variable l = cross_entropy(net.forward_groups(x, groups), b->labels, cfg.label_smoothing);
        l.backward();
        loss = l.item();
        subnet_images += n;
      } else {  // dnas
        Variable l = cross_entropy(net.forward_weighted(x, dn->sample_weights(tau, arch_gen)), b->labels,
                                   cfg.label_smoothing);
        l.backward();
        loss = l.item();
        subnet_images += n;
      }
      opt.step();
      if (train_arch) {
        auto hb = arch_loader->next();
        if (!hb) {  // the held-out split is smaller: cycle through it
          arch_loader->start_epoch(epoch * steps_per_epoch + step_in_epoch);
          hb = arch_loader->next();
        }
        dn->zero_grad();
        Variable al = cross_entropy(net.forward_weighted(Variable(hb->images.to(cfg.device)), dn->sample_weights(tau, arch_gen)),
                                    hb->labels);
        if (lat) al = add(al, dnas_latency_loss(*lat, dn->mean_weights().w, cfg.latency_coef, cfg.latency_budget_ms));
        al.backward();
        dn->step();
      }
      loss_sum += loss;
      ++step_in_epoch;
      bar.update(step_in_epoch, loss_sum / step_in_epoch, subnet_images);
    }
    SupernetEpoch er;
    er.epoch = epoch + 1;
    er.seconds = std::chrono::duration<double>(std::chrono::steady_clock::now() - t0).count();
    er.subnet_images_per_s = subnet_images / er.seconds;
    er.train_loss = loss_sum / std::max<int64_t>(step_in_epoch, 1);
    if (!cfg.device.is_cpu()) er.device_mallocs = static_cast<int64_t>(device_memory_stats(cfg.device).driver_allocs - mallocs0);
    std::vector<Arch> archs = eval_archs;
    std::vector<std::string> names = cfg.eval_archs;
    if (dn) {
      archs.push_back(dn->derived_arch());
      names.push_back("derived");
    }
    for (size_t i = 0; i < archs.size(); ++i)
      er.test_accuracy[names[i]] = evaluate_subnet(net, archs[i], data, recal_loader, cfg.recal_batches);
    result.epochs.push_back(er);
    if (cfg.progress) {
      std::string accs;
      for (const auto& [k, v] : er.test_accuracy) accs += fmt::format(", {} {:.2f}%", k, 100 * v);
      std::fprintf(stderr, "epoch %lld/%lld: train loss %.4f, %.0f subnet-img/s, %.0f s; test acc (BN recalibrated)%s\n",
                   static_cast<long long>(er.epoch), static_cast<long long>(cfg.epochs), er.train_loss,
                   er.subnet_images_per_s, er.seconds, accs.c_str());
    }
    if (dn) dnas_summary();
    if (cfg.progress && lat)
      std::fprintf(stderr, "  dnas: E[latency] %.4f ms, derived arch %.4f ms (%s), entropy %.3f\n",
                   result.expected_latency_ms, result.derived_latency_ms, lat->source().c_str(), result.entropy);
    if (!ckpt_path.empty()) {
      json history = json::array();
      for (const auto& e : result.epochs) history.push_back(epoch_to_json(e));
      json meta = {{"kind", "hwnas-supernet"}, {"config", config_json(cfg)}, {"epochs_done", epoch + 1},
                   {"step", opt.step_count()}, {"arch_rng", generator_state_to_json(arch_gen)},
                   {"arch_step", dn ? dn->step_count() : 0}, {"history", history}};
      save_checkpoint(ckpt_path, state_tensors(), meta);
      json hist = {{"config", config_json(cfg)}, {"epochs", history}};
      if (dn) {
        hist["derived_arch"] = result.derived_arch;
        hist["arch_probabilities"] = result.arch_probabilities;
        hist["entropy"] = result.entropy;
        if (lat) {
          hist["expected_latency_ms"] = result.expected_latency_ms;
          hist["derived_latency_ms"] = result.derived_latency_ms;
        }
        write_file_atomic((fs::path(cfg.out_dir) / "arch.json").string(), result.derived_arch.dump() + "\n");
      }
      write_file_atomic((fs::path(cfg.out_dir) / "history.json").string(), hist.dump(2));
    }
    if (cfg.stop_after_epochs > 0 && epoch + 1 >= cfg.stop_after_epochs && epoch + 1 < cfg.epochs) break;
  }
  return result;
}

}  // namespace hwnas
