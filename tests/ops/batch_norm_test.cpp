#include "ops/batch_norm.h"

#include <gtest/gtest.h>

#include <algorithm>
#include <cmath>

#include "ops/shape_ops.h"
#include "tests/test_util.h"

using namespace hwnas;
using test::all_close;
using test::grad_ok;
using test::randn;

namespace {

float ref_act(Activation a, float z) {
  auto r6 = [](float v) { return std::min(std::max(v, 0.f), 6.f); };
  switch (a) {
    case Activation::none: return z;
    case Activation::relu: return std::max(z, 0.f);
    case Activation::relu6: return r6(z);
    case Activation::hswish: return z * r6(z + 3.f) / 6.f;
    case Activation::hsigmoid: return r6(z + 3.f) / 6.f;
    case Activation::sigmoid: return 1.f / (1.f + std::exp(-z));
    case Activation::swish: return z / (1.f + std::exp(-z));
  }
  return z;
}

float ref_act_grad(Activation a, float z) {
  switch (a) {
    case Activation::relu: return z > 0.f ? 1.f : 0.f;
    case Activation::relu6: return z > 0.f && z < 6.f ? 1.f : 0.f;
    case Activation::hswish: return z < -3.f ? 0.f : z > 3.f ? 1.f : (2.f * z + 3.f) / 6.f;
    case Activation::hsigmoid: return z > -3.f && z < 3.f ? 1.f / 6.f : 0.f;
    default: return 1.f;
  }
}

struct RefOut {
  Tensor y;
  std::vector<double> mean, var;  // batch mean, biased variance
};

// Naive batch norm over dim 1 with plain loops in logical order (any rank >= 2).
RefOut ref_bn(const Tensor& x, const std::vector<float>& gamma, const std::vector<float>& beta, bool training,
              const std::vector<float>& rm, const std::vector<float>& rv, float eps, Activation act) {
  const Shape& s = x.shape();
  const int64_t n = s[0], c = s[1], inner = x.numel() / (n * c);
  const std::vector<float> v = x.to_vector();
  auto at = [&](int64_t i, int64_t j, int64_t k) { return v[(i * c + j) * inner + k]; };
  RefOut r;
  r.mean.assign(c, 0.0);
  r.var.assign(c, 0.0);
  for (int64_t j = 0; j < c; ++j) {
    for (int64_t i = 0; i < n; ++i)
      for (int64_t k = 0; k < inner; ++k) r.mean[j] += at(i, j, k);
    r.mean[j] /= n * inner;
    for (int64_t i = 0; i < n; ++i)
      for (int64_t k = 0; k < inner; ++k) r.var[j] += (at(i, j, k) - r.mean[j]) * (at(i, j, k) - r.mean[j]);
    r.var[j] /= n * inner;
  }
  std::vector<float> out(v.size());
  for (int64_t i = 0; i < n; ++i)
    for (int64_t j = 0; j < c; ++j) {
      const double m = training ? r.mean[j] : rm[j], var = training ? r.var[j] : rv[j];
      for (int64_t k = 0; k < inner; ++k) {
        const double z = (at(i, j, k) - m) / std::sqrt(var + eps) * gamma[j] + beta[j];
        out[(i * c + j) * inner + k] = ref_act(act, static_cast<float>(z));
      }
    }
  r.y = Tensor::from_vector(out, s);
  return r;
}

Tensor to_channels_last(const Tensor& t) { return t.contiguous(MemoryFormat::channels_last); }

std::vector<float> vec(const Tensor& t) { return t.to_vector(); }

}  // namespace

TEST(BatchNorm, TrainOutputAndRunningStatsMatchReference) {
  for (bool cl : {false, true}) {
    Tensor x = randn({3, 5, 4, 3}, 11, 2.f);
    Tensor xin = cl ? to_channels_last(x) : x;
    Tensor w = randn({5}, 12), b = randn({5}, 13);
    Tensor rm = randn({5}, 14), rv = Tensor::full({5}, 2.f);
    const std::vector<float> rm0 = vec(rm), rv0 = vec(rv);
    BatchNormOptions o;
    o.momentum = 0.3f;
    Variable y = batch_norm(Variable(xin), Variable(w), Variable(b), rm, rv, o);
    RefOut r = ref_bn(x, vec(w), vec(b), true, {}, {}, o.eps, Activation::none);
    EXPECT_TRUE(all_close(y.data(), r.y, 1e-4f, 1e-4f)) << "channels_last " << cl;
    EXPECT_EQ(y.data().is_channels_last(), cl);
    if (!cl) EXPECT_TRUE(y.data().is_contiguous());
    const double cnt = 3 * 4 * 3;
    for (int j = 0; j < 5; ++j) {
      EXPECT_NEAR(rm.at({j}), 0.7 * rm0[j] + 0.3 * r.mean[j], 1e-5);
      EXPECT_NEAR(rv.at({j}), 0.7 * rv0[j] + 0.3 * r.var[j] * cnt / (cnt - 1), 1e-4);
    }
  }
}

