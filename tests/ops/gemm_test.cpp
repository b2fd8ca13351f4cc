#include "ops/gemm.h"

#include <cmath>
#include <limits>
#include <vector>

#include "tests/test_util.h"

using namespace hwnas;

namespace {

std::vector<float> rand_vec(size_t n, uint64_t seed) {
  return test::randn({static_cast<int64_t>(n)}, seed).to_vector();
}

// C = alpha * op(A) op(B) + beta * C with plain loops.
void ref_gemm(bool ta, bool tb, int64_t m, int64_t n, int64_t k, float alpha, const std::vector<float>& a, int64_t lda,
              const std::vector<float>& b, int64_t ldb, float beta, std::vector<float>& c, int64_t ldc) {
  for (int64_t i = 0; i < m; ++i)
    for (int64_t j = 0; j < n; ++j) {
      double s = 0;
      for (int64_t p = 0; p < k; ++p) {
        const float av = ta ? a[p * lda + i] : a[i * lda + p];
        const float bv = tb ? b[j * ldb + p] : b[p * ldb + j];
        s += double(av) * bv;
      }
      c[i * ldc + j] = float(alpha * s + (beta == 0.f ? 0.0 : double(beta) * c[i * ldc + j]));
    }
}

}  // namespace

TEST(Gemm, AllTransposesWithPaddedLeadingDims) {
  const int64_t m = 7, n = 5, k = 9;
  for (int ta = 0; ta < 2; ++ta)
    for (int tb = 0; tb < 2; ++tb) {
      const int64_t lda = (ta ? m : k) + 3, ldb = (tb ? k : n) + 2, ldc = n + 4;
      auto a = rand_vec((ta ? k : m) * lda, 1), b = rand_vec((tb ? n : k) * ldb, 2);
      auto c = rand_vec(m * ldc, 3), c_ref = c;
      sgemm(ta, tb, m, n, k, 0.5f, a.data(), lda, b.data(), ldb, 2.f, c.data(), ldc);
      ref_gemm(ta, tb, m, n, k, 0.5f, a, lda, b, ldb, 2.f, c_ref, ldc);
      for (size_t i = 0; i < c.size(); ++i) ASSERT_NEAR(c[i], c_ref[i], 1e-4f) << "ta=" << ta << " tb=" << tb;
    }
}

TEST(Gemm, EmptyDimensions) {
  std::vector<float> a(4, 1.f), b(4, 1.f);
  std::vector<float> c(6, std::numeric_limits<float>::quiet_NaN());
  // k == 0 with beta == 0 must give zeros even over garbage.
  sgemm(false, false, 2, 3, 0, 1.f, a.data(), 1, b.data(), 3, 0.f, c.data(), 3);
  for (float v : c) EXPECT_EQ(v, 0.f);
  std::vector<float> d(6, 2.f);
  sgemm(false, false, 2, 3, 0, 1.f, a.data(), 1, b.data(), 3, 0.5f, d.data(), 3);
  for (float v : d) EXPECT_EQ(v, 1.f);
  // m == 0 or n == 0: nothing happens.
  sgemm(false, false, 0, 3, 2, 1.f, a.data(), 2, b.data(), 3, 0.f, nullptr, 3);
  sgemm(false, false, 2, 0, 2, 1.f, a.data(), 2, b.data(), 1, 0.f, nullptr, 1);
}

TEST(Gemm, RejectsTooSmallLeadingDimension) {
  std::vector<float> a(16), b(16), c(16);
  EXPECT_THROW(sgemm(false, false, 3, 3, 3, 1.f, a.data(), 2, b.data(), 3, 0.f, c.data(), 3), Error);
}

TEST(Gemm, SumRows) {
  const int64_t rows = 300, cols = 37, lda = 40;
  auto a = rand_vec(rows * lda, 4);
  std::vector<float> out(cols);
  sum_rows(a.data(), rows, cols, lda, out.data());
  for (int64_t j = 0; j < cols; ++j) {
    double s = 0;
    for (int64_t i = 0; i < rows; ++i) s += a[i * lda + j];
    EXPECT_NEAR(out[j], s, 1e-3);
  }
}
