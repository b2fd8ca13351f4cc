// `hwnas measure` and `hwnas lut ...`: what a subnet costs on a target, and lookup tables.
#include <fstream>
#include <iostream>
#include <nlohmann/json.hpp>

#include "io/atomic_file.h"
#include "hw_targets/lut_build.h"
#include "hw_targets/lut_eval.h"
#include "hw_targets/target.h"
#include "nas/builtin_networks.h"
#include "nas/builtin_spaces.h"
#include "tools/commands.h"
#include "tools/target_flags.h"

namespace hwnas::cli {

using nlohmann::json;

void add_measure_command(CLI::App& app) {
  auto* cmd = app.add_subcommand("measure", "What a subnet (or a network) costs on a hardware target; prints one JSON line");
  auto flags = std::make_shared<TargetFlags>();
  auto space = std::make_shared<std::string>();
  auto arch = std::make_shared<std::string>();
  auto net = std::make_shared<std::string>();
  flags->add(cmd);
  cmd->add_option("--space", *space, "built-in space (fbnet, elastic-mobile) or a space JSON file (with --arch)");
  cmd->add_option("--arch", *arch, "the subnet: max, min, arch JSON, a JSON file, or an fbnet archs.csv id");
  cmd->add_option("--net", *net, "instead of --space/--arch: a network (fbnet:ID, elastic-mobile:max|min, or a network JSON file)");
  cmd->callback([=] {
    if (net->empty() ? (space->empty() || arch->empty()) : (!space->empty() || !arch->empty()))
      throw CLI::ValidationError("measure", "give either --space and --arch, or --net (not both)");
    TargetPtr t = flags->make();
    json out{{"target", t->name()}, {"kind", t->kind()}};
    NetworkSpec spec;
    if (!net->empty()) {
      spec = resolve_network(*net);
      out["net"] = *net;
    } else {
      const SearchSpace s = load_space(*space);
      const Arch a = parse_arch(s, *arch);
      spec = arch_network(s, a);
      out["space"] = s.name;
      out["arch"] = arch_to_json(s, a);
    }
    out["cost"] = cost_to_json(t->cost(spec));
    out["config"] = t->config();
    std::cout << out.dump() << std::endl;
  });
}

void add_lut_command(CLI::App& app) {
  auto* cmd = app.add_subcommand("lut", "Per-layer latency lookup tables");
  cmd->require_subcommand(1);
  auto* build = cmd->add_subcommand("build", "Time every distinct layer of a space on a measured target and write the table");
  auto flags = std::make_shared<TargetFlags>();
  auto space = std::make_shared<std::string>();
  auto out = std::make_shared<std::string>();
  auto opts = std::make_shared<LutBuildOptions>();
  flags->add(build);
  build->get_option("--runs")->description("measured targets: timed runs per subnet (default 100 here, not 30)");
  build->add_option("--space", *space, "built-in space (fbnet, elastic-mobile) or a space JSON file")->required();
  build->add_option("--out", *out, "the table to write (JSON; written atomically)")->required();
  auto method = std::make_shared<std::string>("auto");
  build->add_option("--method", *method,
                    "in-context: time each layer inside covering subnets; isolated: each layer alone; auto: "
                    "in-context where the target can (host-cpu, onnxruntime)")
      ->capture_default_str()
      ->check(CLI::IsMember({"auto", "in-context", "isolated"}));
  build->add_option("--occurrences", opts->occurrences, "in-context: subnets each layer is timed in (median)")
      ->capture_default_str()
      ->check(positive());
  build->add_option("--calibration-archs", opts->calibration_archs,
                    "isolated method: whole subnets measured to set the per-network overhead (max, min, then random)")
      ->capture_default_str()
      ->check(non_negative());
  build->add_option("--seed", opts->seed, "seed of the random subnets")->capture_default_str();
  build->add_flag_function("--quiet", [opts](int64_t) { opts->progress = false; }, "no progress bar");
  build->callback([=] {
    const SearchSpace s = load_space(*space);
    // More runs than a single measurement: a table's entries are read for every subnet a search
    // looks at, and 100 interleaved runs average out this machine's drift (docs/hw-targets.md).
    TargetPtr t = flags->make(100);
    opts->method = parse_lut_method(*method);
    const LatencyTable table = build_latency_table(*t, s, *opts);
    save_latency_table(table, *out);
    std::cout << json{{"table", *out},
                      {"entries", table.entries.size()},
                      {"overhead_ms", table.overhead_ms},
                      {"method", table.meta.value("method", "")}}
                     .dump()
              << std::endl;
  });

  auto* eval = cmd->add_subcommand(
      "eval", "Measure random subnets on a target and compare with a table's prediction; prints JSON metrics");
  auto eflags = std::make_shared<TargetFlags>();
  auto table_path = std::make_shared<std::string>();
  auto espace = std::make_shared<std::string>();
  auto samples_out = std::make_shared<std::string>();
  auto eopts = std::make_shared<LutEvalOptions>();
  eflags->add(eval);
  eval->add_option("--table", *table_path, "the lookup table JSON (from lut build, or written by hand)")->required();
  eval->add_option("--space", *espace, "built-in space (fbnet, elastic-mobile) or a space JSON file")->required();
  eval->add_option("--archs", eopts->archs, "random subnets to measure")->capture_default_str()->check(CLI::Range(2, 100000));
  eval->add_option("--seed", eopts->seed, "seed of the random subnets")->capture_default_str();
  eval->add_flag_function("--quiet", [eopts](int64_t) { eopts->progress = false; }, "no progress bar");
  eval->add_option("--samples-out", *samples_out, "also write each subnet's arch, measured and table latency (JSON)");
  eval->callback([=] {
    const LatencyTable table = load_latency_table(*table_path);
    const SearchSpace s = load_space(*espace);
    TargetPtr t = eflags->make();
    const LutEvalResult r = evaluate_latency_table(table, *t, s, *eopts, *table_path);
    if (!samples_out->empty()) {
      json rows = json::array();
      for (const LutEvalSample& smp : r.samples)
        rows.push_back({{"arch", arch_to_json(s, smp.arch)},
                        {"measured_ms", smp.measured_ms},
                        {"table_ms", smp.table_ms},
                        {"spread_pct", smp.spread_pct}});
      write_file_atomic(*samples_out, rows.dump(1) + "\n");
    }
    json o = metrics_to_json(r.metrics);
    o["table"] = *table_path;
    o["target"] = t->name();
    o["space"] = s.name;
    o["archs"] = eopts->archs;
    o["seed"] = eopts->seed;
    std::cout << o.dump() << std::endl;
  });
}

}  // namespace hwnas::cli
