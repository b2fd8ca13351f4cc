// The FPGA model's integer program against brute force on small instances.
#include <gtest/gtest.h>

#include <random>

#include "hw_targets/fpga_ilp.h"
#include "tests/test_util.h"

namespace hwnas {
namespace {

// Every combination of options, best by the problem's objective (bottleneck: lexicographic
// bottleneck, then sum); nullopt when none fits the budgets.
std::optional<McSolution> brute_force(const McProblem& p) {
  std::vector<int> c(p.stages.size(), 0);
  std::optional<McSolution> best;
  while (true) {
    const McSolution s = evaluate_choice(p, c);
    if (s.dsp <= p.dsp_budget && s.bram <= p.bram_budget) {
      const bool better = !best || (p.objective == McObjective::sum
                                        ? s.sum < best->sum
                                        : s.bottleneck < best->bottleneck ||
                                              (s.bottleneck == best->bottleneck && s.sum < best->sum));
      if (better) best = s;
    }
    size_t i = 0;
    while (i < c.size() && ++c[i] == int(p.stages[i].size())) c[i++] = 0;
    if (i == c.size()) break;
  }
  return best;
}

McProblem random_problem(uint32_t seed, McObjective obj, bool with_bandwidth) {
  std::mt19937 rng(seed);
  std::uniform_int_distribution<int> n_stages(3, 5), n_opts(3, 4), dsp(1, 40), bram(0, 20);
  std::uniform_real_distribution<double> lat(1e-5, 1e-3), bytes(0, 1e6), frac(0.2, 0.9);
  McProblem p;
  p.objective = obj;
  const int s = n_stages(rng);
  double min_dsp = 0, max_dsp = 0, min_bram = 0, max_bram = 0;
  for (int i = 0; i < s; ++i) {
    std::vector<McOption> opts;
    const int k = n_opts(rng);
    double lo_d = 1e9, hi_d = 0, lo_b = 1e9, hi_b = 0;
    for (int j = 0; j < k; ++j) {
      McOption o{lat(rng), double(dsp(rng)), double(bram(rng)), bytes(rng)};
      lo_d = std::min(lo_d, o.dsp), hi_d = std::max(hi_d, o.dsp);
      lo_b = std::min(lo_b, o.bram), hi_b = std::max(hi_b, o.bram);
      opts.push_back(o);
    }
    min_dsp += lo_d, max_dsp += hi_d, min_bram += lo_b, max_bram += hi_b;
    p.stages.push_back(opts);
  }
  // Budgets between the least and the most any design needs, so they bind.
  p.dsp_budget = std::floor(min_dsp + frac(rng) * (max_dsp - min_dsp));
  p.bram_budget = std::floor(min_bram + frac(rng) * (max_bram - min_bram));
  // A bandwidth that makes the shared-traffic bound comparable to the stage latencies.
  if (with_bandwidth) p.bandwidth = 1e6 * double(s) / 1.5e-3;
  return p;
}

void expect_matches_brute_force(const McProblem& p, const std::string& label) {
  const auto ref = brute_force(p);
  if (!ref) {
    EXPECT_THROW(solve_multi_choice(p), Error) << label;
    return;
  }
  const McSolution s = solve_multi_choice(p);
  EXPECT_TRUE(s.optimal) << label;
  EXPECT_LE(s.dsp, p.dsp_budget) << label;
  EXPECT_LE(s.bram, p.bram_budget) << label;
  if (p.objective == McObjective::bottleneck) {
    EXPECT_NEAR(s.bottleneck, ref->bottleneck, 1e-9 * ref->bottleneck) << label;
    // The tie-break may stop within its relative gap.
    EXPECT_GE(s.sum, ref->sum * (1 - 1e-9)) << label;
    EXPECT_LE(s.sum, ref->sum * (1 + p.tie_break_gap)) << label;
  } else {
    EXPECT_NEAR(s.sum, ref->sum, 1e-9 * ref->sum) << label;
  }
  // The reported totals are those of the reported choice.
  const McSolution again = evaluate_choice(p, s.choice);
  EXPECT_EQ(again.dsp, s.dsp) << label;
  EXPECT_EQ(again.bram, s.bram) << label;
  EXPECT_EQ(again.sum, s.sum) << label;
}

// Every solving path (bisection or one MILP for the bottleneck, with or without the dynamic
// programming shortcuts, which leave everything to GLPK) against brute force.
TEST(FpgaIlp, MatchesBruteForceOnRandomInstances) {
  int infeasible = 0, bandwidth_bound = 0;
  for (uint32_t seed = 1; seed <= 40; ++seed) {
    for (auto obj : {McObjective::bottleneck, McObjective::sum}) {
      for (bool bw : {false, true}) {
        if (obj == McObjective::sum && bw) continue;
        McProblem p = random_problem(seed, obj, bw);
        const auto ref = brute_force(p);
        if (!ref) ++infeasible;
        if (ref && bw) {
          double slowest = 0;
          for (size_t i = 0; i < p.stages.size(); ++i) slowest = std::max(slowest, p.stages[i][size_t(ref->choice[i])].latency);
          bandwidth_bound += ref->bottleneck > slowest;
        }
        for (auto search : {McBottleneckSearch::bisection, McBottleneckSearch::milp}) {
          for (bool shortcut : {true, false}) {
            if (obj == McObjective::sum && search == McBottleneckSearch::milp) continue;
            p.bottleneck_search = search;
            p.relaxation_shortcut = shortcut;
            expect_matches_brute_force(
                p, fmt::format("seed {} objective {} bandwidth {} search {} shortcut {}", seed,
                               obj == McObjective::sum ? "sum" : "bottleneck", bw,
                               search == McBottleneckSearch::milp ? "milp" : "bisection", shortcut));
          }
        }
      }
    }
  }
  // The comparison must mean something: most instances feasible, some bandwidth-bound.
  EXPECT_LT(infeasible, 20);
  EXPECT_GT(bandwidth_bound, 5) << bandwidth_bound;
  EXPECT_LT(bandwidth_bound, 35) << bandwidth_bound;
}

// Non-integer resources take the MILP path for the bottleneck and GLPK for sums.
TEST(FpgaIlp, FractionalResourcesMatchBruteForce) {
  for (uint32_t seed = 100; seed < 110; ++seed) {
    for (auto obj : {McObjective::bottleneck, McObjective::sum}) {
      McProblem p = random_problem(seed, obj, obj == McObjective::bottleneck);
      for (auto& st : p.stages)
        for (auto& o : st) o.dsp += 0.5, o.bram += 0.25;
      p.dsp_budget += 0.5 * double(p.stages.size());
      p.bram_budget += 0.25 * double(p.stages.size());
      expect_matches_brute_force(p, fmt::format("fractional seed {}", seed));
    }
  }
}

TEST(FpgaIlp, SharedBandwidthBoundsTheBottleneck) {
  McProblem p;
  // The faster option of stage 0 moves more bytes: 8e6 bytes take 2 ms of the shared 4 GB/s,
  // so the slower stage (1.5 ms) with 5e6 bytes (1.25 ms) wins.
  p.stages = {{{1e-3, 1, 0, 4e6}, {1.5e-3, 1, 0, 1e6}}, {{1e-3, 1, 0, 4e6}}};
  p.dsp_budget = 10;
  p.bram_budget = 10;
  p.bandwidth = 4e9;
  for (auto search : {McBottleneckSearch::bisection, McBottleneckSearch::milp}) {
    p.bottleneck_search = search;
    const McSolution s = solve_multi_choice(p);
    EXPECT_EQ(s.choice[0], 1);
    EXPECT_NEAR(s.bottleneck, 1.5e-3, 1e-12);
    EXPECT_EQ(brute_force(p)->bottleneck, s.bottleneck);
  }
}

TEST(FpgaIlp, DominatedOptionsAreDroppedWithoutChangingTheAnswer) {
  McProblem p;
  p.stages = {{{1e-3, 4, 1, 0}, {1e-3, 5, 1, 0}, {2e-3, 2, 1, 0}, {1e-3, 4, 1, 0}}, {{3e-3, 1, 1, 0}, {1e-3, 3, 1, 0}}};
  p.dsp_budget = 7;
  p.bram_budget = 2;
  const McSolution s = solve_multi_choice(p);
  EXPECT_EQ(s.options_total, 6);
  EXPECT_EQ(s.options_kept, 4);  // option 1 is worse than 0, option 3 a copy of 0
  EXPECT_NEAR(s.bottleneck, brute_force(p)->bottleneck, 1e-15);
  EXPECT_NEAR(s.bottleneck, 1e-3, 1e-15);  // options 0 and 1: 4 + 3 DSPs, 1 + 1 BRAM
}

TEST(FpgaIlp, InfeasibleBudgetsNameTheBudgetAndTheMinimum) {
  McProblem p;
  p.what = "target zcu";
  p.stages = {{{1e-3, 4, 3, 0}, {2e-3, 2, 5, 0}}, {{1e-3, 3, 2, 0}, {2e-3, 1, 6, 0}}};
  p.dsp_budget = 2;
  p.bram_budget = 100;
  std::string e = test::error_of([&] { solve_multi_choice(p); });
  EXPECT_TRUE(test::contains(e, "target zcu")) << e;
  EXPECT_TRUE(test::contains(e, "dsp = 2")) << e;
  EXPECT_TRUE(test::contains(e, "needs 3 DSPs")) << e;
  p.dsp_budget = 100;
  p.bram_budget = 4;
  e = test::error_of([&] { solve_multi_choice(p); });
  EXPECT_TRUE(test::contains(e, "bram18k = 4")) << e;
  EXPECT_TRUE(test::contains(e, "needs 5 BRAM18K")) << e;
  // Each budget alone is met (3 DSPs, 5 BRAM) but not both at once.
  p.dsp_budget = 4;
  p.bram_budget = 6;
  ASSERT_FALSE(brute_force(p));
  e = test::error_of([&] { solve_multi_choice(p); });
  EXPECT_TRUE(test::contains(e, "no design fits both budgets dsp = 4 and bram18k = 6")) << e;
}

}  // namespace
}  // namespace hwnas
