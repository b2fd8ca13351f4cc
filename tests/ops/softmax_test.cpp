#include "ops/softmax.h"

#include <gtest/gtest.h>

#include <cmath>

#include "tests/test_util.h"

using namespace hwnas;
using hwnas::test::all_close;
using hwnas::test::grad_ok;
using hwnas::test::param;

namespace {

// Softmax along `dim` by logical indexing, in double.
Tensor ref_softmax(const Tensor& x, int64_t dim, bool log) {
  const Tensor xc = x.contiguous();
  const auto v = xc.to_vector();
  const int64_t c = x.size(dim);
  int64_t inner = 1;
  for (int64_t d = dim + 1; d < x.dim(); ++d) inner *= x.size(d);
  const int64_t outer = x.numel() / (c * inner);
  std::vector<float> r(v.size());
  for (int64_t o = 0; o < outer; ++o)
    for (int64_t j = 0; j < inner; ++j) {
      auto at = [&](int64_t k) { return o * c * inner + k * inner + j; };
      double m = -1e300, s = 0;
      for (int64_t k = 0; k < c; ++k) m = std::max(m, static_cast<double>(v[at(k)]));
      for (int64_t k = 0; k < c; ++k) s += std::exp(v[at(k)] - m);
      for (int64_t k = 0; k < c; ++k)
        r[at(k)] = static_cast<float>(log ? v[at(k)] - m - std::log(s) : std::exp(v[at(k)] - m) / s);
    }
  return Tensor::from_vector(r, x.shape());
}

}  // namespace

TEST(Softmax, EveryDimOfA3DTensor) {
  Tensor x = test::randn({3, 4, 5}, 1, 3.f);
  for (int64_t d = 0; d < 3; ++d) {
    EXPECT_TRUE(all_close(softmax(Variable(x), d).data(), ref_softmax(x, d, false), 1e-6f, 1e-5f)) << d;
    EXPECT_TRUE(all_close(log_softmax(Variable(x), d).data(), ref_softmax(x, d, true), 1e-5f, 1e-5f)) << d;
  }
  EXPECT_TRUE(all_close(softmax(Variable(x), -1).data(), ref_softmax(x, 2, false), 1e-6f, 1e-5f));
}

TEST(Softmax, NumericallyStableForLargeLogits) {
  Tensor x = Tensor::from_vector({1000.f, 1001.f, 999.f, -1000.f, -1001.f, -999.f}, {2, 3});
  Tensor y = softmax(Variable(x)).data();
  Tensor l = log_softmax(Variable(x)).data();
  for (float v : y.to_vector()) EXPECT_TRUE(std::isfinite(v));
  EXPECT_TRUE(all_close(y, ref_softmax(x, 1, false), 1e-6f, 1e-5f));
  EXPECT_TRUE(all_close(l, ref_softmax(x, 1, true), 1e-5f, 1e-5f));
}

TEST(Softmax, ChannelsLastAndLongRows) {
  Tensor x = test::randn({2, 7, 3, 5}, 2, 2.f);
  Tensor xcl = x.contiguous(MemoryFormat::channels_last);
  for (int64_t d = 0; d < 4; ++d) {
    Tensor y = softmax(Variable(xcl), d).data();
    EXPECT_TRUE(y.is_channels_last());
    Tensor ref = ref_softmax(x, d, false);
    EXPECT_TRUE(all_close(y, ref, 1e-6f, 1e-5f)) << d;
  }
  // Non-innermost dim with more than one column block, and many rows (threaded).
  Tensor wide = test::randn({3, 600}, 3);
  EXPECT_TRUE(all_close(softmax(Variable(wide), 0).data(), ref_softmax(wide, 0, false), 1e-6f, 1e-5f));
  Tensor rows = test::randn({2000, 33}, 4);
  EXPECT_TRUE(all_close(log_softmax(Variable(rows), 1).data(), ref_softmax(rows, 1, true), 1e-5f, 1e-5f));
  // Non-contiguous input.
  Tensor t = test::randn({5, 4}, 5).transpose(0, 1);
  EXPECT_TRUE(all_close(softmax(Variable(t), 1).data(), ref_softmax(t, 1, false), 1e-6f, 1e-5f));
  // A size-1 dim.
  EXPECT_TRUE(all_close(softmax(Variable(test::randn({3, 1}, 6)), 1).data(), Tensor::ones({3, 1})));
}

TEST(Softmax, Gradcheck) {
  for (int64_t d : {0, 1, -1}) {
    Variable x = param(test::randn({3, 4, 2}, 7));
    EXPECT_TRUE(grad_ok([d](const std::vector<Variable>& in) { return softmax(in[0], d); }, {x})) << d;
    EXPECT_TRUE(grad_ok([d](const std::vector<Variable>& in) { return log_softmax(in[0], d); }, {x})) << d;
  }
  Variable xcl = param(test::randn({2, 3, 2, 2}, 8).contiguous(MemoryFormat::channels_last));
  EXPECT_TRUE(grad_ok([](const std::vector<Variable>& in) { return softmax(in[0], 1); }, {xcl}));
  // A contiguous upstream gradient into a channels_last output.
  Variable p = param(test::randn({2, 3, 2, 2}, 9).contiguous(MemoryFormat::channels_last));
  Variable y = log_softmax(p, 1);
  y.backward(Tensor::ones({2, 3, 2, 2}));
  // d/dx sum_c log_softmax = 1 - C * softmax.
  auto g = p.grad().to_vector(), s = ref_softmax(p.data(), 1, false).to_vector();
  for (size_t i = 0; i < g.size(); ++i) EXPECT_NEAR(g[i], 1.f - 3.f * s[i], 1e-5);
}

TEST(Softmax, BadDimIsAnError) {
  EXPECT_THROW(softmax(Variable(test::randn({2, 3})), 2), Error);
  EXPECT_THROW(log_softmax(Variable(test::randn({2, 3})), -3), Error);
}
