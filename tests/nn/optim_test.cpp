#include <gtest/gtest.h>

#include "nn/optim.h"

using namespace hwnas;

namespace {
Variable scalar_param(float v) { return Variable(Tensor::from_vector({v}, {1}), true); }
void set_grad(Variable& p, float g) { p.mutable_grad() = Tensor::from_vector({g}, {1}); }
}  // namespace

TEST(Sgd, NesterovWithWeightDecayMatchesHandComputedSteps) {
  Variable p = scalar_param(1.f);
  Sgd opt({p}, SgdOptions{0.5f, 0.9f, 0.f, 0.1f, true});
  set_grad(p, 2.f);
  opt.step();
  // g = 2 + 0.1*1 = 2.1; buf = 2.1; d = 2.1 + 0.9*2.1 = 3.99; p = 1 - 0.5*3.99
  EXPECT_NEAR(p.data().item(), -0.995f, 1e-6);
  set_grad(p, 1.f);
  opt.step();
  // g = 1 + 0.1*(-0.995) = 0.9005; buf = 0.9*2.1 + 0.9005 = 2.7905; d = 0.9005 + 0.9*2.7905
  EXPECT_NEAR(p.data().item(), -0.995f - 0.5f * 3.41195f, 1e-5);
}

TEST(Sgd, PlainMomentum) {
  Variable p = scalar_param(1.f);
  Sgd opt({p}, SgdOptions{0.5f, 0.9f, 0.f, 0.f, false});
  set_grad(p, 2.f);
  opt.step();
  EXPECT_NEAR(p.data().item(), 0.f, 1e-7);
  set_grad(p, 1.f);
  opt.step();
  EXPECT_NEAR(p.data().item(), -1.4f, 1e-6);  // buf = 0.9*2 + 1
  ASSERT_EQ(opt.state().size(), 1u);
  EXPECT_NEAR(opt.state()[0].second.item(), 2.8f, 1e-6);
}

TEST(Sgd, ParametersWithoutGradientsAreLeftAlone) {
  Variable p = scalar_param(1.f), q = scalar_param(3.f);
  Sgd opt({p, q}, SgdOptions{0.5f, 0.9f, 0.f, 0.1f, false});
  set_grad(p, 1.f);
  opt.step();
  EXPECT_EQ(q.data().item(), 3.f);
}

TEST(AdamW, FirstStepMatchesHandComputed) {
  Variable p = scalar_param(1.f);
  AdamW opt({p}, AdamWOptions{0.1f, 0.9f, 0.999f, 1e-8f, 0.01f});
  set_grad(p, 2.f);
  opt.step();
  // decay: 1 * (1 - 0.1*0.01) = 0.999; m_hat = 2, v_hat = 4; step = 0.1 * 2 / 2
  EXPECT_NEAR(p.data().item(), 0.899f, 1e-6);
  set_grad(p, -1.f);
  opt.step();
  // m = 0.9*0.2 - 0.1 = 0.08, v = 0.999*0.004 + 0.001 = 0.004996
  const float m_hat = 0.08f / (1 - 0.81f), v_hat = 0.004996f / (1 - 0.998001f);
  const float expect = 0.899f * (1 - 0.001f) - 0.1f * m_hat / (std::sqrt(v_hat) + 1e-8f);
  EXPECT_NEAR(p.data().item(), expect, 1e-5);
}

TEST(Schedule, CosineWithWarmup) {
  EXPECT_FLOAT_EQ(cosine_lr(0, 10, 2, 1.f), 0.5f);
  EXPECT_FLOAT_EQ(cosine_lr(1, 10, 2, 1.f), 1.f);
  EXPECT_FLOAT_EQ(cosine_lr(2, 10, 2, 1.f), 1.f);
  EXPECT_NEAR(cosine_lr(6, 10, 2, 1.f), 0.5f, 1e-6);
  EXPECT_NEAR(cosine_lr(10, 10, 2, 1.f, 0.1f), 0.1f, 1e-6);
  EXPECT_NEAR(cosine_lr(5, 10, 0, 2.f), 1.f, 1e-6);
}
