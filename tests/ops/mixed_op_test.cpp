#include "ops/mixed_op.h"

#include <gtest/gtest.h>

#include <algorithm>
#include <cmath>

#include "tests/test_util.h"

using namespace hwnas;
using test::cl;
using test::contains;
using test::all_close;
using test::error_of;
using test::grad_ok;
using test::param;
using test::randn;

namespace {



std::vector<float> naive_softmax(const std::vector<float>& z) {
  double m = z[0], s = 0;
  for (float v : z) m = std::max<double>(m, v);
  for (float v : z) s += std::exp(v - m);
  std::vector<float> y;
  for (float v : z) y.push_back(static_cast<float>(std::exp(v - m) / s));
  return y;
}

}  // namespace

TEST(MixedOpTest, WeightedSumForwardMatchesReference) {
  std::vector<float> w = {0.5f, -1.25f, 2.f};
  Variable wv(Tensor::from_vector(w, {3}));
  // All channels_last (used as they are, layout kept) and mixed layouts (brought to x0's).
  for (int mixed = 0; mixed < 2; ++mixed) {
    std::vector<Tensor> xs = {cl(randn({2, 3, 4, 5}, 1)), cl(randn({2, 3, 4, 5}, 2)), randn({2, 3, 4, 5}, 3)};
    if (!mixed) xs[2] = cl(xs[2]);
    Variable out = weighted_sum({Variable(xs[0]), Variable(xs[1]), Variable(xs[2])}, wv);
    EXPECT_TRUE(out.data().is_channels_last());
    auto o = out.data().to_vector();
    auto a = xs[0].to_vector(), b = xs[1].to_vector(), c = xs[2].to_vector();
    for (size_t i = 0; i < o.size(); ++i) EXPECT_NEAR(o[i], w[0] * a[i] + w[1] * b[i] + w[2] * c[i], 1e-5) << i;
  }
  // Any rank, a single candidate.
  Tensor x = randn({7}, 4);
  EXPECT_TRUE(all_close(weighted_sum({Variable(x)}, Variable(Tensor::from_vector({3.f}, {1}))).data(),
                        Tensor::from_vector([&] {
                          auto v = x.to_vector();
                          for (auto& e : v) e *= 3.f;
                          return v;
                        }(), {7})));
}

TEST(MixedOpTest, WeightedSumGradients) {
  auto f = [](const std::vector<Variable>& in) { return weighted_sum({in[0], in[1], in[2]}, in[3]); };
  EXPECT_TRUE(grad_ok(f, {param(randn({2, 3}, 5)), param(randn({2, 3}, 6)), param(randn({2, 3}, 7)),
                          param(Tensor::from_vector({0.3f, -0.7f, 1.1f}, {3}))}));
  EXPECT_TRUE(grad_ok(f, {param(cl(randn({1, 3, 2, 2}, 8))), param(randn({1, 3, 2, 2}, 9)),
                          param(cl(randn({1, 3, 2, 2}, 10))), param(Tensor::from_vector({0.2f, 0.5f, 0.3f}, {3}))}));
}

TEST(MixedOpTest, WeightedSumGradientsOverManyTiles) {
  // Enough elements for several tiles and threads; reference sums in double.
  const Shape s = {3, 8, 30, 30};
  std::vector<Variable> xs = {param(cl(randn(s, 11))), param(cl(randn(s, 12)))};
  Variable w = param(Tensor::from_vector({0.25f, 0.75f}, {2}));
  Variable out = weighted_sum(xs, w);
  Tensor gy = randn(s, 13);
  out.backward(gy);
  auto g = gy.to_vector();
  for (int i = 0; i < 2; ++i) {
    auto x = xs[i].data().to_vector();
    double dot = 0;
    for (size_t j = 0; j < g.size(); ++j) dot += static_cast<double>(g[j]) * x[j];
    EXPECT_NEAR(w.grad().to_vector()[i], dot, 1e-3 * (1 + std::fabs(dot)));
    EXPECT_TRUE(xs[i].grad().is_channels_last());
    auto gx = xs[i].grad().to_vector();
    const float wi = i ? 0.75f : 0.25f;
    for (size_t j = 0; j < g.size(); j += 97) EXPECT_FLOAT_EQ(gx[j], wi * g[j]);
  }
}

