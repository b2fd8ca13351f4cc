#include "ops/dropout.h"

#include <gtest/gtest.h>

#include <cmath>

#include "cuda/dropout.h"
#include "tests/test_util.h"

using namespace hwnas;
using hwnas::test::grad_ok;
using hwnas::test::param;

TEST(Dropout, StatisticsAndScale) {
  Tensor x = Tensor::full({200000}, 2.f);
  for (float p : {0.1f, 0.5f, 0.8f}) {
    Generator gen(42);
    auto y = dropout(Variable(x), p, true, gen).data().to_vector();
    int64_t zeros = 0;
    for (float v : y) {
      if (v == 0.f) {
        ++zeros;
      } else {
        EXPECT_FLOAT_EQ(v, 2.f / (1.f - p));
      }
    }
    EXPECT_NEAR(static_cast<double>(zeros) / y.size(), p, 0.01) << p;
  }
}

TEST(Dropout, EvalAndZeroProbabilityAreIdentity) {
  Generator gen(1);
  Variable x(test::randn({4, 5}));
  EXPECT_EQ(dropout(x, 0.5f, false, gen).data().storage(), x.data().storage());
  EXPECT_EQ(dropout(x, 0.f, true, gen).data().storage(), x.data().storage());
}

TEST(Dropout, SameSeedSameMask) {
  Tensor x = test::randn({3, 7, 5});
  Generator g1(7), g2(7), g3(8);
  auto a = dropout(Variable(x), 0.3f, true, g1).data().to_vector();
  auto b = dropout(Variable(x), 0.3f, true, g2).data().to_vector();
  auto c = dropout(Variable(x), 0.3f, true, g3).data().to_vector();
  EXPECT_EQ(a, b);
  EXPECT_NE(a, c);
  // The generator advances: a second draw gives a different mask.
  auto d = dropout(Variable(x), 0.3f, true, g1).data().to_vector();
  EXPECT_NE(a, d);
}

TEST(Dropout, BackwardUsesTheSavedMask) {
  Tensor x = test::randn({2, 4, 3, 3}, 2).contiguous(MemoryFormat::channels_last);
  Generator gen(3);
  Variable p = param(x);
  Variable y = dropout(p, 0.4f, true, gen);
  EXPECT_TRUE(y.data().is_channels_last());
  y.backward(Tensor::ones(x.shape()));  // contiguous gradient into a channels_last output
  auto yv = y.data().to_vector(), xv = x.to_vector(), g = p.grad().to_vector();
  for (size_t i = 0; i < g.size(); ++i) {
    if (yv[i] == 0.f) {
      EXPECT_EQ(g[i], 0.f);
    } else {
      EXPECT_NEAR(g[i], 1.f / 0.6f, 1e-6);
      EXPECT_NEAR(yv[i], xv[i] / 0.6f, 1e-5);
    }
  }
  // Gradcheck with a fresh generator per call, so every evaluation draws the same mask.
  EXPECT_TRUE(grad_ok(
      [](const std::vector<Variable>& in) {
        Generator g(5);
        return dropout(in[0], 0.5f, true, g);
      },
      {param(test::randn({3, 4}, 4))}));
}

TEST(Dropout, DropAllAndBadProbability) {
  Generator gen(9);
  Variable p = param(test::randn({10}));
  Variable y = dropout(p, 1.f, true, gen);
  for (float v : y.data().to_vector()) EXPECT_EQ(v, 0.f);
  y.backward(Tensor::ones({10}));
  for (float v : p.grad().to_vector()) EXPECT_EQ(v, 0.f);
  EXPECT_THROW(dropout(p, 1.5f, true, gen), Error);
  EXPECT_THROW(dropout(p, -0.1f, true, gen), Error);
}

// The CPU op keeps element i (in memory order) exactly when the counter-based hash the CUDA
// kernel uses says so, with the seed drawn once per call: the two devices drop the same elements.
TEST(Dropout, MaskIsTheCounterHashOfOneSeedPerCall) {
  Tensor x = Tensor::full({2, 3, 4, 5}, 1.f).contiguous(MemoryFormat::channels_last);
  Generator gen(21), same(21);
  const std::vector<float> y = dropout(Variable(x), 0.3f, true, gen).data().contiguous(MemoryFormat::channels_last)
                                   .as_strided({x.numel()}, {1}, 0).to_vector();
  cuda::DropoutArgs a;
  a.seed = same.next_u64();
  a.threshold = static_cast<uint64_t>(0.3 * 4294967296.0);
  a.scale = 1.f / 0.7f;
  int64_t kept = 0;
  for (int64_t i = 0; i < x.numel(); ++i) {
    const bool keep = cuda::dropout_keeps(a, static_cast<uint64_t>(i));
    kept += keep;
    EXPECT_EQ(y[static_cast<size_t>(i)], keep ? a.scale : 0.f) << "element " << i;
  }
  EXPECT_GT(kept, 0);
  EXPECT_LT(kept, x.numel());
}
