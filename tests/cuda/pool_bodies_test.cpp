// The per-element bodies of the CUDA pooling kernels (cuda/pool.h), run on the host over every
// index the way the kernels run them, against the CPU op's forward and backward. Runs without a
// GPU; on one, tests/cuda/ops_cuda_test.cpp checks the launches.
#include <gtest/gtest.h>

#include <cmath>
#include <limits>
#include <vector>

#include "cuda/pool.h"
#include "ops/pool.h"
#include "tests/test_util.h"

namespace hwnas {
namespace {

// The geometry the CPU op and the kernels walk: channels innermost (see cuda/pool.h).
cuda::PoolArgs args_of(const Tensor& x, const Pool2dOptions& o) {
  const bool cl = x.is_channels_last();
  const int64_t h = x.size(2), w = x.size(3);
  return {cl ? x.size(0) : x.size(0) * x.size(1),
          cl ? x.size(1) : 1,
          h,
          w,
          (h + 2 * o.padding - o.kernel) / o.stride + 1,
          (w + 2 * o.padding - o.kernel) / o.stride + 1,
          o.kernel,
          o.stride,
          o.padding,
          o.count_include_pad};
}

struct Case {
  Shape shape;
  Pool2dOptions o;
};

const std::vector<Case>& cases() {
  static const std::vector<Case> c = {
      {{2, 3, 8, 8}, {2, 2, 0}},         {{2, 5, 7, 9}, {3, 2, 1}},
      {{1, 4, 6, 5}, {3, 1, 1}},         {{2, 3, 9, 7}, {3, 2, 1, false}},
      {{1, 2, 5, 5}, {5, 1, 2, false}},  {{3, 2, 4, 6}, {2, 1, 0}},
  };
  return c;
}

// Values that are exact in binary, so that window sums are exact and max ties are real ties.
Tensor input(const Shape& s, uint64_t seed, bool channels_last) {
  Tensor x = test::randn(s, seed);
  std::vector<float> v = x.to_vector();
  for (float& f : v) f = std::round(f * 8.f) / 8.f;
  Tensor r = Tensor::from_vector(v, s);
  return channels_last ? test::cl(r) : r;
}

TEST(PoolBodies, MaxAndAveragePoolingMatchTheCpuOp) {
  for (const Case& cs : cases())
    for (bool channels_last : {false, true})
      for (bool is_max : {true, false}) {
        SCOPED_TRACE(testing::Message() << shape_str(cs.shape) << " k" << cs.o.kernel << " s" << cs.o.stride << " p"
                                        << cs.o.padding << " include_pad " << cs.o.count_include_pad << " cl "
                                        << channels_last << (is_max ? " max" : " avg"));
        Tensor x = input(cs.shape, 3, channels_last);
        Variable p = test::param(x.clone());
        Variable y = is_max ? max_pool2d(p, cs.o) : avg_pool2d(p, cs.o);
        Tensor gy = input(y.shape(), 4, channels_last);
        y.backward(gy);

        const cuda::PoolArgs a = args_of(x, cs.o);
        // The CPU op keeps the layout; its memory walk is the bodies' index space.
        ASSERT_EQ(y.data().is_channels_last(), channels_last);
        const MemoryFormat fmt = channels_last ? MemoryFormat::channels_last : MemoryFormat::contiguous;
        const Tensor gyc = gy.contiguous(fmt), dx = p.grad().contiguous(fmt);
        const float* px = x.data<float>();
        const float* pg = gyc.data<float>();
        const float* py = y.data().data<float>();
        const float* pdx = dx.data<float>();
        const int64_t n_out = a.n * a.oh * a.ow * a.c, n_in = a.n * a.h * a.w * a.c;
        ASSERT_EQ(n_out, y.numel());
        std::vector<int64_t> idx(static_cast<size_t>(n_out));
        for (int64_t o = 0; o < n_out; ++o) {
          const float v = is_max ? cuda::max_pool_at(a, px, o, &idx[static_cast<size_t>(o)]) : cuda::avg_pool_at(a, px, o);
          ASSERT_EQ(v, py[o]) << "output " << o;
        }
        for (int64_t i = 0; i < n_in; ++i) {
          const float g = is_max ? cuda::max_pool_backward_at(a, pg, idx.data(), i) : cuda::avg_pool_backward_at(a, pg, i);
          // The CPU loop may contract gy * scale + sum into one FMA; the order is the same.
          ASSERT_NEAR(g, pdx[i], 1e-6f * (1.f + std::fabs(pdx[i]))) << "input gradient " << i;
        }
      }
}

TEST(PoolBodies, NanWinsTheMaxLikeOnTheCpu) {
  Tensor x = input({1, 1, 4, 4}, 5, false);
  std::vector<float> v = x.to_vector();
  v[5] = std::numeric_limits<float>::quiet_NaN();
  x = Tensor::from_vector(v, {1, 1, 4, 4});
  const Pool2dOptions o{2, 2, 0};
  const std::vector<float> cpu = max_pool2d(Variable(x), o).data().to_vector();
  const cuda::PoolArgs a = args_of(x, o);
  int64_t idx = -1;
  EXPECT_TRUE(std::isnan(cuda::max_pool_at(a, x.data<float>(), 0, &idx)));
  EXPECT_TRUE(std::isnan(cpu[0]));
  EXPECT_EQ(idx, 5);
  for (int64_t o2 = 1; o2 < 4; ++o2) EXPECT_EQ(cuda::max_pool_at(a, x.data<float>(), o2, &idx), cpu[o2]);
}

}  // namespace
}  // namespace hwnas
