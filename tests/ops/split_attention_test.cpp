#include "ops/split_attention.h"

#include <gtest/gtest.h>

#include <cmath>

#include "ops/shape_ops.h"
#include "tests/test_util.h"

using namespace hwnas;
using hwnas::test::all_close;
using hwnas::test::error_of;
using hwnas::test::grad_ok;
using hwnas::test::param;

namespace {

// sum_m softmax_m(l_m[n, c]) * s_m[n, c, h, w] by logical indexing, in double.
Tensor ref_combine(const std::vector<Tensor>& s, const std::vector<Tensor>& l) {
  const Shape shape = s[0].shape();
  const int64_t n = shape[0], c = shape[1], hw = shape[2] * shape[3], r = static_cast<int64_t>(s.size());
  std::vector<std::vector<float>> sv, lv;
  for (int64_t m = 0; m < r; ++m) {
    sv.push_back(s[m].to_vector());
    lv.push_back(l[m].to_vector());
  }
  std::vector<float> out(n * c * hw);
  for (int64_t i = 0; i < n * c; ++i) {
    double mx = -1e300, z = 0;
    for (int64_t m = 0; m < r; ++m) mx = std::max(mx, static_cast<double>(lv[m][i]));
    for (int64_t m = 0; m < r; ++m) z += std::exp(lv[m][i] - mx);
    for (int64_t p = 0; p < hw; ++p) {
      double acc = 0;
      for (int64_t m = 0; m < r; ++m) acc += std::exp(lv[m][i] - mx) / z * sv[m][i * hw + p];
      out[i * hw + p] = static_cast<float>(acc);
    }
  }
  return Tensor::from_vector(out, shape);
}

std::vector<Variable> vars(const std::vector<Tensor>& ts, bool grad = false) {
  std::vector<Variable> v;
  for (const auto& t : ts) v.emplace_back(t, grad);
  return v;
}

std::vector<Tensor> make_splits(int64_t r, const Shape& shape, MemoryFormat fmt, uint64_t seed) {
  std::vector<Tensor> s;
  for (int64_t m = 0; m < r; ++m) s.push_back(test::randn(shape, seed + m).contiguous(fmt));
  return s;
}

std::vector<Tensor> make_logits(int64_t r, const Shape& shape, uint64_t seed) {
  std::vector<Tensor> l;
  for (int64_t m = 0; m < r; ++m) l.push_back(test::randn(shape, seed + 100 + m, 2.f));
  return l;
}

}  // namespace

TEST(SplitAttentionCombine, ForwardMatchesNaiveChannelsLast) {
  for (int64_t r : {1, 2, 3, 4}) {
    auto s = make_splits(r, {2, 70, 3, 5}, MemoryFormat::channels_last, 10 * r);  // 70: two channel blocks
    auto l = make_logits(r, {2, 70}, 10 * r);
    Tensor y = split_attention_combine(vars(s), vars(l)).data();
    EXPECT_TRUE(y.is_channels_last()) << r;
    EXPECT_TRUE(all_close(y, ref_combine(s, l), 1e-5f, 1e-5f)) << r;
  }
}

TEST(SplitAttentionCombine, ForwardMatchesNaiveContiguousAndPooledLogits) {
  auto s = make_splits(3, {3, 4, 5, 2}, MemoryFormat::contiguous, 3);
  auto l = make_logits(3, {3, 4, 1, 1}, 3);
  Tensor y = split_attention_combine(vars(s), vars(l)).data();
  EXPECT_TRUE(y.is_contiguous());
  EXPECT_TRUE(all_close(y, ref_combine(s, l), 1e-5f, 1e-5f));
}

TEST(SplitAttentionCombine, MixedLayoutsAndStridedViews) {
  // Split 1 is a narrow of a wider tensor (what a sliced supernet weight produces), split 2 NCHW.
  Tensor wide = test::randn({2, 9, 4, 3}, 5).contiguous(MemoryFormat::channels_last);
  std::vector<Tensor> s = {test::randn({2, 6, 4, 3}, 6).contiguous(MemoryFormat::channels_last),
                           wide.narrow(1, 2, 6), test::randn({2, 6, 4, 3}, 7)};
  auto l = make_logits(3, {2, 6}, 8);
  l[1] = test::randn({2, 12}, 9).narrow(1, 3, 6);  // strided logits
  Tensor y = split_attention_combine(vars(s), vars(l)).data();
  EXPECT_TRUE(all_close(y, ref_combine(s, l), 1e-5f, 1e-5f));
}

TEST(SplitAttentionCombine, LargeLogitsStayFinite) {
  std::vector<Tensor> s = make_splits(2, {1, 3, 2, 2}, MemoryFormat::channels_last, 1);
  std::vector<Tensor> l = {Tensor::full({1, 3}, 1000.f), Tensor::full({1, 3}, -1000.f)};
  Tensor y = split_attention_combine(vars(s), vars(l)).data();
  EXPECT_TRUE(all_close(y, s[0], 1e-6f, 1e-6f));
}