TEST(BatchNorm, LargeMeanStaysAccurate) {
  Tensor x = randn({8, 3, 5, 5}, 21);
  auto v = x.to_vector();
  for (auto& e : v) e = 1000.f + 0.5f * e;
  Tensor big = to_channels_last(Tensor::from_vector(v, x.shape()));
  BatchNormOptions o;
  Variable y = batch_norm(Variable(big), Variable(), Variable(), Tensor(), Tensor(), o);
  RefOut r = ref_bn(big, std::vector<float>(3, 1.f), std::vector<float>(3, 0.f), true, {}, {}, o.eps, Activation::none);
  EXPECT_TRUE(all_close(y.data(), r.y, 2e-3f, 2e-3f));
}

TEST(BatchNorm, EvalUsesRunningStatsAndLeavesThemAlone) {
  for (int64_t dims : {2, 4}) {
    Shape s = dims == 2 ? Shape{6, 7} : Shape{2, 7, 3, 3};
    Tensor x = randn(s, 31);
    Tensor w = randn({7}, 32), b = randn({7}, 33), rm = randn({7}, 34);
    Generator gen(35);
    Tensor rv = Tensor::uniform({7}, gen, 0.5f, 2.f);
    const std::vector<float> rm0 = vec(rm), rv0 = vec(rv);
    BatchNormOptions o;
    o.training = false;
    Variable y = batch_norm(Variable(dims == 4 ? to_channels_last(x) : x), Variable(w), Variable(b), rm, rv, o);
    RefOut r = ref_bn(x, vec(w), vec(b), false, rm0, rv0, o.eps, Activation::none);
    EXPECT_TRUE(all_close(y.data(), r.y));
    EXPECT_EQ(vec(rm), rm0);
    EXPECT_EQ(vec(rv), rv0);
  }
}

TEST(BatchNorm, FusedActivationsMatchReference) {
  for (Activation a : {Activation::relu, Activation::relu6, Activation::hswish, Activation::hsigmoid,
                       Activation::sigmoid, Activation::swish}) {
    for (bool training : {true, false}) {
      Tensor x = randn({4, 6, 3, 2}, 41, 3.f);
      Tensor w = randn({6}, 42, 2.f), b = randn({6}, 43, 2.f), rm = randn({6}, 44), rv = Tensor::full({6}, 0.7f);
      const std::vector<float> rm0 = vec(rm), rv0 = vec(rv);
      BatchNormOptions o;
      o.training = training;
      o.act = a;
      Variable y = batch_norm(Variable(to_channels_last(x)), Variable(w), Variable(b), rm, rv, o);
      RefOut r = ref_bn(x, vec(w), vec(b), training, rm0, rv0, o.eps, a);
      EXPECT_TRUE(all_close(y.data(), r.y, 1e-4f, 1e-4f)) << activation_name(a) << " training " << training;
    }
  }
}

