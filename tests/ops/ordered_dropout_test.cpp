#include "ops/ordered_dropout.h"

#include <gtest/gtest.h>

#include <algorithm>
#include <set>

#include "ops/conv.h"
#include "ops/reduce.h"
#include "ops/shape_ops.h"
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



// Row-major elements of `t` with channel c of sample n zeroed when c >= widths[n].
std::vector<float> naive_masked(const Tensor& t, const std::vector<int64_t>& widths) {
  const Shape& s = t.shape();
  int64_t inner = 1;
  for (size_t d = 2; d < s.size(); ++d) inner *= s[d];
  auto v = t.to_vector();
  for (size_t i = 0; i < v.size(); ++i) {
    const int64_t n = static_cast<int64_t>(i) / (s[1] * inner), c = (static_cast<int64_t>(i) / inner) % s[1];
    if (c >= widths[n]) v[i] = 0.f;
  }
  return v;
}

}  // namespace

TEST(OrderedDropoutTest, MasksEachSampleInEachLayout) {
  const std::vector<int64_t> widths = {3, 0, 5, 1};
  for (Tensor x : {randn({4, 5, 2, 3}, 1), cl(randn({4, 5, 2, 3}, 2)), randn({4, 5}, 3),
                   cl(randn({4, 8, 2, 3}, 4)).narrow(1, 1, 5)}) {
    Variable xv = param(x);
    Variable y = ordered_dropout(xv, widths);
    EXPECT_EQ(y.data().is_channels_last(), x.dim() == 4 && x.is_channels_last());
    EXPECT_EQ(y.data().to_vector(), naive_masked(x, widths));
    Tensor gy = randn(x.shape(), 5);
    y.backward(gy);
    EXPECT_EQ(xv.grad().to_vector(), naive_masked(gy, widths));
  }
}

TEST(OrderedDropoutTest, FullAndZeroWidths) {
  Tensor x = cl(randn({2, 3, 2, 2}, 6));
  EXPECT_TRUE(all_close(ordered_dropout(Variable(x), {3, 3}).data(), x, 0.f, 0.f));
  for (float v : ordered_dropout(Variable(x), {0, 0}).data().to_vector()) EXPECT_EQ(v, 0.f);
}

TEST(OrderedDropoutTest, Gradcheck) {
  auto f = [](const std::vector<Variable>& in) { return ordered_dropout(in[0], {2, 1, 3}); };
  EXPECT_TRUE(grad_ok(f, {param(randn({3, 3, 2, 2}, 7))}));
  EXPECT_TRUE(grad_ok(f, {param(cl(randn({3, 3, 1, 2}, 8)))}));
}

TEST(OrderedDropoutTest, WidthGroupsAreMaximalRuns) {
  using G = WidthGroup;
  EXPECT_EQ(width_groups({2, 2, 4, 4, 4, 1, 2}),
            (std::vector<G>{{2, 0, 2}, {4, 2, 5}, {1, 5, 6}, {2, 6, 7}}));
  EXPECT_EQ(width_groups({3}), (std::vector<G>{{3, 0, 1}}));
  EXPECT_TRUE(width_groups({}).empty());
}

TEST(OrderedDropoutTest, SampleWidthsShareAWidthPerGroup) {
  const std::vector<int64_t> choices = {2, 4, 6, 8};
  std::set<int64_t> seen;
  for (uint64_t seed = 0; seed < 20; ++seed) {
    Generator gen(seed);
    auto w = ordered_sample_widths(10, choices, 3, gen);
    ASSERT_EQ(w.size(), 10u);
    // Groups of 3, 3 and 4 (the last takes the remainder).
    for (auto [b, e] : std::vector<std::pair<int, int>>{{0, 3}, {3, 6}, {6, 10}})
      for (int i = b; i < e; ++i) EXPECT_EQ(w[i], w[b]);
    for (auto v : w) {
      EXPECT_NE(std::find(choices.begin(), choices.end(), v), choices.end());
      seen.insert(v);
    }
    Generator again(seed);
    EXPECT_EQ(ordered_sample_widths(10, choices, 3, again), w);
  }
  EXPECT_EQ(seen.size(), choices.size());  // every choice drawn at some point
  Generator gen(1);
  EXPECT_EQ(ordered_sample_widths(4, {5}, 4, gen), (std::vector<int64_t>{5, 5, 5, 5}));
  EXPECT_EQ(ordered_sample_widths(4, {5}, 1, gen), (std::vector<int64_t>{5, 5, 5, 5}));
}

// The masked reference and the grouped computation the supernet uses give one gradient: a 1x1
// conv over the full width then ordered dropout, against each width group computing only its
// first w output channels with a narrowed weight.
TEST(OrderedDropoutTest, MaskedBatchEqualsGroupsOnWeightSlices) {
  const std::vector<int64_t> widths = {4, 4, 6, 0, 2, 2, 2};
  Tensor x = cl(randn({7, 3, 4, 4}, 9));
  Variable w = param(randn({6, 3, 1, 1}, 10));
  const Conv2dOptions opts{};
  sum(ordered_dropout(conv2d(Variable(x), w, Variable(), opts), widths)).backward();
  Tensor masked = w.grad().clone();
  w.zero_grad();
  for (const auto& g : width_groups(widths)) {
    if (g.width == 0) continue;  // no channels computed, no gradient
    Variable xs(x.narrow(0, g.begin, g.end - g.begin));
    sum(conv2d(xs, narrow(w, 0, 0, g.width), Variable(), opts)).backward();
  }
  EXPECT_TRUE(all_close(w.grad(), masked, 1e-4f, 1e-4f));
  // The last filter is kept by the width-6 sample alone; it still gets a gradient.
  EXPECT_NE(masked.at({5, 0, 0, 0}), 0.f);
}

TEST(OrderedDropoutTest, ClearErrors) {
  Variable x(randn({3, 4, 2, 2}, 11));
  Generator gen(2);
  EXPECT_TRUE(contains(error_of([&] { ordered_dropout(x, {1, 2}); }), "2 sample widths for a batch of 3"));
  EXPECT_TRUE(contains(error_of([&] { ordered_dropout(x, {1, 5, 2}); }), "width 5 of sample 1 out of range [0, 4]"));
  EXPECT_TRUE(contains(error_of([&] { ordered_dropout(x, {1, -1, 2}); }), "out of range"));
  EXPECT_TRUE(contains(error_of([&] { ordered_dropout(Variable(randn({3})), {1, 1, 1}); }), "[N, C, ...]"));
  EXPECT_TRUE(contains(error_of([&] { ordered_sample_widths(4, {1, 2}, 5, gen); }), "expected 1 <= groups <= batch"));
  EXPECT_TRUE(contains(error_of([&] { ordered_sample_widths(4, {1, 2}, 0, gen); }), "expected 1 <= groups <= batch"));
  EXPECT_TRUE(contains(error_of([&] { ordered_sample_widths(4, {}, 2, gen); }), "no width choices"));
  EXPECT_TRUE(contains(error_of([&] { ordered_sample_widths(4, {2, -1}, 2, gen); }), "negative width"));
}
