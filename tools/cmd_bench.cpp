#include <omp.h>

#include <iostream>
#include <nlohmann/json.hpp>

#include "nas/builtin_networks.h"
#include "nas/elastic_supernet.h"
#include "nn/measure.h"
#include "ops/autocast.h"
#include "tensor/device_memory.h"
#include "tools/commands.h"

namespace hwnas::cli {

namespace {
constexpr const char* kAutocastHelp =
    "off or bf16: bf16 mixed precision for convs and linear layers on a CUDA --device (fp32 master weights)";
}

void add_bench_command(CLI::App& app) {
  auto* cmd = app.add_subcommand("bench", "Time a network like the peers do; prints one JSON line");
  cmd->require_subcommand(1);
  struct Opts {
    std::string net;
    int64_t batch = 0;
    int threads = 0, steps = 0, warmup = -1;
  };
  auto opts = std::make_shared<Opts>();
  for (const char* mode : {"train", "infer"}) {
    const bool train = std::string(mode) == "train";
    auto* sub = cmd->add_subcommand(mode, train ? "Training steps (SGD, cross-entropy) on random data: images_per_s"
                                                : "Eval-mode forward passes on random data: latency_ms");
    sub->add_option("--net", opts->net,
                    "fbnet:ARCH_ID, elastic-mobile:max|min|ARCH_JSON, or a network JSON file")
        ->required();
    sub->add_option("--batch", opts->batch, train ? "batch size (default 128)" : "batch size (default 1)")
        ->check(positive());
    sub->add_option("--threads", opts->threads, train ? "OpenMP threads (default 2)" : "OpenMP threads (default 1)")
        ->check(positive());
    sub->add_option("--steps", opts->steps, train ? "timed steps (default 10)" : "timed iterations (default 200)")
        ->check(positive());
    sub->add_option("--warmup", opts->warmup, train ? "warm-up steps (default 2)" : "warm-up iterations (default 10)")
        ->check(non_negative());
    auto device = std::make_shared<std::string>("cpu");
    auto autocast = std::make_shared<std::string>("off");
    if (train) {
      sub->add_option("--device", *device, "cpu, cuda or cuda:N")->capture_default_str();
      sub->add_option("--autocast", *autocast, kAutocastHelp)->capture_default_str();
    }
    sub->callback([opts, train, device, autocast] {
      set_threads(opts->threads > 0 ? opts->threads : (train ? 2 : 1));
      const Device dev = parse_device(*device);
      const DType compute = parse_autocast(*autocast, "--autocast");
      check_autocast_device(compute, dev, "bench train");
      const AutocastScope scope(compute);
      const NetworkSpec spec = resolve_network(opts->net);
      nlohmann::json j = {{"engine", "hwnas"}, {"mode", train ? "train" : "infer"}, {"net", opts->net},
                          {"threads", omp_get_max_threads()}};
      if (train) {
        const int64_t b = opts->batch > 0 ? opts->batch : 128;
        auto m =
            measure_train(spec, b, opts->warmup >= 0 ? opts->warmup : 2, opts->steps > 0 ? opts->steps : 10, 0, dev);
        j.update({{"batch", b}, {"step_ms", m.mean_step_ms}, {"step_ms_median", m.median_step_ms},
                  {"images_per_s", m.images_per_s}, {"device", dev.str()}, {"autocast", *autocast}});
      } else {
        const int64_t b = opts->batch > 0 ? opts->batch : 1;
        auto m = measure_infer(spec, b, opts->warmup >= 0 ? opts->warmup : 10, opts->steps > 0 ? opts->steps : 200);
        j.update({{"batch", b}, {"latency_ms", m.mean_ms}, {"latency_ms_median", m.median_ms}, {"latency_ms_p90", m.p90_ms}});
      }
      std::cout << j.dump() << std::endl;
    });
  }

  // Weight-sharing supernet training: the peer's `elastic_torch.py sandwich`, and our
  // ordered-dropout step on the same supernet.
  for (const std::string mode : {"sandwich", "ordered-dropout"}) {
    auto sw = std::make_shared<Opts>();
    sw->net = "elastic-mobile";
    auto groups = std::make_shared<int64_t>(4);
    auto* sub = cmd->add_subcommand(
        mode, mode == "sandwich"
                  ? "Supernet sandwich steps (max + min + 2 random subnets, one SGD step): subnet_images_per_s"
                  : "Supernet ordered-dropout steps (the batch in --groups groups: max, min, random subnets; one "
                    "forward-backward, one SGD step): subnet_images_per_s");
    sub->add_option("--space", sw->net, "search space (only elastic-mobile for now; default elastic-mobile)");
    sub->add_option("--batch", sw->batch, "batch size (default 128)")->check(positive());
    sub->add_option("--threads", sw->threads, "OpenMP threads (default 2)")->check(positive());
    sub->add_option("--steps", sw->steps, "timed steps (default 5)")->check(positive());
    sub->add_option("--warmup", sw->warmup, "warm-up steps (default 2)")->check(non_negative());
    if (mode == "ordered-dropout") sub->add_option("--groups", *groups, "subnets per batch (default 4)")->check(positive());
    auto device = std::make_shared<std::string>("cpu");
    sub->add_option("--device", *device, "cpu, cuda or cuda:N")->capture_default_str();
    auto autocast = std::make_shared<std::string>("off");
    sub->add_option("--autocast", *autocast, kAutocastHelp)->capture_default_str();
    sub->callback([sw, groups, mode, device, autocast] {
      const Device dev = parse_device(*device);
      const DType compute = parse_autocast(*autocast, "--autocast");
      check_autocast_device(compute, dev, "bench " + mode);
      const AutocastScope scope(compute);
      if (sw->net != "elastic-mobile")
        throw CLI::ValidationError("--space", "bench " + mode + ": space '" + sw->net +
                                                  "' is not supported; only elastic-mobile has a supernet for now");
      set_threads(sw->threads > 0 ? sw->threads : 2);
      const int64_t b = sw->batch > 0 ? sw->batch : 128;
      const int warmup = sw->warmup >= 0 ? sw->warmup : 2, steps = sw->steps > 0 ? sw->steps : 5;
      auto m = mode == "sandwich" ? measure_sandwich(b, warmup, steps, 0, dev)
                                  : measure_ordered_dropout(b, *groups, warmup, steps, 0, dev);
      nlohmann::json j = {{"engine", "hwnas"},          {"mode", mode},
                          {"space", sw->net},           {"batch", b},
                          {"threads", omp_get_max_threads()}, {"step_ms", m.mean_step_ms},
                          {"step_ms_median", m.median_step_ms}, {"subnet_images_per_s", m.images_per_s},
                          {"device", dev.str()}, {"autocast", *autocast}};
      if (mode == "ordered-dropout") j["groups"] = *groups;
      std::cout << j.dump() << std::endl;
    });
  }
}

}  // namespace hwnas::cli
