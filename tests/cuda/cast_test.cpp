// The f32 -> bf16 rounding the autocast kernels use (cuda/cast.h), on the host: round to
// nearest with ties to even, overflow to infinity, NaN kept, values bf16 holds exactly kept.
#include <gtest/gtest.h>

#include <cmath>
#include <limits>

#include "cuda/cast.h"

namespace hwnas {
namespace {

uint16_t to_bf16(uint32_t f32_bits) { return cuda::bf16_bits_of(cuda::f32_of_bits(f32_bits)); }

TEST(Bf16Cast, RoundsToNearestWithTiesToEven) {
  EXPECT_EQ(to_bf16(0x3f800000u), 0x3f80);  // 1.0, exact
  EXPECT_EQ(to_bf16(0x3f807fffu), 0x3f80);  // just below the halfway point: down
  EXPECT_EQ(to_bf16(0x3f808000u), 0x3f80);  // halfway, even neighbour below: down
  EXPECT_EQ(to_bf16(0x3f808001u), 0x3f81);  // just above halfway: up
  EXPECT_EQ(to_bf16(0x3f818000u), 0x3f82);  // halfway, even neighbour above: up
  EXPECT_EQ(to_bf16(0xbf818000u), 0xbf82);  // the same for negatives
  EXPECT_EQ(to_bf16(0x3f7fffffu), 0x3f80);  // the carry reaches the exponent: 1 - 2^-24 -> 1.0
  EXPECT_EQ(to_bf16(0x00018000u), 0x0002);  // subnormals round the same way
}

TEST(Bf16Cast, SpecialValues) {
  const float inf = std::numeric_limits<float>::infinity();
  EXPECT_EQ(cuda::bf16_round(inf), inf);
  EXPECT_EQ(cuda::bf16_round(-inf), -inf);
  EXPECT_EQ(cuda::bf16_round(std::numeric_limits<float>::max()), inf);  // above bf16's largest + half an ulp
  EXPECT_TRUE(std::isnan(cuda::bf16_round(std::numeric_limits<float>::quiet_NaN())));
  EXPECT_TRUE(std::isnan(cuda::f32_of_bf16_bits(to_bf16(0x7f800001u))));  // a signalling NaN stays a NaN
  EXPECT_TRUE(std::signbit(cuda::bf16_round(-0.f)));
}

TEST(Bf16Cast, ValuesBf16HoldsSurviveAndOthersMoveByAtMostHalfAnUlp) {
  for (float v : {0.f, 1.f, -2.5f, 0.15625f, 3.0e38f, 1e-30f}) {
    const float r = cuda::bf16_round(v);
    EXPECT_EQ(cuda::bf16_round(r), r) << v;  // idempotent
    EXPECT_LE(std::fabs(r - v), std::fabs(v) * 0x1p-8f) << v;  // 8 significant bits
  }
  EXPECT_EQ(cuda::bf16_round(1.f + 0x1p-7f), 1.f + 0x1p-7f);  // exactly representable
  EXPECT_EQ(cuda::bf16_round(0.1f), 0.10009765625f);
}

}  // namespace
}  // namespace hwnas
