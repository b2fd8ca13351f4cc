#include "ops/pool.h"

#include <gtest/gtest.h>

#include <algorithm>
#include <limits>

#include "ops/shape_ops.h"
#include "tests/test_util.h"

using namespace hwnas;
using test::cl;
using test::all_close;
using test::grad_ok;
using test::randn;

namespace {

// Naive pooling in logical NCHW order (padding never wins a max; avg divides by k*k or by the
// count of real elements).
Tensor ref_pool(const Tensor& x, const Pool2dOptions& o, bool is_max) {
  const int64_t n = x.size(0), c = x.size(1), h = x.size(2), w = x.size(3);
  const int64_t oh = (h + 2 * o.padding - o.kernel) / o.stride + 1, ow = (w + 2 * o.padding - o.kernel) / o.stride + 1;
  std::vector<float> out;
  for (int64_t i = 0; i < n; ++i)
    for (int64_t j = 0; j < c; ++j)
      for (int64_t a = 0; a < oh; ++a)
        for (int64_t b = 0; b < ow; ++b) {
          float best = -std::numeric_limits<float>::infinity(), sum = 0.f;
          int cnt = 0;
          for (int64_t ki = 0; ki < o.kernel; ++ki)
            for (int64_t kj = 0; kj < o.kernel; ++kj) {
              const int64_t hh = a * o.stride - o.padding + ki, ww = b * o.stride - o.padding + kj;
              if (hh < 0 || hh >= h || ww < 0 || ww >= w) continue;
              const float v = x.at({i, j, hh, ww});
              best = std::max(best, v);
              sum += v;
              ++cnt;
            }
          out.push_back(is_max ? best : sum / (o.count_include_pad ? o.kernel * o.kernel : cnt));
        }
  return Tensor::from_vector(out, {n, c, oh, ow});
}

// Distinct values (a shuffled ramp) so that a max has no ties and finite differences never
// cross a switch of the winner.
Tensor distinct(const Shape& s, uint64_t seed) {
  const int64_t n = shape_numel(s);
  std::vector<float> v(n);
  for (int64_t i = 0; i < n; ++i) v[i] = 0.1f * static_cast<float>(i) - 0.05f * static_cast<float>(n);
  Generator g(seed);
  for (int64_t i = n - 1; i > 0; --i) std::swap(v[i], v[g.below(i + 1)]);
  return Tensor::from_vector(v, s);
}


}  // namespace

TEST(Pool, MaxAndAvgMatchReference) {
  struct Case {
    Shape s;
    int64_t k, st, p;
  };
  for (const Case& cs : {Case{{2, 3, 7, 5}, 3, 2, 1}, Case{{1, 5, 6, 6}, 2, 2, 0}, Case{{2, 4, 5, 7}, 3, 1, 1},
                         Case{{1, 2, 9, 9}, 5, 3, 2}}) {
    Tensor x = randn(cs.s, 7);
    for (bool channels_last : {false, true}) {
      for (bool include_pad : {true, false}) {
        Pool2dOptions o{cs.k, cs.st, cs.p, include_pad};
        Variable xin(channels_last ? cl(x) : x);
        Variable ym = max_pool2d(xin, o), ya = avg_pool2d(xin, o);
        EXPECT_TRUE(all_close(ym.data(), ref_pool(x, o, true))) << shape_str(cs.s) << " cl " << channels_last;
        EXPECT_TRUE(all_close(ya.data(), ref_pool(x, o, false)))
            << shape_str(cs.s) << " cl " << channels_last << " include_pad " << include_pad;
        EXPECT_EQ(ym.data().is_channels_last(), channels_last);
        EXPECT_EQ(ya.data().is_channels_last(), channels_last);
      }
    }
  }
}

TEST(Pool, MaxPaddingNeverWins) {
  // All-negative input: a zero from the padding would win if padding were read.
  Tensor x = Tensor::full({1, 1, 3, 3}, -5.f);
  Variable y = max_pool2d(Variable(x), {3, 2, 1});
  EXPECT_EQ(y.data().to_vector(), (std::vector<float>{-5, -5, -5, -5}));
}

