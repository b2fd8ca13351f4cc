#pragma once
// HURRICANE's pieces (nas/search/hurricane.cpp has the algorithm and the choices it makes):
// per-target candidate ops (scored on the target, top k per layer), the split of the layers into
// the later part (searched in stage 1) and the earlier part (stage 2), and the small constrained
// evolution that searches one part with the other fixed.
#include <functional>
#include <memory>
#include <string>
#include <vector>

#include "nas/search/evaluator.h"
#include "nas/search/search.h"

namespace hwnas {

// A searchable layer: a block whose op-defining dimensions (kernel, expand, ops) make its
// candidate ops. elastic-mobile: op = (kernel, expand) of the MBConv, named "k3_e6"; a mixed-op
// space: op = one of the block's named ops.
struct HurricaneLayer {
  size_t block = 0, stage = 0;
  std::vector<size_t> dims;               // indices into SearchSpace::dims
  std::vector<std::vector<size_t>> ops;   // per op: its choice of each of `dims`
  std::vector<std::string> names;         // per op
};
std::vector<HurricaneLayer> hurricane_layers(const SearchSpace& s);

struct HurricaneScoreOptions {
  int64_t k = 3;             // ops kept per layer
  int64_t refs = 1;          // reference archs each op is swapped into
  double cost_weight = 1.0;  // multiplies the space's accuracy-per-cost rate
  std::string cost_metric = "latency_ms";
};

struct HurricaneOpScores {
  std::vector<HurricaneLayer> layers;
  // Per layer, per op: means over the reference archs with that op swapped in.
  std::vector<std::vector<double>> accuracy, cost, score;
  std::vector<std::vector<size_t>> kept;  // per layer: kept op indices, best score first
  double rate = 0;        // accuracy per unit cost: (acc(max) - acc(min)) / (cost(max) - cost(min)), >= 0
  ChoiceSets allowed;     // per dim: the union of the kept ops' choices (dims of no layer: empty = all)
  int64_t evaluations = 0;  // accuracy evaluations the scoring asked for (distinct archs)
};

// The archs the scoring evaluates (reference archs with every op swapped into every layer, plus
// the max and min archs), in evaluation order; draws the reference archs from `gen`.
std::vector<Arch> hurricane_scoring_archs(const SearchSpace& s, int64_t refs, Generator& gen,
                                          std::vector<Arch>* references = nullptr);
// Scores every op of every layer on `eval` (accuracy counted by `eval`, cost from its target):
//   A(l,o) = mean over reference archs r of accuracy(r with layer l's op set to o)
//   C(l,o) = the same mean of the cost metric
//   score(l,o) = A(l,o) - cost_weight * rate * C(l,o)
// and keeps the top k per layer (ties: lower cost first). Fails when the scoring needs more than
// `max_evaluations` new evaluations.
HurricaneOpScores hurricane_score_ops(const SearchSpace& s, Evaluator& eval, const HurricaneScoreOptions& o,
                                      Generator& gen, int64_t max_evaluations,
                                      const std::function<void(int64_t, int64_t)>& progress = {});
nlohmann::json hurricane_scores_json(const HurricaneOpScores& sc);

// The first stage of the later part: the smallest stage index whose stages from there to the
// end hold at most half of the blocks (at least 1, at most stages - 1).
size_t hurricane_default_split(const SearchSpace& s);
// Per dim: whether it belongs to the later part (its stage >= split).
std::vector<bool> hurricane_later_dims(const SearchSpace& s, size_t split);

// One stage's search: the dims where `searchable` is true vary (layers among their kept ops,
// other dims among all their choices), the rest stay at `base` (choice indices). Mutation-only
// evolution: the base itself (when its choices are among the kept ones) and random draws up to
// `population`, then children of a binary tournament among the `population` best so far
// (better_candidate), each unit mutated with probability 1/units (at least one); children that
// break the cost constraints (`cost_ok`) or repeat an arch are redrawn up to `max_tries` times.
// Returns every evaluated candidate in order (at most `budget`).
struct HurricaneStageSearch {
  int64_t budget = 10, population = 8, max_tries = 200;
  std::vector<Constraint> constraints;
  std::string cost_metric = "latency_ms";
};
std::vector<Candidate> hurricane_stage_search(const SearchSpace& s, const HurricaneOpScores& ops,
                                              const std::vector<bool>& searchable, const std::vector<size_t>& base,
                                              const HurricaneStageSearch& o,
                                              const std::function<Candidate(const Arch&)>& evaluate,
                                              const std::function<bool(const Arch&)>& cost_ok, Generator& gen);

// Trains one stage's supernet and returns an accuracy oracle on it. `stage` is 1 or 2;
// `allowed` restricts the sampler; `init_from` is the checkpoint to start from (may be empty);
// `dir` the stage folder. Writes what it did (steps, seconds) into `info`.
using HurricaneTrainer = std::function<std::unique_ptr<AccuracyOracle>(
    int stage, const ChoiceSets& allowed, const std::string& init_from, const std::string& dir, nlohmann::json& info)>;
// The whole algorithm with a given trainer (tests pass a fake one; hurricane_algorithm() trains
// supernets with the uniform sampler).
SearchOutcome run_hurricane(SearchContext& ctx, const HurricaneTrainer& train);

}  // namespace hwnas
