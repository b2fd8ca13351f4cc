#include "ops/activation.h"

#include <gtest/gtest.h>

#include <cmath>
#include <limits>

#include "tests/test_util.h"

using namespace hwnas;
using hwnas::test::all_close;
using hwnas::test::grad_ok;
using hwnas::test::param;

namespace {

const Activation kAll[] = {Activation::relu,     Activation::relu6,   Activation::hswish,
                           Activation::hsigmoid, Activation::sigmoid, Activation::swish};

double ref_fwd(Activation a, double x) {
  const double r6 = std::min(std::max(x + 3.0, 0.0), 6.0);
  switch (a) {
    case Activation::none: return x;
    case Activation::relu: return x > 0 ? x : 0;
    case Activation::relu6: return std::min(std::max(x, 0.0), 6.0);
    case Activation::hswish: return x * r6 / 6.0;
    case Activation::hsigmoid: return r6 / 6.0;
    case Activation::sigmoid: return 1.0 / (1.0 + std::exp(-x));
    case Activation::swish: return x / (1.0 + std::exp(-x));
  }
  return 0;
}

// PyTorch's derivative conventions, kinks included.
double ref_grad(Activation a, double x) {
  const double s = 1.0 / (1.0 + std::exp(-x));
  switch (a) {
    case Activation::none: return 1;
    case Activation::relu: return x > 0 ? 1 : 0;
    case Activation::relu6: return (x > 0 && x < 6) ? 1 : 0;
    case Activation::hswish: return x < -3 ? 0 : (x <= 3 ? (2 * x + 3) / 6 : 1);
    case Activation::hsigmoid: return (x > -3 && x < 3) ? 1.0 / 6 : 0;
    case Activation::sigmoid: return s * (1 - s);
    case Activation::swish: return s + x * s * (1 - s);
  }
  return 0;
}

Tensor apply_ref(Activation a, const Tensor& x) {
  auto v = x.to_vector();
  for (auto& e : v) e = static_cast<float>(ref_fwd(a, e));
  return Tensor::from_vector(v, x.shape());
}

// Random values kept 0.05 away from every kink so finite differences are smooth.
Tensor away_from_kinks(const Shape& s, uint64_t seed) {
  auto v = test::randn(s, seed, 4.f).to_vector();
  for (auto& e : v)
    for (float k : {-3.f, 0.f, 3.f, 6.f})
      if (std::fabs(e - k) < 0.05f) e = k + 0.1f;
  return Tensor::from_vector(v, s);
}

}  // namespace

TEST(Activation, ForwardMatchesReferenceIncludingKinks) {
  std::vector<float> v = {-100.f, -7.f, -3.f, -2.5f, -1e-3f, 0.f, 1e-3f, 0.5f, 3.f, 5.99f, 6.f, 6.5f, 40.f, 100.f};
  Tensor x = Tensor::from_vector(v, {static_cast<int64_t>(v.size())});
  for (Activation a : kAll) {
    Variable y = activate(Variable(x), a);
    EXPECT_TRUE(all_close(y.data(), apply_ref(a, x), 1e-6f, 1e-5f)) << activation_name(a);
  }
  Tensor r = test::randn({3, 5, 7}, 2, 5.f);
  for (Activation a : kAll) EXPECT_TRUE(all_close(activate(Variable(r), a).data(), apply_ref(a, r), 1e-6f, 1e-5f));
}

TEST(Activation, BackwardKernelFollowsPyTorchAtKinks) {
  std::vector<float> v = {-4.f, -3.f, -1.f, 0.f, 2.f, 3.f, 4.f, 6.f, 7.f};
  const int64_t n = static_cast<int64_t>(v.size());
  std::vector<float> gy(n, 2.f), gx(n);
  for (Activation a : kAll) {
    activation_backward(a, v.data(), gy.data(), gx.data(), n);
    for (int64_t i = 0; i < n; ++i)
      EXPECT_NEAR(gx[i], 2.0 * ref_grad(a, v[i]), 1e-5) << activation_name(a) << " at x = " << v[i];
  }
  activation_backward(Activation::none, v.data(), gy.data(), gx.data(), n);
  EXPECT_EQ(gx, gy);
}

TEST(Activation, GradcheckAwayFromKinks) {
  for (Activation a : kAll) {
    Variable x = param(away_from_kinks({2, 3, 4}, 3));
    EXPECT_TRUE(grad_ok([a](const std::vector<Variable>& in) { return activate(in[0], a); }, {x}))
        << activation_name(a);
  }
}

TEST(Activation, ChannelsLastKeepsLayout) {
  Tensor x = away_from_kinks({2, 5, 3, 4}, 4).contiguous(MemoryFormat::channels_last);
  for (Activation a : kAll) {
    Variable xv = param(x);
    Variable y = activate(xv, a);
    EXPECT_TRUE(y.data().is_channels_last());
    EXPECT_TRUE(all_close(y.data(), apply_ref(a, x), 1e-6f, 1e-5f));
    // A contiguous upstream gradient against a channels_last input.
    Tensor gy = test::randn({2, 5, 3, 4}, 5);
    y.backward(gy);
    auto xv_ = x.to_vector(), gv = gy.to_vector(), gx = xv.grad().to_vector();
    for (size_t i = 0; i < gx.size(); ++i) EXPECT_NEAR(gx[i], gv[i] * ref_grad(a, xv_[i]), 1e-5);
  }
}

TEST(Activation, NonContiguousInput) {
  Tensor base = test::randn({4, 6}, 6, 4.f);
  Tensor x = base.transpose(0, 1).slice(0, 0, 6, 2);  // strided view
  for (Activation a : kAll) EXPECT_TRUE(all_close(activate(Variable(x), a).data(), apply_ref(a, x), 1e-6f, 1e-5f));
}

TEST(Activation, InPlaceAndLargeKernels) {
  // Above the parallel threshold, and in place (y == x).
  Tensor x = test::randn({70001}, 7, 5.f);
  for (Activation a : kAll) {
    Tensor y = x.clone();
    activation_forward(a, y.data<float>(), y.data<float>(), y.numel());
    EXPECT_TRUE(all_close(y, apply_ref(a, x), 1e-6f, 1e-5f)) << activation_name(a);
    Tensor g = Tensor::ones({70001});
    activation_backward(a, x.data<float>(), g.data<float>(), g.data<float>(), g.numel());
    auto xv = x.to_vector(), gv = g.to_vector();
    int bad = 0;
    for (size_t i = 0; i < gv.size(); ++i) bad += std::fabs(gv[i] - ref_grad(a, xv[i])) > 1e-5;
    EXPECT_EQ(bad, 0) << activation_name(a);
  }
}

TEST(Activation, NamesRoundTripAndErrors) {
  for (Activation a : kAll) EXPECT_EQ(activation_from_name(activation_name(a)), a);
  EXPECT_EQ(activation_from_name("none"), Activation::none);
  try {
    activation_from_name("gelu");
    FAIL() << "expected an error";
  } catch (const Error& e) {
    EXPECT_NE(std::string(e.what()).find("gelu"), std::string::npos) << e.what();
  }
  Variable x(test::randn({3}));
  EXPECT_EQ(activate(x, Activation::none).impl(), x.impl());
  EXPECT_THROW(relu(Variable(Tensor::zeros({2}, DType::i64))), Error);
}

TEST(Activation, NaNPropagates) {
  const float nan = std::numeric_limits<float>::quiet_NaN();
  for (Activation a : kAll) {
    float y = 0.f;
    activation_forward(a, &nan, &y, 1);
    EXPECT_TRUE(std::isnan(y)) << activation_name(a);
  }
}
