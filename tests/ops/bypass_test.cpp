#include "ops/bypass.h"

#include <gtest/gtest.h>

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


// Reference: channel c of the result from y when c < k, else from x.
Tensor naive_bypass(const Tensor& y, const Tensor& x, int64_t k) {
  const Shape& s = x.shape();
  std::vector<float> out;
  for (int64_t n = 0; n < s[0]; ++n)
    for (int64_t c = 0; c < s[1]; ++c)
      for (int64_t h = 0; h < s[2]; ++h)
        for (int64_t w = 0; w < s[3]; ++w) out.push_back(c < k ? y.at({n, c, h, w}) : x.at({n, c, h, w}));
  return Tensor::from_vector(out, s);
}


}  // namespace

TEST(BypassTest, ForwardMatchesReferenceInEachLayout) {
  for (bool x_cl : {false, true}) {
    for (bool y_cl : {false, true}) {
      Tensor x = randn({2, 5, 3, 4}, 1), y = randn({2, 3, 3, 4}, 2);
      if (x_cl) x = cl(x);
      if (y_cl) y = cl(y);
      Variable out = channel_bypass(Variable(y), Variable(x), 3);
      EXPECT_EQ(out.data().is_channels_last(), x_cl);
      EXPECT_TRUE(all_close(out.data(), naive_bypass(y, x, 3), 0.f, 0.f)) << x_cl << y_cl;
    }
  }
  // A strided (non-dense) x: a channel slice of a wider channels_last tensor.
  Tensor wide = cl(randn({1, 7, 2, 3}, 3));
  Tensor x = wide.narrow(1, 1, 4), y = randn({1, 1, 2, 3}, 4);
  EXPECT_TRUE(all_close(channel_bypass(Variable(y), Variable(x), 1).data(), naive_bypass(y, x, 1), 0.f, 0.f));
}

TEST(BypassTest, TwoDimensionalInput) {
  Tensor x = randn({3, 4}, 5), y = randn({3, 1}, 6);
  auto out = channel_bypass(Variable(y), Variable(x), 1).data();
  for (int64_t n = 0; n < 3; ++n)
    for (int64_t c = 0; c < 4; ++c) EXPECT_EQ(out.at({n, c}), c < 1 ? y.at({n, c}) : x.at({n, c}));
}

TEST(BypassTest, GradientsSplitByChannel) {
  Variable x = param(cl(randn({2, 4, 3, 3}, 7))), y = param(randn({2, 2, 3, 3}, 8));
  Variable out = channel_bypass(y, x, 2);
  Tensor gy = randn(out.shape(), 9);  // contiguous gradient into a channels_last output
  out.backward(gy);
  EXPECT_TRUE(x.grad().is_channels_last());
  for (int64_t n = 0; n < 2; ++n)
    for (int64_t c = 0; c < 4; ++c)
      for (int64_t h = 0; h < 3; ++h)
        for (int64_t w = 0; w < 3; ++w) {
          EXPECT_EQ(x.grad().at({n, c, h, w}), c < 2 ? 0.f : gy.at({n, c, h, w}));
          if (c < 2) {
            EXPECT_EQ(y.grad().at({n, c, h, w}), gy.at({n, c, h, w}));
          }
        }
  auto f = [](const std::vector<Variable>& in) { return channel_bypass(in[0], in[1], 2); };
  EXPECT_TRUE(grad_ok(f, {param(randn({1, 2, 2, 2}, 10)), param(randn({1, 3, 2, 2}, 11))}));
  EXPECT_TRUE(grad_ok(f, {param(cl(randn({2, 2, 1, 3}, 12))), param(cl(randn({2, 5, 1, 3}, 13)))}));
}

TEST(BypassTest, OnlyTheInputsThatNeedGradientsGetThem) {
  Variable x = param(randn({1, 3, 2, 2}, 14));
  Variable y(randn({1, 1, 2, 2}, 15));  // a constant
  channel_bypass(y, x, 1).backward(Tensor::ones({1, 3, 2, 2}));
  EXPECT_TRUE(all_close(x.grad().narrow(1, 1, 2), Tensor::ones({1, 2, 2, 2}), 0.f, 0.f));
  EXPECT_FALSE(y.grad().defined());
}

TEST(BypassTest, KeepNoneReturnsInputKeepAllReturnsOutput) {
  Variable x = param(cl(randn({2, 3, 2, 2}, 16)));
  // k == 0: the layer is removed; y may be undefined or an empty [N, 0, H, W].
  Variable r0 = channel_bypass(Variable(), x, 0);
  EXPECT_EQ(r0.impl(), x.impl());
  EXPECT_EQ(channel_bypass(Variable(Tensor::empty({2, 0, 2, 2})), x, 0).impl(), x.impl());
  // k == C: the layer's full output.
  Variable y = param(randn({2, 3, 2, 2}, 17));
  Variable r3 = channel_bypass(y, x, 3);
  EXPECT_EQ(r3.impl(), y.impl());
}

TEST(BypassTest, ClearErrors) {
  Variable x(randn({2, 4, 3, 3}, 18));
  Variable y2(randn({2, 2, 3, 3}, 19));
  EXPECT_TRUE(contains(error_of([&] { channel_bypass(y2, x, 5); }), "out of range [0, 4]"));
  EXPECT_TRUE(contains(error_of([&] { channel_bypass(y2, x, -1); }), "out of range"));
  EXPECT_TRUE(contains(error_of([&] { channel_bypass(Variable(), x, 2); }), "only k == 0 may omit y"));
  // Channel count, batch and spatial mismatches name the expected shape.
  EXPECT_TRUE(contains(error_of([&] { channel_bypass(y2, x, 3); }), "expected y [2, 3, 3, 3]"));
  EXPECT_TRUE(contains(error_of([&] { channel_bypass(Variable(randn({1, 2, 3, 3})), x, 2); }), "expected y [2, 2, 3, 3]"));
  EXPECT_TRUE(contains(error_of([&] { channel_bypass(Variable(randn({2, 2, 3, 2})), x, 2); }), "expected y [2, 2, 3, 3]"));
  EXPECT_TRUE(contains(error_of([&] { channel_bypass(y2, Variable(), 2); }), "undefined"));
  EXPECT_TRUE(contains(error_of([&] { channel_bypass(y2, Variable(randn({4})), 2); }), "[N, C, ...]"));
}