TEST(Pool, NonContiguousInput) {
  Tensor big = randn({2, 6, 7, 7}, 3);
  Tensor x = big.slice(1, 0, 6, 2);  // every other channel: neither contiguous nor channels_last
  Pool2dOptions o{3, 2, 1};
  EXPECT_TRUE(all_close(max_pool2d(Variable(x), o).data(), ref_pool(x, o, true)));
  EXPECT_TRUE(all_close(avg_pool2d(Variable(x), o).data(), ref_pool(x, o, false)));
}

TEST(Pool, GlobalAvgMatchesReference) {
  Tensor x = randn({3, 5, 4, 3}, 9);
  std::vector<float> ref;
  for (int64_t i = 0; i < 3; ++i)
    for (int64_t j = 0; j < 5; ++j) {
      float s = 0.f;
      for (int64_t a = 0; a < 4; ++a)
        for (int64_t b = 0; b < 3; ++b) s += x.at({i, j, a, b});
      ref.push_back(s / 12.f);
    }
  for (bool channels_last : {false, true}) {
    Variable y = global_avg_pool(Variable(channels_last ? cl(x) : x));
    EXPECT_EQ(y.shape(), (Shape{3, 5}));
    EXPECT_TRUE(all_close(y.data(), Tensor::from_vector(ref, {3, 5})));
  }
}

TEST(Pool, Gradchecks) {
  // Inputs arrive contiguous from gradcheck; the channels_last variants are NHWC-shaped and
  // permuted to an NCHW shape with channels_last strides inside f.
  for (bool channels_last : {false, true}) {
    auto wrap = [channels_last](const Variable& v) { return channels_last ? permute(v, {0, 3, 1, 2}) : v; };
    const Shape s = channels_last ? Shape{2, 5, 5, 3} : Shape{2, 3, 5, 5};
    for (Pool2dOptions o : {Pool2dOptions{3, 2, 1}, Pool2dOptions{2, 2, 0}, Pool2dOptions{3, 2, 1, false}}) {
      EXPECT_TRUE(grad_ok([&](const std::vector<Variable>& in) { return max_pool2d(wrap(in[0]), o); },
                          {Variable(distinct(s, 5), true)}))
          << "max cl " << channels_last << " k " << o.kernel;
      EXPECT_TRUE(grad_ok([&](const std::vector<Variable>& in) { return avg_pool2d(wrap(in[0]), o); },
                          {Variable(randn(s, 6), true)}))
          << "avg cl " << channels_last << " k " << o.kernel << " include_pad " << o.count_include_pad;
    }
    EXPECT_TRUE(grad_ok([&](const std::vector<Variable>& in) { return global_avg_pool(wrap(in[0])); },
                        {Variable(randn(s, 8), true)}))
        << "global cl " << channels_last;
  }
}

TEST(Pool, GradientKeepsLayout) {
  Variable x(cl(distinct({2, 4, 6, 6}, 2)), true);
  max_pool2d(x, {2, 2, 0}).backward(Tensor::ones({2, 4, 3, 3}));
  EXPECT_TRUE(x.grad().is_channels_last());
  // Each 2x2 window routes its gradient to exactly one element.
  auto g = x.grad().to_vector();
  EXPECT_EQ(std::count(g.begin(), g.end(), 1.f), 2 * 4 * 9);
  EXPECT_EQ(std::count(g.begin(), g.end(), 0.f), 2 * 4 * 27);
}

TEST(Pool, ClearErrors) {
  Variable x(randn({1, 2, 4, 4}, 1));
  EXPECT_THROW(max_pool2d(Variable(randn({2, 4, 4}, 1)), {}), Error);
  EXPECT_THROW(max_pool2d(x, {0, 1, 0}), Error);
  EXPECT_THROW(avg_pool2d(x, {3, 1, 2}), Error);  // padding over half the kernel
  try {
    max_pool2d(x, {7, 1, 1});
    FAIL() << "expected an error";
  } catch (const Error& e) {
    EXPECT_NE(std::string(e.what()).find("max_pool2d"), std::string::npos) << e.what();
    EXPECT_NE(std::string(e.what()).find("[1, 2, 4, 4]"), std::string::npos) << e.what();
  }
  EXPECT_THROW(global_avg_pool(Variable(randn({2, 3}, 1))), Error);
}
