#include "ops/loss.h"

#include <gtest/gtest.h>

#include <cmath>

#include "tests/test_util.h"

using namespace hwnas;
using hwnas::test::all_close;
using hwnas::test::grad_ok;
using hwnas::test::param;

namespace {

double ref_ce(const Tensor& x, const std::vector<int64_t>& labels, double eps) {
  const int64_t n = x.size(0), c = x.size(1);
  double total = 0;
  for (int64_t i = 0; i < n; ++i) {
    double m = -1e300, s = 0;
    for (int64_t k = 0; k < c; ++k) m = std::max<double>(m, x.at({i, k}));
    for (int64_t k = 0; k < c; ++k) s += std::exp(x.at({i, k}) - m);
    for (int64_t k = 0; k < c; ++k) {
      const double t = eps / c + (k == labels[i] ? 1 - eps : 0);
      total -= t * (x.at({i, k}) - m - std::log(s));
    }
  }
  return total / n;
}

}  // namespace

TEST(Loss, CrossEntropyMatchesReference) {
  Tensor x = test::randn({5, 7}, 1, 2.f);
  std::vector<int64_t> lab = {0, 6, 3, 3, 1};
  Tensor labels = Tensor::from_vector_i64(lab, {5});
  for (float eps : {0.f, 0.1f, 0.5f})
    EXPECT_NEAR(cross_entropy(Variable(x), labels, eps).item(), ref_ce(x, lab, eps), 1e-5) << eps;
}

TEST(Loss, LabelSmoothingHandComputed) {
  // logits (1, 2, 3), label 2, eps 0.3: target (0.1, 0.1, 0.8), lse = 3.40760596.
  Tensor x = Tensor::from_vector({1.f, 2.f, 3.f}, {1, 3});
  Tensor labels = Tensor::from_vector_i64({2}, {1});
  EXPECT_NEAR(cross_entropy(Variable(x), labels, 0.3f).item(), 3.40760596 - 2.7, 1e-5);
  EXPECT_NEAR(cross_entropy(Variable(x), labels).item(), 0.40760596, 1e-5);
}

TEST(Loss, CrossEntropyGradientIsSoftmaxMinusTargetOverN) {
  Tensor x = test::randn({4, 3}, 2);
  std::vector<int64_t> lab = {2, 0, 1, 2};
  const float eps = 0.2f;
  Variable p = param(x);
  cross_entropy(p, Tensor::from_vector_i64(lab, {4}), eps).backward();
  auto g = p.grad().to_vector();
  for (int64_t i = 0; i < 4; ++i) {
    double s = 0;
    for (int64_t k = 0; k < 3; ++k) s += std::exp(x.at({i, k}));
    for (int64_t k = 0; k < 3; ++k) {
      const double t = eps / 3 + (k == lab[i] ? 1 - eps : 0);
      EXPECT_NEAR(g[i * 3 + k], (std::exp(x.at({i, k})) / s - t) / 4, 1e-6);
    }
  }
  Variable q = param(test::randn({3, 5}, 3));
  Tensor l3 = Tensor::from_vector_i64({4, 0, 2}, {3});
  EXPECT_TRUE(grad_ok([l3](const std::vector<Variable>& in) { return cross_entropy(in[0], l3, 0.1f); }, {q}));
}

TEST(Loss, SoftCrossEntropy) {
  Tensor x = test::randn({3, 4}, 4);
  // Soft targets: a softmax of other random numbers.
  Tensor t = test::randn({3, 4}, 5);
  {
    auto v = t.to_vector();
    for (int i = 0; i < 3; ++i) {
      double s = 0;
      for (int k = 0; k < 4; ++k) s += std::exp(v[i * 4 + k]);
      for (int k = 0; k < 4; ++k) v[i * 4 + k] = static_cast<float>(std::exp(v[i * 4 + k]) / s);
    }
    t = Tensor::from_vector(v, {3, 4});
  }
  double ref = 0;
  for (int64_t i = 0; i < 3; ++i) {
    double m = -1e300, s = 0;
    for (int64_t k = 0; k < 4; ++k) m = std::max<double>(m, x.at({i, k}));
    for (int64_t k = 0; k < 4; ++k) s += std::exp(x.at({i, k}) - m);
    for (int64_t k = 0; k < 4; ++k) ref -= t.at({i, k}) * (x.at({i, k}) - m - std::log(s));
  }
  EXPECT_NEAR(soft_cross_entropy(Variable(x), t).item(), ref / 3, 1e-5);
  EXPECT_TRUE(grad_ok([t](const std::vector<Variable>& in) { return soft_cross_entropy(in[0], t); }, {param(x)}));
  // One-hot targets reproduce the hard-label loss.
  Tensor onehot = Tensor::zeros({3, 4});
  std::vector<int64_t> lab = {1, 3, 0};
  for (int i = 0; i < 3; ++i) onehot.data<float>()[i * 4 + lab[i]] = 1.f;
  EXPECT_NEAR(soft_cross_entropy(Variable(x), onehot).item(),
              cross_entropy(Variable(x), Tensor::from_vector_i64(lab, {3})).item(), 1e-5);
}

TEST(Loss, ManyRowsAndNonContiguousLogits) {
  Tensor x = test::randn({10, 3000}, 6).transpose(0, 1);  // [3000, 10], threaded rows
  std::vector<int64_t> lab(3000);
  for (int64_t i = 0; i < 3000; ++i) lab[i] = (i * 7) % 10;
  EXPECT_NEAR(cross_entropy(Variable(x), Tensor::from_vector_i64(lab, {3000}), 0.1f).item(), ref_ce(x, lab, 0.1),
              1e-4);
}

TEST(Loss, ErrorsNameTheProblem) {
  Tensor x = test::randn({3, 4}, 7);
  try {
    cross_entropy(Variable(x), Tensor::from_vector_i64({0, 9, 1}, {3}));
    FAIL() << "expected an error";
  } catch (const Error& e) {
    const std::string msg = e.what();
    EXPECT_NE(msg.find("label 9"), std::string::npos) << msg;
    EXPECT_NE(msg.find("index 1"), std::string::npos) << msg;
  }
  EXPECT_THROW(cross_entropy(Variable(x), Tensor::from_vector_i64({0, -1, 1}, {3})), Error);
  EXPECT_THROW(cross_entropy(Variable(x), Tensor::from_vector_i64({0, 1}, {2})), Error);
  EXPECT_THROW(cross_entropy(Variable(x), Tensor::zeros({3})), Error);  // f32 labels
  EXPECT_THROW(cross_entropy(Variable(test::randn({3})), Tensor::from_vector_i64({0}, {1})), Error);
  EXPECT_THROW(soft_cross_entropy(Variable(x), Tensor::zeros({3, 5})), Error);
}
