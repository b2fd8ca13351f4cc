#include "ops/channel_mask.h"

#include <gtest/gtest.h>

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



// m[c] = sum_i g[i] * (c < widths[i]), straight from the definition.
std::vector<double> naive_mask(const std::vector<float>& g, const std::vector<int64_t>& widths, int64_t c) {
  std::vector<double> m(c, 0.0);
  for (int64_t ch = 0; ch < c; ++ch)
    for (size_t i = 0; i < widths.size(); ++i)
      if (ch < widths[i]) m[ch] += g[i];
  return m;
}

// Elements of a tensor with its logical channel index (dim 1), row-major.
std::vector<int64_t> channel_of(const Shape& s) {
  int64_t inner = 1;
  for (size_t d = 2; d < s.size(); ++d) inner *= s[d];
  std::vector<int64_t> ch(shape_numel(s));
  for (size_t i = 0; i < ch.size(); ++i) ch[i] = (static_cast<int64_t>(i) / inner) % s[1];
  return ch;
}

// Checks forward and both gradients against the definition for one input.
void check_against_reference(const Tensor& x, const std::vector<float>& g, const std::vector<int64_t>& widths,
                             uint64_t seed, float tol) {
  Variable xv = param(x), gv = param(Tensor::from_vector(g, {static_cast<int64_t>(g.size())}));
  Variable out = channel_mask(xv, gv, widths);
  EXPECT_EQ(out.data().is_channels_last(), x.dim() == 4 && x.is_channels_last() && !x.is_contiguous());
  const auto m = naive_mask(g, widths, x.size(1));
  const auto ch = channel_of(x.shape());
  Tensor gy = randn(x.shape(), seed);
  out.backward(gy);
  auto xs = x.to_vector(), ys = out.data().to_vector(), gys = gy.to_vector(), gxs = xv.grad().to_vector();
  std::vector<double> gg(widths.size(), 0.0);
  for (size_t j = 0; j < xs.size(); ++j) {
    EXPECT_NEAR(ys[j], xs[j] * m[ch[j]], 1e-5) << j;
    EXPECT_NEAR(gxs[j], gys[j] * m[ch[j]], 1e-5) << j;
    for (size_t i = 0; i < widths.size(); ++i)
      if (ch[j] < widths[i]) gg[i] += static_cast<double>(gys[j]) * xs[j];
  }
  auto ggot = gv.grad().to_vector();
  for (size_t i = 0; i < widths.size(); ++i) EXPECT_NEAR(ggot[i], gg[i], tol * (1 + std::fabs(gg[i]))) << i;
}

}  // namespace

TEST(ChannelMaskTest, MatchesReferenceInEachLayout) {
  const std::vector<float> g = {0.2f, -0.5f, 1.3f};
  const std::vector<int64_t> widths = {2, 4, 5};  // channel 5 is past the largest width: m = 0
  check_against_reference(randn({2, 6, 3, 3}, 1), g, widths, 2, 1e-5f);
  check_against_reference(cl(randn({2, 6, 3, 3}, 3)), g, widths, 4, 1e-5f);
  check_against_reference(randn({5, 6}, 5), g, widths, 6, 1e-5f);
  // A non-dense input: a channel slice of a wider tensor.
  check_against_reference(cl(randn({1, 9, 2, 3}, 7)).narrow(1, 2, 6), g, widths, 8, 1e-5f);
  // Equal widths are allowed (rounded candidate widths may coincide); the full width too.
  check_against_reference(randn({1, 4, 2, 2}, 9), {0.5f, 0.25f, 0.25f}, {2, 2, 4}, 10, 1e-5f);
}

TEST(ChannelMaskTest, ManyRowsAndPlanes) {
  // Several row tiles (channels_last) and many planes (contiguous), across threads.
  const std::vector<float> g = {0.3f, 0.3f, 0.4f};
  check_against_reference(cl(randn({3, 5, 40, 40}, 11)), g, {1, 3, 4}, 12, 1e-4f);
  check_against_reference(randn({3, 5, 40, 40}, 13), g, {1, 3, 4}, 14, 1e-4f);
}

TEST(ChannelMaskTest, Gradcheck) {
  auto f = [](const std::vector<Variable>& in) { return channel_mask(in[0], in[1], {1, 3, 4}); };
  EXPECT_TRUE(grad_ok(f, {param(randn({2, 4, 2, 2}, 15)), param(Tensor::from_vector({0.2f, 0.5f, 0.3f}, {3}))}));
  EXPECT_TRUE(grad_ok(f, {param(cl(randn({1, 5, 2, 3}, 16))), param(Tensor::from_vector({0.6f, -0.1f, 0.5f}, {3}))}));
  EXPECT_TRUE(grad_ok(f, {param(randn({3, 4}, 17)), param(Tensor::from_vector({0.1f, 0.7f, 0.2f}, {3}))}));
}

TEST(ChannelMaskTest, ConstantWeightsGiveNoWeightGradient) {
  Variable x = param(randn({2, 3}, 18));
  Variable g(Tensor::from_vector({1.f, 1.f}, {2}));
  channel_mask(x, g, {1, 2}).backward(Tensor::ones({2, 3}));
  EXPECT_FALSE(g.grad().defined());
  EXPECT_TRUE(all_close(x.grad(), Tensor::from_vector({2.f, 1.f, 0.f, 2.f, 1.f, 0.f}, {2, 3}), 0.f, 0.f));
}

TEST(ChannelMaskTest, ClearErrors) {
  Variable x(randn({2, 4, 3, 3}, 19));
  Variable g2(Tensor::from_vector({0.5f, 0.5f}, {2}));
  EXPECT_TRUE(contains(error_of([&] { channel_mask(x, g2, {3, 2}); }), "sorted ascending"));
  EXPECT_TRUE(contains(error_of([&] { channel_mask(x, g2, {0, 2}); }), "out of range [1, 4]"));
  EXPECT_TRUE(contains(error_of([&] { channel_mask(x, g2, {2, 5}); }), "out of range [1, 4]"));
  EXPECT_TRUE(contains(error_of([&] { channel_mask(x, g2, {1, 2, 3}); }), "expected f32 [3]"));
  EXPECT_TRUE(contains(error_of([&] { channel_mask(x, g2, {}); }), "at least one candidate width"));
  EXPECT_TRUE(contains(error_of([&] { channel_mask(Variable(randn({4})), g2, {1, 2}); }), "[N, C, ...]"));
}
