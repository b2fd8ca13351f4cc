#include "ops/reduce.h"

#include <gtest/gtest.h>

#include "tests/test_util.h"

using namespace hwnas;
using hwnas::test::all_close;
using hwnas::test::grad_ok;
using hwnas::test::param;

namespace {

// Plain loops over a contiguous [2, 3, 4] tensor.
Tensor ref_sum_dim(const Tensor& x, int64_t dim) {
  Shape out = x.shape();
  out.erase(out.begin() + dim);
  Tensor r = Tensor::zeros(out);
  for (int64_t i = 0; i < x.size(0); ++i)
    for (int64_t j = 0; j < x.size(1); ++j)
      for (int64_t k = 0; k < x.size(2); ++k) {
        std::vector<int64_t> o = {i, j, k};
        o.erase(o.begin() + dim);
        r.data<float>()[o[0] * out[1] + o[1]] += x.at({i, j, k});
      }
  return r;
}

}  // namespace

TEST(Reduce, SumAndMeanOverAll) {
  Tensor x = test::randn({2, 3, 4}, 1);
  double s = 0;
  for (float v : x.to_vector()) s += v;
  Variable ys = sum(Variable(x)), ym = mean(Variable(x));
  EXPECT_EQ(ys.shape(), Shape{});
  EXPECT_NEAR(ys.item(), s, 1e-4);
  EXPECT_NEAR(ym.item(), s / 24, 1e-5);
}

TEST(Reduce, OverDimsWithKeepdim) {
  Tensor x = test::randn({2, 3, 4}, 2);
  for (int64_t d = 0; d < 3; ++d) {
    Tensor r = ref_sum_dim(x, d);
    EXPECT_TRUE(all_close(sum(Variable(x), {d}).data(), r));
    EXPECT_TRUE(all_close(sum(Variable(x), {d - 3}).data(), r));  // negative dims
    Tensor m = mean(Variable(x), {d}, true).data();
    Shape keep = x.shape();
    keep[d] = 1;
    EXPECT_EQ(m.shape(), keep);
    auto mv = m.to_vector(), rv = r.to_vector();
    for (size_t i = 0; i < mv.size(); ++i) EXPECT_NEAR(mv[i], rv[i] / x.size(d), 1e-5);
  }
  // Two dims at once: [2, 3, 4] over {0, 2} -> [3].
  Tensor r02 = ref_sum_dim(ref_sum_dim(x, 2).unsqueeze(2), 0).squeeze(1);
  EXPECT_TRUE(all_close(sum(Variable(x), {0, 2}).data(), r02));
  EXPECT_EQ(sum(Variable(x), {2, 0}, true).shape(), (Shape{1, 3, 1}));
  // Reducing a size-1 dim copies (never aliases the input).
  Tensor one = test::randn({3, 1}, 3);
  Tensor r1 = sum(Variable(one), {1}).data();
  EXPECT_NE(r1.storage(), one.storage());
  EXPECT_TRUE(all_close(r1, one.reshape({3})));
}

TEST(Reduce, ChannelsLastInput) {
  Tensor x = test::randn({2, 5, 3, 4}, 4);
  Tensor xcl = x.contiguous(MemoryFormat::channels_last);
  EXPECT_TRUE(all_close(mean(Variable(xcl), {0, 2, 3}).data(), mean(Variable(x), {0, 2, 3}).data(), 1e-5f));
  Variable p = param(xcl);
  Variable y = sum(p, {1});
  y.backward(Tensor::ones({2, 3, 4}));
  EXPECT_TRUE(p.grad().is_channels_last());
  EXPECT_TRUE(all_close(p.grad(), Tensor::ones({2, 5, 3, 4})));
}

TEST(Reduce, Gradcheck) {
  Variable x = param(test::randn({2, 3, 4}, 5));
  EXPECT_TRUE(grad_ok([](const std::vector<Variable>& in) { return sum(in[0]); }, {x}));
  EXPECT_TRUE(grad_ok([](const std::vector<Variable>& in) { return mean(in[0]); }, {x}));
  EXPECT_TRUE(grad_ok([](const std::vector<Variable>& in) { return sum(in[0], {1}); }, {x}));
  EXPECT_TRUE(grad_ok([](const std::vector<Variable>& in) { return mean(in[0], {0, 2}, true); }, {x}));
  EXPECT_TRUE(grad_ok([](const std::vector<Variable>& in) { return mean(in[0], {-1}); }, {x}));
}

TEST(Reduce, BadDimsAreErrors) {
  Variable x(test::randn({2, 3}, 6));
  EXPECT_THROW(sum(x, {2}), Error);
  EXPECT_THROW(sum(x, {-3}), Error);
  try {
    mean(x, {1, -1});
    FAIL() << "expected an error";
  } catch (const Error& e) {
    EXPECT_NE(std::string(e.what()).find("repeated"), std::string::npos) << e.what();
  }
}
