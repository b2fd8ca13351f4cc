// Constrained regularized (aging) evolution, after Real et al., "Regularized Evolution for Image
// Classifier Architecture Search" (AAAI 2019): a population queue; each cycle picks `sample`
// members at random, mutates the best of them, evaluates the child, appends it and drops the
// oldest member. Unlike NSGA-II (evolution.cpp), which spreads its population along the whole
// accuracy-cost front, this answers the single question a latency bound asks: the most accurate
// subnet under it, so its evaluations stay near the bound.
//
// Choices the paper leaves open (documented in docs/search.md):
//  - the constraint: children whose cost breaks a constraint are redrawn before their accuracy is
//    asked (cost is cheap, accuracy is the budget), so the population holds feasible subnets only
//    and "best" is plain accuracy; parents are compared with better_candidate, which also handles
//    the rare infeasible member (a fallback when the bound leaves almost nothing to draw);
//  - the mutation: one gene (a dimension's choice index) changed to a different choice, as the
//    paper mutates one thing at a time; a mutation that lands on an arch already evaluated (or
//    one canonical_arch folds onto one, e.g. a layer beyond its stage's depth) is redrawn;
//  - sizes for small budgets: population max(4, min(64, budget/4)) and sample
//    max(2, min(25, population/2)) (the paper ran 100 and 25 over 20,000 evaluations);
//  - the initial population is uniform random, screened by cost, as random search draws.
#include <algorithm>
#include <deque>
#include <set>

#include "nas/search/algorithms.h"

namespace hwnas {

namespace {

std::vector<size_t> mutate_one_gene(std::vector<size_t> c, const SearchSpace& s, Generator& gen) {
  std::vector<size_t> mutable_genes;
  for (size_t i = 0; i < c.size(); ++i)
    if (s.dims[i].size() > 1) mutable_genes.push_back(i);
  if (mutable_genes.empty()) return c;
  const size_t g = mutable_genes[static_cast<size_t>(gen.below(mutable_genes.size()))];
  const size_t k = s.dims[g].size();
  c[g] = (c[g] + 1 + static_cast<size_t>(gen.below(k - 1))) % k;  // a different choice
  return c;
}

SearchOutcome run_regularized_evolution(SearchContext& ctx) {
  const SearchSpace& s = ctx.space;
  const int64_t default_pop = std::clamp<int64_t>(ctx.cfg.budget / 4, 4, 64);
  const auto pop_size = static_cast<size_t>(ctx.option("population", static_cast<double>(default_pop)));
  const int64_t default_sample = std::clamp<int64_t>(static_cast<int64_t>(pop_size) / 2, 2, 25);
  const auto sample_size = static_cast<size_t>(ctx.option("sample", static_cast<double>(default_sample)));
  const auto max_tries = static_cast<int64_t>(ctx.option("max_tries", 200.0));
  if (pop_size < 2) fail("search rea: option \"population\" must be at least 2, got {}", pop_size);
  if (sample_size < 1 || sample_size > pop_size)
    fail("search rea: option \"sample\" must be between 1 and the population ({}), got {}", pop_size, sample_size);

  std::set<std::string> proposed;
  int64_t rejected = 0, cycles = 0;
  auto key = [&](const Arch& a) { return arch_to_json(s, a).dump(); };
  // Draws with `propose` until a new, cost-feasible arch comes; when the tries run out, the first
  // new infeasible one, so that a very tight bound still lets the search move.
  auto next_arch = [&](const std::function<Arch()>& propose) -> std::optional<Arch> {
    std::optional<Arch> fallback;
    for (int64_t t = 0; t < max_tries; ++t) {
      Arch a = canonical_arch(s, propose());
      if (proposed.count(key(a))) continue;
      if (ctx.cost_feasible(a)) return a;
      ++rejected;
      if (!fallback) fallback = a;
    }
    return fallback;
  };
  auto evaluate = [&](const Arch& a, const char* how) {
    proposed.insert(key(a));
    Candidate c = ctx.eval.evaluate(a, how);
    ctx.progress("rea", ctx.eval.evaluations(), ctx.cfg.budget);
    return c;
  };

  std::deque<Candidate> pop;  // oldest first
  while (pop.size() < pop_size && ctx.budget_left()) {
    auto a = next_arch([&] { return sample_arch(s, ctx.gen); });
    if (!a) break;
    pop.push_back(evaluate(*a, "rea:init"));
  }
  while (ctx.budget_left() && !pop.empty()) {
    auto a = next_arch([&] {
      // Tournament: `sample_size` members drawn with replacement, the best one is the parent.
      const Candidate* parent = &pop[static_cast<size_t>(ctx.gen.below(pop.size()))];
      for (size_t i = 1; i < sample_size; ++i) {
        const Candidate& m = pop[static_cast<size_t>(ctx.gen.below(pop.size()))];
        if (better_candidate(m, *parent, ctx.cfg.constraints, ctx.cfg.cost_metric)) parent = &m;
      }
      return arch_from_choices(s, mutate_one_gene(arch_choices(s, parent->arch), s, ctx.gen));
    });
    if (!a) break;  // every mutation within reach was evaluated already
    pop.push_back(evaluate(*a, "rea"));
    if (pop.size() > pop_size) pop.pop_front();  // aging: the oldest dies, not the worst
    ++cycles;
  }
  return {std::nullopt,
          {{"population", pop_size}, {"sample", sample_size}, {"cycles", cycles}, {"rejected_by_cost", rejected}}};
}

}  // namespace

AlgorithmInfo regularized_evolution_algorithm() {
  return {"rea",
          "constrained regularized (aging) evolution: best-of-sample parent, one-gene mutation, oldest dies",
          false,
          {"population", "sample", "max_tries"},
          run_regularized_evolution};
}

}  // namespace hwnas
