// `hwnas search`: find the best subnet of a trained supernet under hardware constraints, with
// any registered algorithm (nas/search/), and write the search folder: search_config.json (what
// was asked, checked on resume), search_log.jsonl (every evaluation as it happens), pareto.json,
// best.json and search.json. Running it again on the same --out resumes from the log; a folder
// that holds a different search is refused rather than overwritten.
#include <filesystem>
#include <fstream>
#include <iostream>
#include <nlohmann/json.hpp>

#include <fmt/format.h>
#include <fmt/ranges.h>

#include "io/atomic_file.h"
#include "nas/builtin_spaces.h"
#include "nas/search/search.h"
#include "nas/search/supernet_accuracy.h"
#include "nas/supernet_train.h"
#include "tensor/error.h"
#include "tools/commands.h"
#include "tools/json_file.h"
#include "tools/target_flags.h"

namespace hwnas::cli {

using nlohmann::json;
namespace fs = std::filesystem;

namespace {

struct SearchArgs {
  std::string space, supernet, constraint, out, data_dir, cost_metric = "latency_ms";
  std::vector<std::string> sets;
  SearchConfig cfg;
  SupernetAccuracyOptions acc;
  int eval_threads = 0;
  bool quiet = false, no_test = false;
};

// --set key=value pairs; numbers stay numbers so the config compares equal on resume.
json parse_sets(const std::vector<std::string>& sets) {
  json o = json::object();
  for (const std::string& kv : sets) {
    const size_t eq = kv.find('=');
    if (eq == std::string::npos || eq == 0)
      fail("--set \"{}\": expected KEY=VALUE, e.g. --set population=16", kv);
    const std::string k = kv.substr(0, eq), v = kv.substr(eq + 1);
    try {
      size_t used = 0;
      const double d = std::stod(v, &used);
      if (used == v.size()) {
        o[k] = d;
        continue;
      }
    } catch (const std::exception&) {
    }
    o[k] = v;
  }
  return o;
}

// A folder that already holds a search must hold this one; otherwise it would be mixed up or lost.
// The budget may grow (the log's evaluations are replayed, then the search goes on).
void check_resume(const fs::path& dir, const json& want) {
  const fs::path file = dir / "search_config.json";
  if (!fs::exists(dir) || fs::is_empty(dir)) return;
  if (!fs::exists(file))
    fail("--out {}: the folder exists and is not a search folder (no search_config.json); give a new or empty folder",
         dir.string());
  json have;
  try {
    have = read_json(file);
  } catch (const std::exception& e) {
    fail("--out {}: cannot read search_config.json ({}); move the folder away to start over", dir.string(), e.what());
  }
  for (const auto& [k, v] : want.items()) {
    if (k == "budget") continue;
    if (!have.contains(k) || have[k] != v)
      fail("--out {} holds a different search ({}: {} there, {} now); use another --out, or remove the folder to "
           "start over",
           dir.string(), k, have.contains(k) ? have[k].dump() : "absent", v.dump());
  }
  std::cerr << "search: resuming the search in " << dir.string() << " from its log\n";
}

void run(const SearchArgs& a, const TargetFlags& tf) {
  set_threads(a.eval_threads);
  SearchConfig cfg = a.cfg;
  cfg.constraints = parse_constraints(a.constraint);
  cfg.cost_metric = a.cost_metric;
  cfg.options = parse_sets(a.sets);
  cfg.progress = !a.quiet;
  cfg.out_dir = a.out;
  const AlgorithmInfo& algo = search_algorithm(cfg.algo);

  std::shared_ptr<ElasticMobileSupernet> net;
  json net_config;
  if (!a.supernet.empty()) net = load_supernet(a.supernet, &net_config);
  if (!net_config.is_object()) net_config = json::object();
  const std::string space_name = a.space.empty() ? net_config.value("space", std::string("elastic-mobile")) : a.space;
  if (net && net_config.contains("space") && net_config["space"] != space_name)
    fail("--space {} does not match the supernet's space {} ({})", space_name, net_config["space"].dump(), a.supernet);
  const SearchSpace s = load_space(space_name);
  if (!net)
    fail("search {}: needs subnet accuracies: give --supernet CHECKPOINT (from `hwnas supernet train`)", algo.name);
  TargetPtr target = tf.make();

  SupernetAccuracyOptions acc = a.acc;
  acc.data_dir = a.data_dir;
  acc.seed = cfg.seed;
  std::unique_ptr<SupernetAccuracy> oracle;
  if (net) oracle = std::make_unique<SupernetAccuracy>(net, acc, fs::absolute(a.supernet).string());

  const json want = {{"space", s.name},
                     {"supernet", a.supernet.empty() ? "" : fs::absolute(a.supernet).string()},
                     {"target", target->config()},
                     {"constraints", a.constraint},
                     {"cost_metric", cfg.cost_metric},
                     {"algo", cfg.algo},
                     {"budget", cfg.budget},
                     {"seed", cfg.seed},
                     {"options", cfg.options},
                     {"accuracy", oracle ? oracle->config() : json(nullptr)}};
  const fs::path dir(a.out);
  check_resume(dir, want);
  fs::create_directories(dir);
  write_file_atomic((dir / "search_config.json").string(), want.dump(2) + "\n");

  Evaluator eval(s, oracle.get(), target.get(), (dir / "search_log.jsonl").string());
  Generator gen(cfg.seed);
  SearchContext ctx{s, eval, cfg, gen, oracle.get(), a.supernet};
  std::cerr << fmt::format("search: {} on {} ({}), target {}, constraints [{}], budget {} evaluations\n", algo.name,
                           s.name, algo.summary, target->name(), a.constraint, cfg.budget);
  const SearchResult r = run_search(ctx);

  json best = read_json(dir / "best.json");
  if (oracle && !a.no_test) {
    // The test set is looked at once, after the search, for the report (never by the search).
    best["test_accuracy"] = oracle->test_accuracy(r.best.arch);
    write_file_atomic((dir / "best.json").string(), best.dump(2) + "\n");
  }
  json line = {{"best", best.at("arch")},
               {"accuracy", r.best.accuracy},
               {"feasible", r.best_feasible},
               {"cost", r.best.cost},
               {"evaluations", r.evaluations},
               {"replayed", r.replayed},
               {"seconds", r.seconds},
               {"pareto_size", r.pareto.size()},
               {"out", a.out}};
  if (best.contains("test_accuracy")) line["test_accuracy"] = best["test_accuracy"];
  std::cout << line.dump() << std::endl;
  if (!r.best_feasible)
    std::cerr << "search: warning: no evaluated subnet meets the constraints; best.json holds the least violating\n";
}

}  // namespace

void add_search_command(CLI::App& app) {
  auto args = std::make_shared<SearchArgs>();
  auto tf = std::make_shared<TargetFlags>();
  std::string algos;
  for (const auto& n : search_algorithms()) {
    const AlgorithmInfo& i = search_algorithm(n);
    algos += fmt::format("\n    {:<10} {}{}", n, i.summary, i.needs_supernet ? " (needs --supernet)" : "");
  }
  auto* cmd = app.add_subcommand(
      "search", "Search a supernet's subnets for the most accurate one under hardware constraints");
  cmd->footer("Algorithms (--algo):" + algos +
              "\n\nWrites in --out: search_config.json, search_log.jsonl (resume log), pareto.json, best.json, "
              "search.json.\nRun again with the same --out to resume an interrupted search.");
  cmd->add_option("--space", args->space, "search space (default: the supernet's)");
  cmd->add_option("--supernet", args->supernet, "checkpoint.hwnas of `hwnas supernet train` (subnet accuracies)");
  tf->add(cmd);
  cmd->add_option("--constraint", args->constraint,
                  "comma-separated bounds, e.g. 'latency_ms<=2,params<=1e6' (metrics: " +
                      fmt::format("{}", fmt::join(known_metrics(), ", ")) + ")");
  cmd->add_option("--algo", args->cfg.algo, "search algorithm (see below)")->capture_default_str();
  cmd->add_option("--budget", args->cfg.budget, "accuracy evaluations (distinct subnets)")
      ->capture_default_str()
      ->check(positive());
  cmd->add_option("--seed", args->cfg.seed, "seed of the search (and of BN recalibration batches)")->capture_default_str();
  cmd->add_option("--set", args->sets, "an algorithm option KEY=VALUE (repeatable), e.g. --set population=16");
  cmd->add_option("--cost-metric", args->cost_metric, "the cost axis of the Pareto front")->capture_default_str();
  cmd->add_option("--val-images", args->acc.val_images,
                  "validation images, taken from the end of the training set (the test set is not searched on)")
      ->capture_default_str()
      ->check(positive());
  cmd->add_option("--recal-batches", args->acc.recal_batches, "BN recalibration batches per evaluated subnet")
      ->capture_default_str()
      ->check(positive());
  cmd->add_option("--data-dir", args->data_dir, "Fashion-MNIST folder (default: /usr/share/datasets/fashion-mnist)");
  cmd->add_option("--eval-threads", args->eval_threads, "OpenMP threads for subnet evaluation (default: all cores)")
      ->check(non_negative());
  cmd->add_option("--out", args->out, "search folder (resumed when it holds the same search)")->required();
  cmd->add_flag("--no-test", args->no_test, "skip the chosen subnet's test-set accuracy at the end");
  cmd->add_flag("--quiet", args->quiet, "no progress display");
  cmd->callback([args, tf] { run(*args, *tf); });
}

}  // namespace hwnas::cli
