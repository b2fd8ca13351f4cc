#pragma once
// f32 <-> bf16 conversion for bf16 autocast (ops/autocast.h): the rounding as HWNAS_HD functions
// (round to nearest, ties to even, NaN kept a NaN; the rounding of __float2bfloat16_rn), tested on
// the host (tests/cuda/cast_test.cpp), and the kernels that convert dense device arrays with them.
// bf16 is stored as its 16 bits (uint16_t): the upper half of the f32 with the same value.
// Plain C++: no Tensor, no fmt, no CUDA types.
#include <cstdint>
#include <cstring>

#include "cuda/host_device.h"

namespace hwnas::cuda {

HWNAS_HD uint32_t f32_bits(float f) {
#if defined(__CUDA_ARCH__)
  return __float_as_uint(f);
#else
  uint32_t u;
  std::memcpy(&u, &f, sizeof u);
  return u;
#endif
}

HWNAS_HD float f32_of_bits(uint32_t u) {
#if defined(__CUDA_ARCH__)
  return __uint_as_float(u);
#else
  float f;
  std::memcpy(&f, &u, sizeof f);
  return f;
#endif
}

HWNAS_HD uint16_t bf16_bits_of(float f) {
  const uint32_t u = f32_bits(f);
  if ((u & 0x7fffffffu) > 0x7f800000u) return static_cast<uint16_t>((u >> 16) | 0x0040u);  // quiet NaN
  // Adding 0x7fff plus the lowest kept bit rounds to nearest with ties to even; an overflow
  // carries into the exponent, which is the correctly rounded result (up to infinity).
  return static_cast<uint16_t>((u + 0x7fffu + ((u >> 16) & 1u)) >> 16);
}

HWNAS_HD float f32_of_bf16_bits(uint16_t b) { return f32_of_bits(static_cast<uint32_t>(b) << 16); }

// The f32 value a bf16 round trip leaves (what an autocast op sees of its operand).
HWNAS_HD float bf16_round(float f) { return f32_of_bf16_bits(bf16_bits_of(f)); }

// Launches over dense device arrays on `device`'s stream.
void cast_f32_to_bf16(const float* src, uint16_t* dst, int64_t n, int device);
void cast_bf16_to_f32(const uint16_t* src, float* dst, int64_t n, int device);

}  // namespace hwnas::cuda