TEST(SplitAttentionCombine, GradcheckChannelsLast) {
  for (int64_t r : {2, 3}) {
    // Inputs given as NHWC and permuted to NCHW shape: the op sees channels_last views.
    std::vector<Variable> in;
    for (int64_t m = 0; m < r; ++m) in.push_back(param(test::randn({2, 3, 2, 5}, 20 + m)));
    for (int64_t m = 0; m < r; ++m) in.push_back(param(test::randn({2, 5}, 30 + m)));
    auto f = [r](const std::vector<Variable>& v) {
      std::vector<Variable> s, l;
      for (int64_t m = 0; m < r; ++m) {
        s.push_back(permute(v[m], {0, 3, 1, 2}));
        EXPECT_TRUE(s.back().data().is_channels_last());
        l.push_back(v[r + m]);
      }
      return split_attention_combine(s, l);
    };
    EXPECT_TRUE(grad_ok(f, in)) << r;
  }
}

TEST(SplitAttentionCombine, GradcheckContiguousPooledLogits) {
  std::vector<Variable> in = {param(test::randn({2, 3, 2, 2}, 1)), param(test::randn({2, 3, 2, 2}, 2)),
                              param(test::randn({2, 3, 1, 1}, 3)), param(test::randn({2, 3, 1, 1}, 4))};
  auto f = [](const std::vector<Variable>& v) { return split_attention_combine({v[0], v[1]}, {v[2], v[3]}); };
  EXPECT_TRUE(grad_ok(f, in));
}

TEST(SplitAttentionCombine, GradientsOnlyWhereRequired) {
  // Only logits need a gradient: the backward still uses the saved splits.
  std::vector<Variable> s = vars(make_splits(2, {1, 4, 3, 3}, MemoryFormat::channels_last, 40));
  std::vector<Variable> l = vars(make_logits(2, {1, 4}, 40), true);
  auto f = [&](const std::vector<Variable>& v) { return split_attention_combine(s, v); };
  EXPECT_TRUE(grad_ok(f, l));
  // Only split 1 needs a gradient: it is a_1 * gy.
  std::vector<Variable> s2 = {Variable(s[0].data()), Variable(s[1].data(), true)};
  Variable y = split_attention_combine(s2, l);
  Tensor gy = test::randn(y.shape(), 41);
  y.backward(gy);
  EXPECT_FALSE(s2[0].grad().defined());
  const auto l0 = l[0].data().to_vector(), l1 = l[1].data().to_vector(), g = gy.to_vector();
  const auto d = s2[1].grad().to_vector();
  for (int64_t c = 0; c < 4; ++c) {
    const float a1 = 1.f / (1.f + std::exp(l0[c] - l1[c]));
    for (int64_t p = 0; p < 9; ++p) EXPECT_NEAR(d[c * 9 + p], a1 * g[c * 9 + p], 1e-5f);
  }
}

TEST(SplitAttentionCombine, LargeInputsMatchNaiveForwardAndBackward) {
  // Big enough for the threaded paths of both layouts.
  for (MemoryFormat fmt : {MemoryFormat::channels_last, MemoryFormat::contiguous}) {
    auto st = make_splits(2, {2, 70, 16, 16}, fmt, 50);
    auto lt = make_logits(2, {2, 70}, 50);
    std::vector<Variable> s = vars(st, true), l = vars(lt, true);
    Variable y = split_attention_combine(s, l);
    EXPECT_TRUE(all_close(y.data(), ref_combine(st, lt), 1e-5f, 1e-5f));
    Tensor gy = test::randn(y.shape(), 51);
    y.backward(gy);
    const auto g = gy.to_vector(), s0 = st[0].to_vector(), s1 = st[1].to_vector();
    const auto l0 = lt[0].to_vector(), l1 = lt[1].to_vector();
    const auto d0 = s[0].grad().to_vector(), dl0 = l[0].grad().to_vector(), dl1 = l[1].grad().to_vector();
    const int64_t hw = 256;
    for (int64_t i = 0; i < 2 * 70; ++i) {
      const double a0 = 1.0 / (1.0 + std::exp(static_cast<double>(l1[i]) - l0[i])), a1 = 1.0 - a0;
      double dot0 = 0, dot1 = 0;
      for (int64_t p = 0; p < hw; ++p) {
        dot0 += static_cast<double>(g[i * hw + p]) * s0[i * hw + p];
        dot1 += static_cast<double>(g[i * hw + p]) * s1[i * hw + p];
        ASSERT_NEAR(d0[i * hw + p], a0 * g[i * hw + p], 1e-5);
      }
      const double mix = a0 * dot0 + a1 * dot1;
      EXPECT_NEAR(dl0[i], a0 * (dot0 - mix), 2e-3 + 1e-4 * std::fabs(dot0));
      EXPECT_NEAR(dl1[i], a1 * (dot1 - mix), 2e-3 + 1e-4 * std::fabs(dot1));
    }
  }
}

