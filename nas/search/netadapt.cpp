// NetAdaptV2 (Yang et al. 2021) multi-layer coordinate descent: start from the largest subnet and,
// each iteration, propose several networks that each shrink several layers at once until the
// cost drops by the iteration's step, evaluate every proposal (accuracy from the supernet,
// ideally one trained with ordered dropout, cost from the target, which may be measured and so
// non-differentiable), and keep the most accurate. Iterations continue until the cost constraint
// holds, then the best evaluated subnet under the constraints is the answer.
//
// Choices the paper leaves open (documented in the README's search section):
//  - the cost being cut is the first upper-bound constraint on `cfg.cost_metric`; without one
//    there is no target to shrink to, so the algorithm refuses to run;
//  - the step: the distance from the start cost to the bound split evenly over the iterations the
//    budget affords (budget / proposals), so the last iteration lands on the bound;
//  - a proposal shrinks a random group of 1..`layers` dimensions by one choice each (a smaller
//    kernel, expand ratio, width or depth: every dimension lists its choices smallest first), and
//    repeats with fresh groups until the cost is at or under the step's target;
//  - no long-term fine-tuning between iterations: the supernet is the weight source throughout,
//    as in NetAdaptV2's use of a trained super-network.
#include <algorithm>
#include <set>

#include "nas/search/algorithms.h"
#include "tensor/error.h"

namespace hwnas {

namespace {

const Constraint& cost_bound(const SearchContext& ctx) {
  for (const Constraint& c : ctx.cfg.constraints)
    if (c.upper && c.metric == ctx.cfg.cost_metric) return c;
  fail("search netadapt: needs an upper bound on the cost metric to shrink towards, e.g. --constraint '{}<=X'",
       ctx.cfg.cost_metric);
}

// One proposal: shrink random groups of dimensions until the cost is at or under `target`.
// Returns nothing when every dimension is at its smallest choice before the target is met.
std::optional<Arch> propose(SearchContext& ctx, const Arch& from, double target, int64_t max_layers) {
  const SearchSpace& s = ctx.space;
  std::vector<size_t> choice = arch_choices(s, from);
  for (;;) {
    std::vector<size_t> shrinkable;
    for (size_t i = 0; i < choice.size(); ++i)
      if (choice[i] > 0) shrinkable.push_back(i);
    if (shrinkable.empty()) return std::nullopt;
    const auto group = std::min<size_t>(shrinkable.size(), 1 + ctx.gen.below(static_cast<uint64_t>(max_layers)));
    for (size_t g = 0; g < group; ++g) {  // partial Fisher-Yates: `group` distinct dimensions
      const size_t j = g + static_cast<size_t>(ctx.gen.below(shrinkable.size() - g));
      std::swap(shrinkable[g], shrinkable[j]);
      --choice[shrinkable[g]];
    }
    Arch a = canonical_arch(s, arch_from_choices(s, choice));
    if (ctx.eval.cost(a).at(ctx.cfg.cost_metric) <= target) return a;
  }
}

SearchOutcome run_netadapt(SearchContext& ctx) {
  const Constraint& bound = cost_bound(ctx);
  const auto proposals = static_cast<int64_t>(ctx.option("proposals", 6.0));
  const auto max_layers = static_cast<int64_t>(ctx.option("layers", 3.0));
  const auto max_tries = static_cast<int64_t>(ctx.option("max_tries", 20.0));
  if (proposals < 1 || max_layers < 1 || max_tries < 1)
    fail("search netadapt: options \"proposals\", \"layers\" and \"max_tries\" must be at least 1");
  const std::string start_name = ctx.option("start", std::string("max"));
  Arch current;
  if (start_name == "max") {
    current = max_arch(ctx.space);
  } else {
    current = arch_from_json(ctx.space, nlohmann::json::parse(start_name));
  }
  current = canonical_arch(ctx.space, current);
  const std::string& m = ctx.cfg.cost_metric;
  const double c0 = ctx.eval.cost(current).at(m);
  const int64_t iterations = std::max<int64_t>(1, (ctx.cfg.budget - 1) / proposals);
  const double step = std::max(c0 - bound.bound, 0.0) / static_cast<double>(iterations);

  nlohmann::json trail = nlohmann::json::array();
  Candidate best_now = ctx.eval.evaluate(current, "netadapt:start");
  trail.push_back({{"iteration", 0}, {"accuracy", best_now.accuracy}, {m, best_now.metric(m)}});
  int64_t it = 0;
  while (ctx.budget_left() && best_now.metric(m) > bound.bound) {
    ++it;
    const double target = std::max(bound.bound, c0 - step * static_cast<double>(it));
    std::set<std::string> seen;
    std::optional<Candidate> winner;
    for (int64_t p = 0; p < proposals && ctx.budget_left(); ++p) {
      std::optional<Arch> a;
      for (int64_t t = 0; t < max_tries && !a; ++t) {
        a = propose(ctx, current, target, max_layers);
        if (!a) break;
        if (!seen.insert(arch_to_json(ctx.space, *a).dump()).second) a.reset();
      }
      if (!a) continue;
      Candidate c = ctx.eval.evaluate(*a, "netadapt");
      if (!winner || c.accuracy > winner->accuracy) winner = c;
      ctx.progress("netadapt", ctx.eval.evaluations(), ctx.cfg.budget);
    }
    if (!winner) break;  // nothing smaller left to propose
    current = winner->arch;
    best_now = *winner;
    trail.push_back({{"iteration", it}, {"target", target}, {"accuracy", best_now.accuracy}, {m, best_now.metric(m)}});
  }
  const bool reached = best_now.metric(m) <= bound.bound;
  return {reached ? std::optional<Arch>(current) : std::nullopt,
          {{"start_cost", c0}, {"bound", bound.text()}, {"step", step}, {"iterations", it},
           {"reached_bound", reached}, {"trail", trail}}};
}

}  // namespace

AlgorithmInfo netadapt_algorithm() {
  return {"netadapt",
          "NetAdaptV2 multi-layer coordinate descent: shrink several layers per proposal by a cost step, keep the "
          "most accurate",
          false,
          {"proposals", "layers", "max_tries", "start"},
          run_netadapt};
}

}  // namespace hwnas