TEST(MixedOpTest, WeightedSumErrors) {
  Variable a(randn({2, 3})), b(randn({3, 2}));
  Variable w2(Tensor::from_vector({0.5f, 0.5f}, {2}));
  EXPECT_TRUE(contains(error_of([&] { weighted_sum({}, w2); }), "at least one candidate"));
  EXPECT_TRUE(contains(error_of([&] { weighted_sum({a, b}, w2); }), "candidate 1 is f32[3, 2]"));
  EXPECT_TRUE(contains(error_of([&] { weighted_sum({a, a, a}, w2); }), "expected f32 [3]"));
  EXPECT_TRUE(contains(error_of([&] { weighted_sum({a, a}, Variable(Tensor::zeros({1, 2}))); }), "expected f32 [2]"));
  EXPECT_TRUE(contains(error_of([&] { weighted_sum({a, Variable()}, w2); }), "candidate 1 is undefined"));
}

TEST(MixedOpTest, GumbelNoiseIsReproducibleAndFinite) {
  Generator g1(7), g2(7), g3(8);
  auto a = sample_gumbel(20000, g1).to_vector();
  EXPECT_EQ(a, sample_gumbel(20000, g2).to_vector());
  EXPECT_NE(a, sample_gumbel(20000, g3).to_vector());
  double mean = 0;
  for (float v : a) {
    ASSERT_TRUE(std::isfinite(v));
    mean += v;
  }
  mean /= a.size();
  EXPECT_NEAR(mean, 0.5772156649, 0.05);  // the Euler-Mascheroni constant; std error ~0.009
}

TEST(MixedOpTest, GumbelSoftmaxMatchesReferenceWithTheSameNoise) {
  std::vector<float> logits = {0.3f, -1.2f, 2.0f, 0.1f, 0.7f};
  const float tau = 0.7f;
  Generator gen(3), noise_gen(3);
  auto y = gumbel_softmax(Variable(Tensor::from_vector(logits, {5})), tau, gen).data().to_vector();
  auto g = sample_gumbel(5, noise_gen).to_vector();
  std::vector<float> z;
  for (int i = 0; i < 5; ++i) z.push_back((logits[i] + g[i]) / tau);
  auto want = naive_softmax(z);
  double total = 0;
  for (int i = 0; i < 5; ++i) {
    EXPECT_NEAR(y[i], want[i], 1e-5);
    total += y[i];
  }
  EXPECT_NEAR(total, 1.0, 1e-5);
  // The generator advanced: the next sample differs.
  EXPECT_NE(gumbel_softmax(Variable(Tensor::from_vector(logits, {5})), tau, gen).data().to_vector(), y);
}

TEST(MixedOpTest, GumbelSoftmaxGradient) {
  for (float tau : {0.5f, 2.f}) {
    EXPECT_TRUE(grad_ok(
        [tau](const std::vector<Variable>& in) {
          Generator g(11);  // a fresh generator per call: every evaluation sees the same noise
          return gumbel_softmax(in[0], tau, g);
        },
        {param(Tensor::from_vector({0.1f, -0.4f, 0.3f, 0.2f}, {4}))}));
  }
}

TEST(MixedOpTest, HardGumbelIsOneHotWithTheSoftGradient) {
  Tensor logits = Tensor::from_vector({0.2f, 1.5f, -0.3f, 0.9f, 0.0f, 1.1f}, {6});
  Tensor gy = Tensor::from_vector({1.f, -2.f, 0.5f, 3.f, -1.f, 0.25f}, {6});
  for (uint64_t seed = 0; seed < 8; ++seed) {
    Generator g_soft(seed), g_hard(seed);
    Variable ls = param(logits), lh = param(logits);
    Variable soft = gumbel_softmax(ls, 0.8f, g_soft);
    Variable hard = gumbel_softmax(lh, 0.8f, g_hard, /*hard=*/true);
    auto s = soft.data().to_vector(), h = hard.data().to_vector();
    const int64_t arg = std::max_element(s.begin(), s.end()) - s.begin();
    for (int64_t i = 0; i < 6; ++i) EXPECT_EQ(h[i], i == arg ? 1.f : 0.f) << seed;
    soft.backward(gy);
    hard.backward(gy);
    EXPECT_TRUE(all_close(lh.grad(), ls.grad(), 0.f, 0.f)) << seed;
  }
}

TEST(MixedOpTest, GumbelSoftmaxErrors) {
  Generator gen(1);
  Variable l(Tensor::from_vector({0.f, 1.f}, {2}));
  EXPECT_TRUE(contains(error_of([&] { gumbel_softmax(l, 0.f, gen); }), "tau must be positive"));
  EXPECT_TRUE(contains(error_of([&] { gumbel_softmax(l, -1.f, gen); }), "tau must be positive"));
  EXPECT_TRUE(contains(error_of([&] { gumbel_softmax(Variable(Tensor::zeros({2, 2})), 1.f, gen); }), "1-D"));
  EXPECT_TRUE(contains(error_of([&] { gumbel_softmax(Variable(Tensor::zeros({0})), 1.f, gen); }), "non-empty"));
}
