#include "ops/shape_ops.h"

#include <gtest/gtest.h>

#include "tests/test_util.h"

using namespace hwnas;
using test::cl;
using test::all_close;
using test::grad_ok;
using test::randn;

namespace {

// A fixed, non-uniform upstream gradient makes a vector-valued op's gradient check a plain
// elementwise comparison.
Tensor ramp(const Shape& s) {
  std::vector<float> v(shape_numel(s));
  for (size_t i = 0; i < v.size(); ++i) v[i] = static_cast<float>(i) + 1.f;
  return Tensor::from_vector(v, s);
}
}  // namespace

TEST(ShapeOps, ConcatSplitRoundTripAnyDim) {
  for (int64_t dim : {0, 1, 2, 3, -1}) {
    for (bool channels_last : {false, true}) {
      Tensor a = randn({2, 3, 4, 5}, 1), b = randn({2, 3, 4, 5}, 2);
      const int64_t d = dim < 0 ? dim + 4 : dim;
      b = b.narrow(d, 0, 2).contiguous();  // a different extent along dim
      if (channels_last) a = cl(a), b = cl(b);
      Variable y = concat({Variable(a), Variable(b)}, dim);
      EXPECT_EQ(y.size(d), a.size(d) + 2);
      if (channels_last) EXPECT_TRUE(y.data().is_channels_last());
      // Reference: element-by-element placement.
      for (int64_t i = 0; i < y.numel(); i += 7) {
        std::vector<int64_t> idx(4);
        int64_t r = i;
        for (int k = 3; k >= 0; --k) idx[k] = r % y.size(k), r /= y.size(k);
        std::vector<int64_t> src = idx;
        const bool from_a = idx[d] < a.size(d);
        if (!from_a) src[d] -= a.size(d);
        EXPECT_EQ(y.data().at(idx), (from_a ? a : b).at(src));
      }
      auto parts = split(y, {a.size(d), 2}, dim);
      ASSERT_EQ(parts.size(), 2u);
      EXPECT_TRUE(all_close(parts[0].data(), a, 0.f, 0.f));
      EXPECT_TRUE(all_close(parts[1].data(), b, 0.f, 0.f));
    }
  }
}

TEST(ShapeOps, ConcatAndSplitGradients) {
  auto f_concat = [](const std::vector<Variable>& in) { return concat({in[0], in[1], in[2]}, 1); };
  EXPECT_TRUE(grad_ok(f_concat, {Variable(randn({2, 2, 3}, 3), true), Variable(randn({2, 1, 3}, 4), true),
                                 Variable(randn({2, 3, 3}, 5), true)}));
  // Each split piece alone and the pieces recombined in another order.
  for (int k = 0; k < 3; ++k)
    EXPECT_TRUE(grad_ok([k](const std::vector<Variable>& in) { return split(in[0], {1, 3, 2}, 2)[k]; },
                        {Variable(randn({2, 3, 6}, 6), true)}));
  EXPECT_TRUE(grad_ok(
      [](const std::vector<Variable>& in) {
        auto p = split(in[0], {2, 2}, 0);
        return concat({p[1], p[0], p[1]}, 0);
      },
      {Variable(randn({4, 3}, 7), true)}));
}

TEST(ShapeOps, ChannelsLastConcatGradientKeepsLayout) {
  Variable a(cl(randn({2, 3, 2, 2}, 8)), true), b(cl(randn({2, 5, 2, 2}, 9)), true);
  Variable y = concat({a, b}, 1);
  Tensor gy = ramp(y.shape());
  y.backward(gy);
  EXPECT_TRUE(a.grad().is_channels_last());
  EXPECT_TRUE(all_close(a.grad(), gy.narrow(1, 0, 3), 0.f, 0.f));
  EXPECT_TRUE(all_close(b.grad(), gy.narrow(1, 3, 5), 0.f, 0.f));
}

TEST(ShapeOps, ViewsShareStorageAndScatterGradients) {
  Variable x(randn({4, 6}, 10), true);
  Variable s = slice(x, 1, 1, 6, 2);
  EXPECT_EQ(s.data().storage(), x.data().storage());
  EXPECT_EQ(s.shape(), (Shape{4, 3}));
  Variable n = narrow(x, 0, 1, 2);
  EXPECT_EQ(n.data().storage(), x.data().storage());
  Variable p = permute(x, {1, 0});
  EXPECT_EQ(p.data().storage(), x.data().storage());
  Variable r = reshape(x, {2, 12});
  EXPECT_EQ(r.data().storage(), x.data().storage());
  auto parts = split(x, {2, 2}, 0);
  EXPECT_EQ(parts[1].data().storage(), x.data().storage());
  EXPECT_EQ(s.data().at({2, 1}), x.data().at({2, 3}));

  s.backward(ramp({4, 3}));
  std::vector<float> expect(24, 0.f);
  for (int i = 0; i < 4; ++i)
    for (int j = 0; j < 3; ++j) expect[i * 6 + 1 + 2 * j] = static_cast<float>(i * 3 + j + 1);
  EXPECT_EQ(x.grad().to_vector(), expect);

  auto f_slice = [](const std::vector<Variable>& in) { return slice(in[0], -1, 0, 5, 2); };
  auto f_narrow = [](const std::vector<Variable>& in) { return narrow(in[0], 1, 1, 2); };
  auto f_perm = [](const std::vector<Variable>& in) { return permute(in[0], {2, 0, 1}); };
  auto f_reshape = [](const std::vector<Variable>& in) { return reshape(permute(in[0], {1, 0, 2}), {-1, 4}); };
  auto f_flat = [](const std::vector<Variable>& in) { return flatten(in[0]); };
  using Fn = std::function<Variable(const std::vector<Variable>&)>;
  for (const Fn& f : {Fn(f_slice), Fn(f_narrow), Fn(f_perm), Fn(f_reshape), Fn(f_flat)})
    EXPECT_TRUE(grad_ok(f, {Variable(randn({2, 3, 4}, 11), true)}));
}

