#include <gtest/gtest.h>

#include "hw_targets/predictor_metrics.h"
#include "hw_targets/predictor_mlp.h"
#include "nas/builtin_spaces.h"
#include "ops/activation.h"
#include "ops/reduce.h"
#include "ops/softmax.h"
#include "tests/test_util.h"

using namespace hwnas;
using test::grad_ok;

namespace {

// Latencies with an interaction (a cost when two chosen ops are both expensive), so that an
// MLP has something beyond the additive part to learn.
void synthetic(size_t n, uint64_t seed, std::vector<Arch>& archs, std::vector<double>& y) {
  const SearchSpace& s = fbnet_space();
  const ArchEncoding enc(s);
  Generator g(seed), cg(99);
  std::vector<double> coef(198);
  for (double& c : coef) c = 0.05 + 0.2 * cg.uniform();
  for (size_t i = 0; i < n; ++i) {
    archs.push_back(sample_arch(s, g));
    const auto act = enc.active(archs.back());
    double v = 1.0;
    for (size_t j : act) v += coef[j];
    v += 0.5 * coef[act[4]] * coef[act[5]] / 0.04;
    y.push_back(v);
  }
}

MlpOptions small_options() {
  MlpOptions o;
  o.hidden = 16;
  o.steps = 400;
  o.batch = 64;
  o.seed = 3;
  return o;
}

}  // namespace

TEST(MlpPredictor, LearnsHeldOutRanking) {
  std::vector<Arch> archs, test_archs;
  std::vector<double> y, test_y;
  synthetic(600, 1, archs, y);
  synthetic(300, 2, test_archs, test_y);
  const auto p = MlpPredictor::fit(fbnet_space(), archs, y, small_options());
  EXPECT_GT(kendall_tau(p->predict(test_archs), test_y), 0.85);
  EXPECT_LT(mape(p->predict(test_archs), test_y), 5.0);
  // The batched path and the one-arch path agree.
  EXPECT_NEAR(p->predict(test_archs[7]), p->predict(test_archs)[7], 1e-9);
}

TEST(MlpPredictor, SoftPredictionAtOneHotEqualsPredict) {
  std::vector<Arch> archs;
  std::vector<double> y;
  synthetic(200, 4, archs, y);
  const auto p = MlpPredictor::fit(fbnet_space(), archs, y, small_options());
  for (int i = 0; i < 3; ++i) {
    const auto oh = p->encoding().one_hot(archs[i]);
    const Variable x(Tensor::from_vector(std::vector<float>(oh.begin(), oh.end()), {22, 9}));
    EXPECT_NEAR(p->predict_soft(x).item(), p->predict(archs[i]), 1e-4 * p->predict(archs[i]));
  }
}

TEST(MlpPredictor, GradientWithRespectToSoftEncoding) {
  std::vector<Arch> archs;
  std::vector<double> y;
  synthetic(200, 5, archs, y);
  const auto p = MlpPredictor::fit(fbnet_space(), archs, y, small_options());
  // Probabilities as a DNAS makes them: a softmax over each layer's logits.
  const Variable logits(test::randn({22, 9}, 17), true);
  auto f = [&](const std::vector<Variable>& in) { return sum(p->predict_soft(softmax(in[0], 1))); };
  EXPECT_TRUE(grad_ok(f, {logits}));
  // And directly on the probabilities, including a batch of two encodings.
  const Variable probs(softmax(Variable(test::randn({2, 198}, 18)), 1).data(), true);
  EXPECT_TRUE(grad_ok([&](const std::vector<Variable>& in) { return p->predict_soft(in[0]); }, {probs}));
}