TEST(SplitAttentionCombine, RadixOneIsIdentityWithZeroLogitGradient) {
  Variable s = param(test::randn({2, 3, 4, 4}, 1).contiguous(MemoryFormat::channels_last));
  Variable l = param(test::randn({2, 3}, 2));
  Variable y = split_attention_combine({s}, {l});
  EXPECT_TRUE(all_close(y.data(), s.data(), 0.f, 0.f));
  Tensor gy = test::randn(y.shape(), 3);
  y.backward(gy);
  EXPECT_TRUE(all_close(s.grad(), gy, 0.f, 0.f));
  for (float v : l.grad().to_vector()) EXPECT_EQ(v, 0.f);
}

TEST(SplitAttentionCombine, ClearErrors) {
  Variable a(Tensor::zeros({2, 3, 4, 4})), b(Tensor::zeros({2, 3, 4, 5})), l(Tensor::zeros({2, 3}));
  EXPECT_NE(error_of([&] { split_attention_combine({}, {}); }).find("at least one split"), std::string::npos);
  EXPECT_NE(error_of([&] { split_attention_combine({a, a}, {l}); }).find("one logits tensor per split"),
            std::string::npos);
  const std::string shape_err = error_of([&] { split_attention_combine({a, b}, {l, l}); });
  EXPECT_NE(shape_err.find("split 1"), std::string::npos) << shape_err;
  EXPECT_NE(shape_err.find("[2, 3, 4, 5]"), std::string::npos) << shape_err;
  const std::string logit_err =
      error_of([&] { split_attention_combine({a, a}, {l, Variable(Tensor::zeros({2, 4}))}); });
  EXPECT_NE(logit_err.find("logits 1"), std::string::npos) << logit_err;
  EXPECT_NE(error_of([&] { split_attention_combine({Variable(Tensor::zeros({2, 3}))}, {l}); }).find("[N, C, H, W]"),
            std::string::npos);
}

// split_attention_pool: the mean over (h, w) of the splits' sum, by logical indexing in double.
TEST(SplitAttentionPool, ForwardMatchesNaiveInBothLayoutsAndMixedInputs) {
  const Shape shape = {3, 5, 4, 6};
  for (MemoryFormat fmt : {MemoryFormat::contiguous, MemoryFormat::channels_last})
    for (int64_t r : {1, 2, 4}) {
      std::vector<Tensor> s = make_splits(r, shape, fmt, 70);
      if (r == 4) s[3] = s[3].contiguous();  // a split in the other layout is converted
      std::vector<double> ref(3 * 5, 0.0);
      for (const Tensor& t : s) {
        const std::vector<float> v = t.to_vector();
        for (size_t i = 0; i < v.size(); ++i) ref[i / 24] += v[i] / 24.0;
      }
      const std::vector<float> got = split_attention_pool(vars(s)).data().to_vector();
      ASSERT_EQ(got.size(), ref.size());
      for (size_t i = 0; i < ref.size(); ++i) EXPECT_NEAR(got[i], ref[i], 1e-5) << "plane " << i << " radix " << r;
    }
}

TEST(SplitAttentionPool, GradcheckAndOneSharedGradient) {
  for (MemoryFormat fmt : {MemoryFormat::contiguous, MemoryFormat::channels_last}) {
    std::vector<Variable> in;
    for (const Tensor& t : make_splits(3, {2, 3, 3, 4}, fmt, 80)) in.push_back(param(t));
    EXPECT_TRUE(grad_ok([](const std::vector<Variable>& v) { return split_attention_pool(v); }, in));
    Variable y = split_attention_pool(in);
    y.backward(test::randn({2, 3}, 81));
    for (size_t m = 1; m < in.size(); ++m) EXPECT_TRUE(all_close(in[m].grad(), in[0].grad(), 0.f, 0.f)) << m;
    EXPECT_EQ(in[0].grad().is_channels_last(), fmt == MemoryFormat::channels_last);
  }
}

TEST(SplitAttentionPool, ClearErrors) {
  Variable a(Tensor::zeros({2, 3, 4, 4})), b(Tensor::zeros({2, 3, 4, 5}));
  EXPECT_NE(error_of([&] { split_attention_pool({}); }).find("split_attention_pool: expected at least one split"),
            std::string::npos);
  const std::string e = error_of([&] { split_attention_pool({a, b}); });
  EXPECT_NE(e.find("split 1"), std::string::npos) << e;
  EXPECT_NE(error_of([&] { split_attention_pool({Variable(Tensor::zeros({2, 3}))}); }).find("[N, C, H, W]"),
            std::string::npos);
}