TEST(BatchNorm, StridedRunningStatsUpdatedInPlaceRestUntouched) {
  // Running stats are every other element of a larger buffer, from offset 2 (a supernet slice).
  Tensor big_m = randn({20}, 51), big_v = Tensor::full({20}, 1.5f);
  const std::vector<float> m0 = vec(big_m), v0 = vec(big_v);
  Tensor rm = big_m.slice(0, 2, 12, 2), rv = big_v.slice(0, 2, 12, 2);
  ASSERT_EQ(rm.size(0), 5);
  Tensor big_w = randn({9}, 52), big_b = randn({9}, 53);
  Variable w(big_w.narrow(0, 1, 5)), b(big_b.narrow(0, 1, 5));  // strided weight views too
  Tensor x = randn({4, 5, 2, 3}, 54);
  BatchNormOptions o;
  Variable y = batch_norm(Variable(to_channels_last(x)), w, b, rm, rv, o);
  RefOut r = ref_bn(x, vec(w.data()), vec(b.data()), true, {}, {}, o.eps, Activation::none);
  EXPECT_TRUE(all_close(y.data(), r.y));
  const std::vector<float> m1 = vec(big_m), v1 = vec(big_v);
  for (int i = 0; i < 20; ++i) {
    const bool in_view = i >= 2 && i < 12 && i % 2 == 0;
    if (!in_view) {
      EXPECT_EQ(m1[i], m0[i]) << i;
      EXPECT_EQ(v1[i], v0[i]) << i;
    } else {
      const int j = (i - 2) / 2;
      EXPECT_NEAR(m1[i], 0.9 * m0[i] + 0.1 * r.mean[j], 1e-5) << i;
      EXPECT_NEAR(v1[i], 0.9 * v0[i] + 0.1 * r.var[j] * 24.0 / 23.0, 1e-5) << i;
    }
  }
}

TEST(BatchNorm, StridedWeightGradientsShapedLikeTheView) {
  Tensor big_w = randn({8}, 61);
  Variable w(big_w.slice(0, 0, 8, 2), true);
  Variable b(randn({4}, 62), true);
  Variable x(randn({3, 4}, 63), true);
  BatchNormOptions o;
  Variable y = batch_norm(x, w, b, Tensor(), Tensor(), o);
  y.backward(Tensor::ones({3, 4}));
  ASSERT_TRUE(w.grad().defined());
  EXPECT_EQ(w.grad().shape(), (Shape{4}));
  // d/dbeta of sum(y) is the count per channel.
  EXPECT_TRUE(all_close(b.grad(), Tensor::full({4}, 3.f)));
}

namespace {
// Gradcheck wrapper: inputs {x, w, b}; x is given NHWC-shaped when `cl` and permuted to an NCHW
// shape with channels_last strides inside f (gradcheck hands over contiguous copies).
GradcheckOptions loose() {
  GradcheckOptions g;
  g.eps = 1e-2f;
  g.atol = 5e-3f;
  g.rtol = 3e-2f;
  return g;
}

void check_grads(const Shape& nchw, bool cl, bool training, Activation act, uint64_t seed) {
  Tensor x = randn(cl ? Shape{nchw[0], nchw[2], nchw[3], nchw[1]} : nchw, seed);
  const int64_t c = nchw[1];
  Tensor rm = randn({c}, seed + 1, 0.3f), rv = Tensor::full({c}, 0.8f);
  auto f = [=](const std::vector<Variable>& in) {
    BatchNormOptions o;
    o.training = training;
    o.act = act;
    Variable xv = cl ? permute(in[0], {0, 3, 1, 2}) : in[0];
    // Fresh copies so running-stat updates from earlier calls don't change the eval output.
    return batch_norm(xv, in[1], in[2], rm.clone(), rv.clone(), o);
  };
  Variable w(randn({c}, seed + 2, 0.5f), true), b(randn({c}, seed + 3, 0.5f), true);
  EXPECT_TRUE(grad_ok(f, {Variable(x, true), w, b}, loose()))
      << shape_str(nchw) << " cl " << cl << " training " << training << " act " << activation_name(act);
}
}  // namespace

TEST(BatchNorm, GradcheckTrain) {
  check_grads({4, 3}, false, true, Activation::none, 70);
  check_grads({2, 3, 2, 3}, false, true, Activation::none, 71);
  check_grads({2, 3, 2, 3}, true, true, Activation::none, 72);
  check_grads({1, 2, 3, 3}, true, true, Activation::none, 73);  // batch 1, spatial > 1
}

TEST(BatchNorm, GradcheckEval) {
  check_grads({4, 3}, false, false, Activation::none, 80);
  check_grads({2, 3, 2, 2}, true, false, Activation::none, 81);
  check_grads({2, 3, 2, 2}, false, false, Activation::none, 82);
}

