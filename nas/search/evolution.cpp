// Evolutionary multi-objective search: NSGA-II (Deb et al. 2002) over (accuracy up, the cost
// metric down) with Deb's constrained domination, so infeasible subnets rank behind feasible ones
// by how far they break the constraints.
//
// Choices the paper leaves to the user (documented in the README's search section):
//  - genes are the choice indices of the space's dimensions (arch_choices), so any space works;
//  - uniform crossover (each gene from either parent) with probability `crossover` (0.9), then
//    per-gene mutation to a different choice with probability `mutation` (default 1/genes,
//    Deb's recommendation for discrete genes);
//  - a child whose cost breaks a constraint, or that was evaluated before, is redrawn (up to
//    `max_tries` times) before its accuracy is asked: cost is cheap, accuracy is the budget.
//  - the initial population is uniform random, screened by cost like random search's draws.
#include <algorithm>
#include <set>

#include "nas/search/algorithms.h"
#include "nas/search/pareto.h"

namespace hwnas {

namespace {

struct Ranked {
  std::vector<size_t> rank;      // front index per member
  std::vector<double> crowding;  // per member
};

Ranked rank_population(const std::vector<Candidate>& pop, const SearchContext& ctx) {
  Ranked r;
  r.rank.assign(pop.size(), 0);
  r.crowding.assign(pop.size(), 0.0);
  const auto fronts = non_dominated_fronts(pop, ctx.cfg.constraints, ctx.cfg.cost_metric);
  for (size_t f = 0; f < fronts.size(); ++f) {
    const auto cd = crowding_distance(pop, fronts[f], ctx.cfg.cost_metric);
    for (size_t i = 0; i < fronts[f].size(); ++i) {
      r.rank[fronts[f][i]] = f;
      r.crowding[fronts[f][i]] = cd[i];
    }
  }
  return r;
}

// Environmental selection: whole fronts while they fit, then the last front by crowding.
std::vector<Candidate> select_survivors(const std::vector<Candidate>& merged, size_t n, const SearchContext& ctx) {
  std::vector<Candidate> next;
  for (const auto& front : non_dominated_fronts(merged, ctx.cfg.constraints, ctx.cfg.cost_metric)) {
    if (next.size() + front.size() <= n) {
      for (size_t i : front) next.push_back(merged[i]);
      continue;
    }
    const auto cd = crowding_distance(merged, front, ctx.cfg.cost_metric);
    std::vector<size_t> order(front.size());
    for (size_t i = 0; i < order.size(); ++i) order[i] = i;
    std::stable_sort(order.begin(), order.end(), [&](size_t a, size_t b) { return cd[a] > cd[b]; });
    for (size_t i = 0; next.size() < n; ++i) next.push_back(merged[front[order[i]]]);
    break;
  }
  return next;
}

size_t tournament(const Ranked& r, Generator& gen) {
  const size_t n = r.rank.size();
  const auto a = static_cast<size_t>(gen.below(n));
  const auto b = static_cast<size_t>(gen.below(n));
  if (r.rank[a] != r.rank[b]) return r.rank[a] < r.rank[b] ? a : b;
  return r.crowding[a] >= r.crowding[b] ? a : b;
}

std::vector<size_t> make_child(const std::vector<size_t>& p1, const std::vector<size_t>& p2, double crossover,
                               double mutation, const SearchSpace& s, Generator& gen) {
  std::vector<size_t> c = p1;
  if (gen.uniform() < crossover)
    for (size_t i = 0; i < c.size(); ++i)
      if (gen.uniform() < 0.5) c[i] = p2[i];
  for (size_t i = 0; i < c.size(); ++i) {
    const size_t k = s.dims[i].size();
    if (k > 1 && gen.uniform() < mutation) {
      // A different choice, uniform among the others.
      c[i] = (c[i] + 1 + static_cast<size_t>(gen.below(k - 1))) % k;
    }
  }
  return c;
}

std::string arch_key(const SearchSpace& s, const Arch& a) { return arch_to_json(s, a).dump(); }

SearchOutcome run_evolution(SearchContext& ctx) {
  const SearchSpace& s = ctx.space;
  const int64_t default_pop = std::clamp<int64_t>(ctx.cfg.budget / 5, 4, 32);
  const auto pop_size = static_cast<size_t>(ctx.option("population", static_cast<double>(default_pop)));
  const double crossover = ctx.option("crossover", 0.9);
  const double mutation = ctx.option("mutation", 1.0 / static_cast<double>(std::max<size_t>(s.dims.size(), 1)));
  const auto max_tries = static_cast<int64_t>(ctx.option("max_tries", 200.0));
  if (pop_size < 2) fail("search evolution: option \"population\" must be at least 2, got {}", pop_size);
  if (crossover < 0 || crossover > 1 || mutation < 0 || mutation > 1)
    fail("search evolution: \"crossover\" and \"mutation\" are probabilities in [0, 1], got {} and {}", crossover,
         mutation);

  std::set<std::string> proposed;
  int64_t rejected = 0;
  // Draws with `propose` until a new, cost-feasible arch comes (or tries run out: then the last
  // new one, so the search still moves when the constraints are very tight).
  auto next_arch = [&](const std::function<Arch()>& propose) -> std::optional<Arch> {
    std::optional<Arch> fallback;
    for (int64_t t = 0; t < max_tries; ++t) {
      Arch a = canonical_arch(s, propose());
      if (proposed.count(arch_key(s, a))) continue;
      if (ctx.cost_feasible(a)) return a;
      ++rejected;
      if (!fallback) fallback = a;
    }
    return fallback;
  };
  auto evaluate = [&](const Arch& a, const char* how) {
    proposed.insert(arch_key(s, a));
    Candidate c = ctx.eval.evaluate(a, how);
    ctx.progress("evolution", ctx.eval.evaluations(), ctx.cfg.budget);
    return c;
  };

  std::vector<Candidate> pop;
  while (pop.size() < pop_size && ctx.budget_left()) {
    auto a = next_arch([&] { return sample_arch(s, ctx.gen); });
    if (!a) break;
    pop.push_back(evaluate(*a, "evolution:init"));
  }
  int64_t generations = 0;
  while (ctx.budget_left() && pop.size() >= 2) {
    const Ranked ranked = rank_population(pop, ctx);
    std::vector<Candidate> children;
    while (children.size() < pop_size && ctx.budget_left()) {
      auto a = next_arch([&] {
        const auto& p1 = pop[tournament(ranked, ctx.gen)];
        const auto& p2 = pop[tournament(ranked, ctx.gen)];
        return arch_from_choices(
            s, make_child(arch_choices(s, p1.arch), arch_choices(s, p2.arch), crossover, mutation, s, ctx.gen));
      });
      if (!a) break;
      children.push_back(evaluate(*a, "evolution"));
    }
    if (children.empty()) break;  // nothing new to try
    std::vector<Candidate> merged = pop;
    merged.insert(merged.end(), children.begin(), children.end());
    pop = select_survivors(merged, pop_size, ctx);
    ++generations;
  }
  return {std::nullopt,
          {{"population", pop_size}, {"generations", generations}, {"crossover", crossover},
           {"mutation", mutation}, {"rejected_by_cost", rejected}}};
}

}  // namespace

AlgorithmInfo evolution_algorithm() {
  return {"evolution",
          "NSGA-II over accuracy and the cost metric, constrained domination, children screened by cost",
          false,
          {"population", "crossover", "mutation", "max_tries"},
          run_evolution};
}

}  // namespace hwnas
