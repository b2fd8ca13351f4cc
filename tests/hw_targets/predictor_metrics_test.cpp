#include <gtest/gtest.h>

#include <cmath>

#include "hw_targets/predictor_metrics.h"
#include "tensor/rng.h"
#include "tests/test_util.h"

using namespace hwnas;
using test::contains;
using test::error_of;

namespace {
// Kendall tau-b straight from its definition, all pairs.
double kendall_brute(const std::vector<double>& a, const std::vector<double>& b) {
  double c = 0, d = 0, ta = 0, tb = 0;
  for (size_t i = 0; i < a.size(); ++i)
    for (size_t j = i + 1; j < a.size(); ++j) {
      const double sa = (a[i] > a[j]) - (a[i] < a[j]), sb = (b[i] > b[j]) - (b[i] < b[j]);
      if (sa * sb > 0) c += 1;
      if (sa * sb < 0) d += 1;
      if (sa != 0) ta += 1;
      if (sb != 0) tb += 1;
    }
  return (c - d) / std::sqrt(ta * tb);
}
}  // namespace

TEST(PredictorMetrics, MapeAndWithinByHand) {
  EXPECT_NEAR(mape({11, 9, 10}, {10, 10, 10}), 100.0 * 0.2 / 3, 1e-12);
  // 11 vs 10 is exactly 10% off and counts; 12 (20%) does not; 9.5 (5%) and 10 do.
  EXPECT_DOUBLE_EQ(within_pct({11, 12, 9.5, 10}, {10, 10, 10, 10}, 0.10), 0.75);
  EXPECT_DOUBLE_EQ(within_pct({11, 12, 9.5, 10}, {10, 10, 10, 10}, 0.25), 1.0);
}

TEST(PredictorMetrics, KendallTauBByHand) {
  // Pairs: 3 concordant, 1 discordant, one tied in x, one tied in y: (3 - 1) / sqrt(5 * 5).
  EXPECT_NEAR(kendall_tau({1, 2, 2, 3}, {1, 3, 2, 2}), 0.4, 1e-12);
  EXPECT_NEAR(kendall_tau({1, 2, 3, 4}, {1, 2, 3, 4}), 1.0, 1e-12);
  EXPECT_NEAR(kendall_tau({1, 2, 3, 4}, {4, 3, 2, 1}), -1.0, 1e-12);
  // 5 elements: (1,2,3,4,5) vs (3,4,1,2,5): discordant pairs (1,3),(1,4),(2,3),(2,4) -> (6 - 4) / 10.
  EXPECT_NEAR(kendall_tau({1, 2, 3, 4, 5}, {3, 4, 1, 2, 5}), 0.2, 1e-12);
  EXPECT_EQ(kendall_tau({1, 1, 1}, {1, 2, 3}), 0.0);
}

TEST(PredictorMetrics, KendallMatchesAllPairsWithTies) {
  Generator g(7);
  for (int trial = 0; trial < 5; ++trial) {
    std::vector<double> a, b;
    for (int i = 0; i < 300; ++i) {
      a.push_back(double(g.below(6 + trial * 10)));
      b.push_back(double(g.below(5)) + 0.1 * a.back());
    }
    EXPECT_NEAR(kendall_tau(a, b), kendall_brute(a, b), 1e-12) << "trial " << trial;
  }
}

TEST(PredictorMetrics, SpearmanByHand) {
  // Ranks differ by one in two places: 1 - 6 * 2 / (4 * 15).
  EXPECT_NEAR(spearman({1, 2, 3, 4}, {1, 3, 2, 4}), 0.8, 1e-12);
  // Ties take the average rank: ranks (1, 2.5, 2.5, 4) vs (1, 2, 3, 4), Pearson = sqrt(0.9).
  EXPECT_NEAR(spearman({1, 2, 2, 3}, {10, 20, 30, 40}), std::sqrt(0.9), 1e-12);
  EXPECT_EQ(spearman({2, 2, 2}, {1, 2, 3}), 0.0);
}

TEST(PredictorMetrics, ErrorsNameTheProblem) {
  EXPECT_TRUE(contains(error_of([] { mape({1, 2}, {1}); }), "2 predictions for 1 measurements"));
  EXPECT_TRUE(contains(error_of([] { kendall_tau({}, {}); }), "no samples"));
  EXPECT_TRUE(contains(error_of([] { within_pct({1}, {0}); }), "not positive"));
  const PredictorMetrics m = predictor_metrics({11, 20, 29}, {10, 20, 30});
  EXPECT_EQ(m.n, 3u);
  EXPECT_NEAR(m.kendall_tau, 1.0, 1e-12);
  EXPECT_EQ(metrics_to_json(m).at("n"), 3);
}
