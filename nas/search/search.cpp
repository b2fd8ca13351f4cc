#include "nas/search/search.h"

#include <chrono>
#include <cmath>
#include <cstdio>
#include <filesystem>
#include <map>
#include <mutex>
#include <unistd.h>

#include <fmt/format.h>
#include <fmt/ranges.h>

#include "io/atomic_file.h"
#include "nas/search/algorithms.h"
#include "nas/search/pareto.h"
#include "tensor/error.h"

namespace hwnas {

using nlohmann::json;

namespace {

std::map<std::string, AlgorithmInfo>& registry() {
  static std::map<std::string, AlgorithmInfo> r;
  return r;
}

void register_builtins() {
  static std::once_flag once;
  std::call_once(once, [] {
    for (auto f : {random_search_algorithm, evolution_algorithm, regularized_evolution_algorithm, netadapt_algorithm, hurricane_algorithm,
                   fpnas_algorithm, dnas_algorithm, flash_algorithm})
      register_search_algorithm(f());
  });
}

}  // namespace

void register_search_algorithm(AlgorithmInfo info) { registry()[info.name] = std::move(info); }

const AlgorithmInfo& search_algorithm(const std::string& name) {
  register_builtins();
  auto it = registry().find(name);
  if (it == registry().end())
    fail("search: unknown algorithm \"{}\" (known: {})", name, fmt::join(search_algorithms(), ", "));
  return it->second;
}

std::vector<std::string> search_algorithms() {
  register_builtins();
  std::vector<std::string> n;
  for (const auto& [k, v] : registry()) n.push_back(k);
  return n;
}

double SearchContext::option(const std::string& key, double fallback) const {
  if (!cfg.options.contains(key)) return fallback;
  const json& v = cfg.options[key];
  if (v.is_number()) return v.get<double>();
  if (v.is_string()) {
    try {
      size_t used = 0;
      const double d = std::stod(v.get<std::string>(), &used);
      if (used == v.get<std::string>().size()) return d;
    } catch (const std::exception&) {
    }
  }
  fail("search {}: option \"{}\" must be a number, got {}", cfg.algo, key, v.dump());
}

std::string SearchContext::option(const std::string& key, const std::string& fallback) const {
  if (!cfg.options.contains(key)) return fallback;
  const json& v = cfg.options[key];
  return v.is_string() ? v.get<std::string>() : v.dump();
}

bool SearchContext::cost_feasible(const Arch& a) const {
  Candidate c;
  c.arch = a;
  c.cost = eval.cost(a);
  std::vector<Constraint> on_cost;
  for (const Constraint& k : cfg.constraints)
    if (k.metric != "accuracy") on_cost.push_back(k);
  return feasible(c, on_cost);
}

void SearchContext::progress(const std::string& stage, int64_t done, int64_t total) const {
  if (!cfg.progress) return;
  static const bool tty = isatty(fileno(stderr));
  const bool last = done >= total;
  // On a pipe, one line per ~10% so logs stay short; on a terminal the line redraws.
  if (!tty && !last && total >= 10 && done % std::max<int64_t>(total / 10, 1) != 0) return;
  const int width = 24;
  const int filled = total > 0 ? static_cast<int>(width * std::min<int64_t>(done, total) / total) : width;
  std::string bar(filled, '=');
  if (filled < width) bar += '>' + std::string(width - filled - 1, ' ');
  std::fprintf(stderr, "%s%s [%s] %lld/%lld evals %lld%s", tty ? "\r" : "", stage.c_str(), bar.c_str(),
               static_cast<long long>(done), static_cast<long long>(total),
               static_cast<long long>(eval.evaluations()), tty && !last ? "" : "\n");
  std::fflush(stderr);
}

Candidate best_of(const std::vector<Candidate>& c, const std::vector<Constraint>& cs, const std::string& cost_metric) {
  if (c.empty()) fail("search: nothing was evaluated, so there is no best subnet");
  const Candidate* best = &c.front();
  for (const Candidate& x : c)
    if (better_candidate(x, *best, cs, cost_metric)) best = &x;
  return *best;
}

SearchResult run_search(SearchContext& ctx) {
  const AlgorithmInfo& algo = search_algorithm(ctx.cfg.algo);
  for (const auto& [k, v] : ctx.cfg.options.items()) {
    bool known = false;
    for (const auto& o : algo.option_keys) known |= o == k;
    if (!known)
      fail("search {}: unknown option \"{}\" (its options: {})", algo.name, k,
           algo.option_keys.empty() ? std::string("none") : fmt::format("{}", fmt::join(algo.option_keys, ", ")));
  }
  if (algo.needs_supernet && !ctx.supernet)
    fail("search {}: needs a trained supernet (--supernet CHECKPOINT)", algo.name);
  if (ctx.cfg.budget <= 0) fail("search: --budget must be positive, got {}", ctx.cfg.budget);
  const auto t0 = std::chrono::steady_clock::now();
  SearchOutcome out = algo.run(ctx);
  SearchResult r;
  r.seconds = std::chrono::duration<double>(std::chrono::steady_clock::now() - t0).count();
  // The algorithm's own answer (a distribution's arg-max, DNAS's derived arch) is evaluated like
  // any other subnet; the result is the best evaluated one under the constraints, so an answer
  // that breaks them (an unconverged distribution's mode) never beats a feasible subnet found on
  // the way. search.json keeps the algorithm's own answer.
  if (out.chosen) {
    const Candidate own = ctx.eval.evaluate(*out.chosen, algo.name);
    out.info["own_answer"] = candidate_to_json(ctx.space, own);
    out.info["own_answer_feasible"] = feasible(own, ctx.cfg.constraints);
  }
  r.best = best_of(ctx.eval.history(), ctx.cfg.constraints, ctx.cfg.cost_metric);
  r.best_feasible = feasible(r.best, ctx.cfg.constraints);
  r.pareto = pareto_front(ctx.eval.history(), ctx.cfg.cost_metric);
  r.info = out.info;
  r.evaluations = ctx.eval.evaluations();
  r.replayed = ctx.eval.replayed();
  if (ctx.cfg.out_dir.empty()) return r;

  namespace fs = std::filesystem;
  const fs::path dir(ctx.cfg.out_dir);
  json front = json::array();
  for (const Candidate& c : r.pareto) front.push_back(candidate_to_json(ctx.space, c));
  json constraints = json::array();
  for (const Constraint& c : ctx.cfg.constraints) constraints.push_back(c.text());
  const std::string target = ctx.eval.target() ? ctx.eval.target()->name() : "";
  write_file_atomic((dir / "pareto.json").string(),
                    json{{"space", ctx.space.name}, {"target", target}, {"cost_metric", ctx.cfg.cost_metric},
                         {"algorithm", algo.name}, {"constraints", constraints}, {"front", front}}
                            .dump(2) + "\n");
  json best = candidate_to_json(ctx.space, r.best);
  best["feasible"] = r.best_feasible;
  best["space"] = ctx.space.name;
  best["target"] = target;
  best["constraints"] = constraints;
  write_file_atomic((dir / "best.json").string(), best.dump(2) + "\n");
  json summary = {{"algorithm", algo.name},
                  {"budget", ctx.cfg.budget},
                  {"seed", ctx.cfg.seed},
                  {"options", ctx.cfg.options},
                  {"constraints", constraints},
                  {"evaluations", r.evaluations},
                  {"replayed_from_log", r.replayed},
                  {"seconds", r.seconds},
                  {"seconds_accuracy", ctx.eval.seconds_accuracy()},
                  {"seconds_cost", ctx.eval.seconds_cost()},
                  {"info", r.info}};
  write_file_atomic((dir / "search.json").string(), summary.dump(2) + "\n");
  return r;
}

}  // namespace hwnas
