// Random search: the baseline every other algorithm must beat at an equal number of evaluations.
// Subnets are drawn uniformly per dimension (sample_arch); with `reject_infeasible` (default on)
// a draw whose cost breaks a constraint is redrawn before its accuracy is asked, since cost is
// cheap next to accuracy and every other algorithm here also screens by cost, so the comparison
// spends the accuracy budget alike.
#include <set>

#include "nas/search/algorithms.h"

namespace hwnas {

namespace {

SearchOutcome run_random(SearchContext& ctx) {
  const bool reject = ctx.option("reject_infeasible", 1.0) != 0;
  const int64_t max_tries = static_cast<int64_t>(ctx.option("max_tries", 200.0));
  std::set<std::string> seen;
  int64_t draws = 0, rejected = 0;
  while (ctx.budget_left()) {
    Arch a;
    bool ok = false;
    for (int64_t t = 0; t < max_tries && !ok; ++t) {
      a = canonical_arch(ctx.space, sample_arch(ctx.space, ctx.gen));
      ++draws;
      if (!seen.insert(arch_to_json(ctx.space, a).dump()).second) continue;
      ok = !reject || ctx.cost_feasible(a);
      rejected += !ok;
    }
    if (!ok) break;  // the constraints leave (almost) nothing to draw
    ctx.eval.evaluate(a, "random");
    ctx.progress("random", ctx.eval.evaluations(), ctx.cfg.budget);
  }
  return {std::nullopt, {{"draws", draws}, {"rejected_by_cost", rejected}}};
}

}  // namespace

AlgorithmInfo random_search_algorithm() {
  return {"random", "uniform random subnets, redrawn while their cost breaks a constraint", false,
          {"reject_infeasible", "max_tries"}, run_random};
}

}  // namespace hwnas