TEST(ShapeOps, FlattenAndReshape) {
  Tensor x = randn({2, 3, 2, 2}, 12);
  Variable f = flatten(Variable(cl(x)));  // channels_last must flatten in logical (NCHW) order
  EXPECT_EQ(f.shape(), (Shape{2, 12}));
  EXPECT_EQ(f.data().to_vector(), x.to_vector());
  EXPECT_EQ(flatten(Variable(x), 2).shape(), (Shape{2, 3, 4}));
  EXPECT_THROW(reshape(Variable(x), {5, -1}), Error);
}

TEST(ShapeOps, ChannelShuffleMatchesReferencePermutation) {
  const int64_t n = 2, g = 3, c = 4, h = 2, w = 3;
  Tensor x = randn({n, g * c, h, w}, 13);
  for (bool channels_last : {false, true}) {
    Variable y = channel_shuffle(Variable(channels_last ? cl(x) : x), g);
    EXPECT_EQ(y.data().is_channels_last(), channels_last);
    if (!channels_last) EXPECT_TRUE(y.data().is_contiguous());
    // [N, g, c, H, W] -> transpose(1, 2): output channel ci * g + gi is input channel gi * c + ci.
    for (int64_t i = 0; i < n; ++i)
      for (int64_t gi = 0; gi < g; ++gi)
        for (int64_t ci = 0; ci < c; ++ci)
          for (int64_t a = 0; a < h; ++a)
            for (int64_t b = 0; b < w; ++b)
              ASSERT_EQ(y.data().at({i, ci * g + gi, a, b}), x.at({i, gi * c + ci, a, b}));
  }
}

TEST(ShapeOps, ChannelShuffleGradient) {
  for (bool channels_last : {false, true}) {
    auto f = [channels_last](const std::vector<Variable>& in) {
      return channel_shuffle(channels_last ? permute(in[0], {0, 3, 1, 2}) : in[0], 2);
    };
    Shape s = channels_last ? Shape{2, 2, 3, 6} : Shape{2, 6, 2, 3};
    EXPECT_TRUE(grad_ok(f, {Variable(randn(s, 14), true)})) << "cl " << channels_last;
  }
  // Shuffling back with c / g groups is the inverse.
  Variable x(cl(randn({1, 6, 2, 2}, 15)), true);
  Variable mid = channel_shuffle(x, 2);
  Variable y = channel_shuffle(mid, 3);
  EXPECT_TRUE(all_close(y.data(), x.data(), 0.f, 0.f));
  y.backward(ramp({1, 6, 2, 2}));
  EXPECT_TRUE(x.grad().is_channels_last());
  EXPECT_TRUE(all_close(x.grad(), ramp({1, 6, 2, 2}), 0.f, 0.f));
}

TEST(ShapeOps, ClearErrors) {
  Variable a(randn({2, 3, 4}, 1)), b(randn({2, 5, 5}, 2));
  try {
    concat({a, b}, 1);
    FAIL() << "expected an error";
  } catch (const Error& e) {
    const std::string m = e.what();
    EXPECT_NE(m.find("concat"), std::string::npos) << m;
    EXPECT_NE(m.find("[2, 3, 4]"), std::string::npos) << m;
    EXPECT_NE(m.find("[2, 5, 5]"), std::string::npos) << m;
  }
  EXPECT_THROW(concat({}, 0), Error);
  EXPECT_THROW(concat({a, Variable(randn({2, 3}, 3))}, 0), Error);
  EXPECT_THROW(split(a, {1, 1}, 1), Error);
  EXPECT_THROW(narrow(a, 2, 3, 2), Error);
  EXPECT_THROW(permute(a, {0, 0, 1}), Error);
  EXPECT_THROW(channel_shuffle(Variable(randn({1, 6, 2, 2}, 4)), 4), Error);
  EXPECT_THROW(channel_shuffle(a, 1), Error);
}
