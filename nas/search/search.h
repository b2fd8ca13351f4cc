#pragma once
// Search algorithms (nas/search/*.cpp, one per file) behind one interface, and the run that
// writes a search folder:
//   search_log.jsonl  every evaluation as it happens (the resume log; nas/search/evaluator.h)
//   pareto.json       the accuracy-cost front of everything evaluated, per target metric
//   best.json         the chosen subnet: best accuracy under the constraints
//   search.json       the run's config, the algorithm's own summary, evaluations and times
// An algorithm gets a SearchContext (space, evaluator, constraints, budget, its seeded
// generator) and returns what it chose; the run turns that into the files.
#include <functional>
#include <memory>
#include <optional>
#include <string>
#include <vector>

#include "nas/search/evaluator.h"

namespace hwnas {

class ElasticMobileSupernet;
class SupernetAccuracy;

struct SearchConfig {
  std::string algo = "evolution";
  int64_t budget = 100;  // accuracy evaluations (distinct subnets); algorithms that train count
                         // what they evaluate after training
  uint64_t seed = 0;
  std::vector<Constraint> constraints;
  std::string cost_metric = "latency_ms";  // the cost axis of the Pareto front
  nlohmann::json options = nlohmann::json::object();  // the algorithm's own settings (--set k=v)
  bool progress = true;
  std::string out_dir;  // where algorithms that train keep their own state (may be empty)
};

struct SearchContext {
  const SearchSpace& space;
  Evaluator& eval;
  const SearchConfig& cfg;
  Generator& gen;
  // Supernet-based algorithms (HURRICANE, DNAS, NetAdaptV2) need these; null otherwise.
  SupernetAccuracy* supernet = nullptr;
  std::string supernet_checkpoint;
  // Reads an option with a default, checking its type; throws naming the algorithm and key.
  double option(const std::string& key, double fallback) const;
  std::string option(const std::string& key, const std::string& fallback) const;
  bool budget_left() const { return eval.evaluations() < cfg.budget; }
  // Whether `a`'s cost (cheap next to accuracy) meets every constraint that is not on accuracy:
  // the screen every algorithm applies before spending an evaluation.
  bool cost_feasible(const Arch& a) const;
  void progress(const std::string& stage, int64_t done, int64_t total) const;  // one line on stderr
};

struct SearchOutcome {
  std::optional<Arch> chosen;  // the algorithm's own answer (DNAS's arg-max), evaluated and then ranked with the rest
  nlohmann::json info = nlohmann::json::object();  // algorithm-specific summary for search.json
};

using SearchAlgorithm = std::function<SearchOutcome(SearchContext&)>;
struct AlgorithmInfo {
  std::string name, summary;
  bool needs_supernet = false;
  std::vector<std::string> option_keys;  // every key it reads from cfg.options (checked)
  SearchAlgorithm run;
};
void register_search_algorithm(AlgorithmInfo info);
const AlgorithmInfo& search_algorithm(const std::string& name);  // throws listing the known ones
std::vector<std::string> search_algorithms();

struct SearchResult {
  Candidate best;
  bool best_feasible = false;
  std::vector<Candidate> pareto;
  nlohmann::json info;
  int64_t evaluations = 0, replayed = 0;
  double seconds = 0;
};

// Runs `cfg.algo` and, when `cfg.out_dir` is set, writes the folder (atomically per file).
SearchResult run_search(SearchContext& ctx);

// The best evaluated candidate under the constraints (see better_candidate).
Candidate best_of(const std::vector<Candidate>& c, const std::vector<Constraint>& cs, const std::string& cost_metric);

}  // namespace hwnas
