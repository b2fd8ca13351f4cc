#include <gtest/gtest.h>

#include <cmath>

#include "hw_targets/predictor_additive.h"
#include "hw_targets/predictor_metrics.h"
#include "nas/builtin_spaces.h"
#include "ops/reduce.h"
#include "tests/test_util.h"

using namespace hwnas;

namespace {

struct Synthetic {
  std::vector<Arch> archs;
  std::vector<double> y;
};
// Archs drawn uniformly and latencies from known per-op costs plus Gaussian noise.
Synthetic additive_data(const std::vector<double>& coef, double bias, size_t n, double noise, uint64_t seed) {
  const SearchSpace& s = fbnet_space();
  const ArchEncoding enc(s);
  Generator g(seed);
  Synthetic d;
  for (size_t i = 0; i < n; ++i) {
    d.archs.push_back(sample_arch(s, g));
    double v = bias + noise * g.normal();
    for (size_t j : enc.active(d.archs.back())) v += coef[j];
    d.y.push_back(v);
  }
  return d;
}
std::vector<double> random_costs(uint64_t seed) {
  Generator g(seed);
  std::vector<double> c(198);
  for (double& v : c) v = 0.05 + g.uniform();
  return c;
}
// Costs are defined up to a constant per layer; compare the per-layer centered vectors.
std::vector<double> centered(std::vector<double> c) {
  for (size_t l = 0; l < 22; ++l) {
    double m = 0;
    for (size_t o = 0; o < 9; ++o) m += c[l * 9 + o] / 9;
    for (size_t o = 0; o < 9; ++o) c[l * 9 + o] -= m;
  }
  return c;
}

}  // namespace

TEST(AdditivePredictor, RecoversKnownCostsFromNoiseFreeData) {
  const auto coef = random_costs(3);
  const Synthetic d = additive_data(coef, 2.0, 600, 0.0, 11);
  const auto p = fit_additive(fbnet_space(), d.archs, d.y);
  EXPECT_LE(p->info().at("lambda").get<double>(), 1e-3);  // GCV sees no noise to smooth away
  const auto want = centered(coef), got = centered(p->coef());
  for (size_t j = 0; j < want.size(); ++j) EXPECT_NEAR(got[j], want[j], 1e-3) << "entry " << j;
  const Synthetic test = additive_data(coef, 2.0, 50, 0.0, 12);
  for (size_t i = 0; i < test.archs.size(); ++i) EXPECT_NEAR(p->predict(test.archs[i]), test.y[i], 1e-3);
}

TEST(AdditivePredictor, GcvLambdaIsNearTheBestHeldOutLambda) {
  // Few noisy samples: the lambda GCV picks on the fit samples alone should do about as well on
  // fresh archs as the best lambda of a grid judged on those fresh archs.
  const auto coef = random_costs(4);
  const Synthetic d = additive_data(coef, 2.0, 150, 1.0, 21);
  const Synthetic test = additive_data(coef, 2.0, 2000, 0.0, 22);
  const ArchEncoding enc(fbnet_space());
  const Eigen::MatrixXd x = design_matrix(enc, d.archs), xt = design_matrix(enc, test.archs);
  const Eigen::VectorXd y = Eigen::Map<const Eigen::VectorXd>(d.y.data(), Eigen::Index(d.y.size()));
  const Eigen::VectorXd yt = Eigen::Map<const Eigen::VectorXd>(test.y.data(), Eigen::Index(test.y.size()));
  auto test_mse = [&](const RidgeFit& f) { return ((xt * f.coef).array() + f.bias - yt.array()).square().mean(); };
  const RidgeFit gcv = fit_ridge_gcv(x, y);
  double best = 1e300;
  for (int k = -40; k <= 30; ++k) best = std::min(best, test_mse(fit_ridge_gcv(x, y, {std::pow(10.0, k / 10.0)})));
  EXPECT_GT(gcv.lambda, 1e-1);
  EXPECT_LT(test_mse(gcv), 1.25 * best);
  EXPECT_LT(best, 0.5 * test_mse(fit_ridge_gcv(x, y, {1e-6})));  // a near-zero lambda overfits
}

TEST(AdditivePredictor, RidgeMatchesNormalEquations) {
  // With one lambda given, the fit must be the closed-form ridge solution on centered data.
  Generator g(5);
  Eigen::MatrixXd x(30, 6);
  Eigen::VectorXd y(30);
  for (int i = 0; i < 30; ++i) {
    for (int j = 0; j < 6; ++j) x(i, j) = g.normal();
    y(i) = 1 + x(i, 0) - 2 * x(i, 3) + 0.3 * g.normal();
  }
  const double lam = 0.7;
  const RidgeFit f = fit_ridge_gcv(x, y, {lam});
  const Eigen::MatrixXd xc = x.rowwise() - x.colwise().mean();
  const Eigen::VectorXd yc = y.array() - y.mean();
  const Eigen::VectorXd w = (xc.transpose() * xc + lam * Eigen::MatrixXd::Identity(6, 6)).ldlt().solve(xc.transpose() * yc);
  EXPECT_LT((f.coef - w).norm(), 1e-9);
  EXPECT_NEAR(f.bias, y.mean() - x.colwise().mean().dot(w), 1e-9);
  // GCV from its definition with the explicit hat matrix of the centered problem.
  const Eigen::MatrixXd hat = xc * (xc.transpose() * xc + lam * Eigen::MatrixXd::Identity(6, 6)).inverse() * xc.transpose();
  const double rss = (yc - hat * yc).squaredNorm(), dof = hat.trace();
  EXPECT_NEAR(f.gcv, rss / 30 / std::pow(1 - (dof + 1) / 30, 2), 1e-9);
}

TEST(AdditivePredictor, SoftPredictionIsLinearInTheEncoding) {
  const auto coef = random_costs(6);
  const AdditivePredictor p(fbnet_space(), 1.5, coef);
  const ArchEncoding& enc = p.encoding();
  Generator g(8);
  const Arch a = sample_arch(fbnet_space(), g);
  const auto oh = enc.one_hot(a);
  const Variable x(Tensor::from_vector(std::vector<float>(oh.begin(), oh.end()), {22, 9}), true);
  const Variable y = p.predict_soft(x);
  ASSERT_EQ(y.shape(), (Shape{1}));
  EXPECT_NEAR(y.item(), p.predict(a), 1e-4 * p.predict(a));
  sum(y).backward();
  const auto grad = x.grad().to_vector();
  for (size_t j = 0; j < coef.size(); ++j) EXPECT_NEAR(grad[j], coef[j], 1e-6);
}
