#include <gtest/gtest.h>

#include "autograd/gradcheck.h"
#include "autograd/variable.h"

using namespace hwnas;

namespace {
// A tiny op defined here so that these tests exercise only the autograd engine: y = a * b
// elementwise (same shapes), recorded with its own backward.
Variable times(const Variable& a, const Variable& b) {
  Tensor out = Tensor::empty(a.shape());
  const auto va = a.data().to_vector(), vb = b.data().to_vector();
  for (size_t i = 0; i < va.size(); ++i) out.data<float>()[i] = va[i] * vb[i];
  Tensor ta = a.data(), tb = b.data();
  return make_result(out, "times", {a, b}, [ta, tb](const Tensor& g) -> std::vector<Tensor> {
    Tensor ga = Tensor::empty(g.shape()), gb = Tensor::empty(g.shape());
    const auto vg = g.to_vector(), va = ta.to_vector(), vb = tb.to_vector();
    for (size_t i = 0; i < vg.size(); ++i) {
      ga.data<float>()[i] = vg[i] * vb[i];
      gb.data<float>()[i] = vg[i] * va[i];
    }
    return {ga, gb};
  });
}
Variable total(const Variable& a) {
  float s = 0;
  for (float v : a.data().to_vector()) s += v;
  Shape shape = a.shape();
  return make_result(Tensor::scalar(s), "total", {a},
                     [shape](const Tensor& g) -> std::vector<Tensor> { return {Tensor::full(shape, g.item())}; });
}
}  // namespace

TEST(Autograd, ChainRuleThroughSharedInputs) {
  Variable x(Tensor::from_vector({2, 3}, {2}), true);
  // y = sum(x * x * x) => dy/dx = 3 x^2; x is used three times (a shared weight).
  Variable y = total(times(times(x, x), x));
  y.backward();
  EXPECT_EQ(x.grad().to_vector(), (std::vector<float>{12, 27}));
}

TEST(Autograd, GradientsAccumulateAcrossBackwards) {
  // Two subnets using one weight: gradients add up until zero_grad.
  Variable w(Tensor::from_vector({1, 2}, {2}), true);
  Variable a(Tensor::from_vector({3, 4}, {2}));
  Variable b(Tensor::from_vector({5, 6}, {2}));
  total(times(w, a)).backward();
  total(times(w, b)).backward();
  EXPECT_EQ(w.grad().to_vector(), (std::vector<float>{8, 10}));
  w.zero_grad();
  EXPECT_FALSE(w.grad().defined());
}

TEST(Autograd, NoGradGuardRecordsNothing) {
  Variable x(Tensor::from_vector({1}, {1}), true);
  {
    NoGradGuard g;
    EXPECT_FALSE(grad_enabled());
    Variable y = times(x, x);
    EXPECT_FALSE(y.requires_grad());
    EXPECT_EQ(y.grad_fn(), nullptr);
  }
  EXPECT_TRUE(grad_enabled());
  EXPECT_TRUE(times(x, x).requires_grad());
}

TEST(Autograd, InputsWithoutGradGetNone) {
  Variable x(Tensor::from_vector({1, 2}, {2}), true);
  Variable c(Tensor::from_vector({3, 4}, {2}), false);
  total(times(x, c)).backward();
  EXPECT_FALSE(c.grad().defined());
  EXPECT_EQ(x.grad().to_vector(), (std::vector<float>{3, 4}));
}

TEST(Autograd, SecondBackwardThroughFreedGraphIsAClearError) {
  Variable x(Tensor::from_vector({1, 2}, {2}), true);
  Variable y = total(times(x, x));
  y.backward();
  try {
    y.backward();
    FAIL() << "expected an error";
  } catch (const Error& e) {
    EXPECT_NE(std::string(e.what()).find("second time"), std::string::npos) << e.what();
  }
}

TEST(Autograd, SavedTensorsAreFreedAfterBackward) {
  Variable x(Tensor::from_vector({1, 2}, {2}), true);
  Variable mid = times(x, x);
  std::weak_ptr<Storage> saved = x.data().storage();
  Variable y = total(mid);
  y.backward();
  EXPECT_TRUE(mid.grad_fn()->released);
  EXPECT_FALSE(static_cast<bool>(mid.grad_fn()->backward));
  EXPECT_TRUE(mid.grad_fn()->inputs.empty());
}

TEST(Autograd, RetainGraphAllowsASecondBackward) {
  Variable x(Tensor::from_vector({1, 2}, {2}), true);
  Variable y = total(times(x, x));
  y.backward({}, true);
  y.backward();
  EXPECT_EQ(x.grad().to_vector(), (std::vector<float>{4, 8}));
}

TEST(Autograd, NonScalarBackwardNeedsAGradient) {
  Variable x(Tensor::from_vector({1, 2}, {2}), true);
  EXPECT_THROW(times(x, x).backward(), Error);
}

TEST(Gradcheck, AcceptsACorrectBackwardAndRejectsAWrongOne) {
  Variable x(Tensor::from_vector({0.5f, -1.5f, 2.f}, {3}), true);
  auto good = [](const std::vector<Variable>& v) { return times(v[0], v[0]); };
  EXPECT_TRUE(gradcheck(good, {x}).ok);
  auto wrong = [](const std::vector<Variable>& v) {
    const Variable& a = v[0];
    Tensor out = a.data().clone();
    return make_result(out, "wrong", {a}, [](const Tensor& g) -> std::vector<Tensor> {
      Tensor r = g.clone();
      r.fill_(2.f);  // the true derivative of identity is 1
      return {r};
    });
  };
  auto r = gradcheck(wrong, {x});
  EXPECT_FALSE(r.ok);
  EXPECT_FALSE(r.message.empty());
}