TEST(BatchNorm, GradcheckFusedActivations) {
  // Smooth activations (kinks of relu-like ones are avoided by the tolerance only when no
  // value lands near them, so they are checked against an explicit reference below).
  check_grads({2, 3, 2, 2}, true, true, Activation::sigmoid, 90);
  check_grads({2, 3, 2, 2}, false, true, Activation::swish, 91);
  check_grads({3, 4}, false, false, Activation::sigmoid, 92);
}

TEST(BatchNorm, ReluFamilyBackwardMatchesChainRule) {
  // dL/dx of act(bn(x)) equals bn's backward applied to gy * act'(z) with z the plain BN output.
  for (Activation a : {Activation::relu, Activation::relu6, Activation::hswish, Activation::hsigmoid}) {
    for (bool training : {true, false}) {
      Tensor x = randn({3, 4, 3, 3}, 100, 2.f);
      Tensor w = randn({4}, 101, 2.f), b = randn({4}, 102, 2.f), gy = randn({3, 4, 3, 3}, 103);
      Tensor rm = randn({4}, 104), rv = Tensor::full({4}, 0.6f);
      BatchNormOptions o;
      o.training = training;
      Variable x1(to_channels_last(x), true), w1(w, true), b1(b, true);
      Variable z = batch_norm(x1, w1, b1, rm.clone(), rv.clone(), o);
      // Upstream gradient through the activation, by the reference formula.
      std::vector<float> zv = z.data().to_vector(), gv = gy.to_vector(), gz(zv.size());
      for (size_t i = 0; i < zv.size(); ++i) gz[i] = gv[i] * ref_act_grad(a, zv[i]);
      z.backward(Tensor::from_vector(gz, x.shape()));
      Variable x2(to_channels_last(x), true), w2(w, true), b2(b, true);
      o.act = a;
      batch_norm(x2, w2, b2, rm.clone(), rv.clone(), o).backward(gy);
      EXPECT_TRUE(all_close(x2.grad(), x1.grad(), 2e-3f, 1e-2f)) << activation_name(a) << " " << training;
      EXPECT_TRUE(all_close(w2.grad(), w1.grad(), 2e-3f, 1e-2f)) << activation_name(a) << " " << training;
      EXPECT_TRUE(all_close(b2.grad(), b1.grad(), 2e-3f, 1e-2f)) << activation_name(a) << " " << training;
    }
  }
}

TEST(BatchNorm, LargeChannelsLastMatchesReferenceMultiThreaded) {
  // Big enough to take the threaded path with several blocks per thread.
  Tensor x = randn({16, 40, 9, 9}, 110);
  Tensor w = randn({40}, 111), b = randn({40}, 112), gy = randn({16, 40, 9, 9}, 113);
  BatchNormOptions o;
  o.act = Activation::relu;
  Variable xv(to_channels_last(x), true);
  Variable y = batch_norm(xv, Variable(w), Variable(b), Tensor(), Tensor(), o);
  EXPECT_TRUE(all_close(y.data(), ref_bn(x, vec(w), vec(b), true, {}, {}, o.eps, o.act).y, 1e-4f, 1e-4f));
  y.backward(gy);
  // Same gradient through the planes (NCHW) path.
  Variable xc(x, true);
  batch_norm(xc, Variable(w), Variable(b), Tensor(), Tensor(), o).backward(gy);
  EXPECT_TRUE(xv.grad().is_channels_last());
  EXPECT_TRUE(all_close(xv.grad(), xc.grad(), 1e-4f, 1e-3f));
}

TEST(BatchNorm, ClearErrors) {
  BatchNormOptions o;
  Variable x(randn({2, 3, 4, 4}, 1));
  try {
    batch_norm(x, Variable(Tensor::ones({4})), Variable(), Tensor(), Tensor(), o);
    FAIL() << "expected an error";
  } catch (const Error& e) {
    EXPECT_NE(std::string(e.what()).find("batch_norm"), std::string::npos) << e.what();
    EXPECT_NE(std::string(e.what()).find("[2, 3, 4, 4]"), std::string::npos) << e.what();
  }
  EXPECT_THROW(batch_norm(Variable(randn({1, 3}, 2)), Variable(), Variable(), Tensor(), Tensor(), o), Error);
  o.training = false;
  EXPECT_THROW(batch_norm(x, Variable(), Variable(), Tensor(), Tensor(), o), Error);
  EXPECT_THROW(batch_norm(Variable(randn({3}, 3)), Variable(), Variable(), Tensor(), Tensor(), o), Error);
}
