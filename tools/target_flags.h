#pragma once
// The flags that pick a hardware target and override its measurement settings, shared by
// `hwnas measure`, `hwnas lut` and `hwnas search`.
#include <CLI/CLI.hpp>
#include <nlohmann/json.hpp>

#include "hw_targets/target.h"
#include "tools/commands.h"

namespace hwnas::cli {

// Flags that override the target's config when given: only these keys, and only when set, so
// a modeled target is not handed a key it does not read.
struct TargetFlags {
  std::string target = "host-cpu";
  int threads = 1, warmup = 10, runs = 30;
  int64_t batch = 1;
  CLI::Option *threads_opt = nullptr, *warmup_opt = nullptr, *runs_opt = nullptr, *batch_opt = nullptr;

  void add(CLI::App* cmd) {
    cmd->add_option("--target", target,
                    "a target kind (host-cpu, onnxruntime, roofline, fpga, cuda) or a target JSON file (a lookup table: {\"kind\": \"lut\", \"table\": FILE}, or the table file itself)")
        ->capture_default_str();
    threads_opt = cmd->add_option("--threads", threads, "measured targets: threads (default 1)")->check(positive());
    batch_opt = cmd->add_option("--batch", batch, "measured targets: batch size (default 1)")->check(positive());
    warmup_opt = cmd->add_option("--warmup", warmup, "measured targets: untimed runs first (default 10)")->check(non_negative());
    runs_opt = cmd->add_option("--runs", runs, "measured targets: timed runs, the median is reported (default 30)")->check(positive());
  }
  // default_runs: used for a measured kind given by name when --runs is not (a config file keeps
  // its own runs).
  TargetPtr make(int default_runs = 0) const {
    nlohmann::json o = nlohmann::json::object();
    if (threads_opt->count()) o["threads"] = threads;
    if (batch_opt->count()) o["batch"] = batch;
    if (warmup_opt->count()) o["warmup"] = warmup;
    if (runs_opt->count())
      o["runs"] = runs;
    else if (default_runs > 0 && (target == "host-cpu" || target == "onnxruntime" || target == "cuda"))
      o["runs"] = default_runs;
    return make_target(target, o);
  }
};


}  // namespace hwnas::cli
