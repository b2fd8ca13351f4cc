#pragma once
// Dropout's mask as a counter-based hash: element i of a call is kept when the top 32 bits of
// splitmix64(seed + i * golden) are at least p * 2^32. The CPU op (ops/dropout.cpp) and the CUDA
// kernel compute the same bits, so a seeded run drops the same elements on either device, and
// the backward recomputes the mask from the seed instead of keeping it (no mask in memory).
// Plain C++: no Tensor, no fmt, no CUDA types.
#include <cstdint>

#include "cuda/host_device.h"

namespace hwnas::cuda {

struct DropoutArgs {
  uint64_t seed = 0;
  uint64_t threshold = 0;  // p * 2^32 (2^32 when p == 1: nothing is kept)
  float scale = 0.f;       // 1 / (1 - p), applied to kept elements
};

HWNAS_HD bool dropout_keeps(const DropoutArgs& a, uint64_t i) {
  uint64_t z = a.seed + (i + 1) * 0x9E3779B97F4A7C15ull;
  z = (z ^ (z >> 30)) * 0xBF58476D1CE4E5B9ull;
  z = (z ^ (z >> 27)) * 0x94D049BB133111EBull;
  z ^= z >> 31;
  return (z >> 32) >= a.threshold;
}

// y[i] = keeps(i) ? x[i] * scale : 0 over n elements; forward (x) and backward (gy) alike.
HWNAS_HD float dropout_at(const DropoutArgs& a, float x, uint64_t i) { return dropout_keeps(a, i) ? x * a.scale : 0.f; }

// Launch: dense device arrays on `device`'s stream.
void dropout_apply(const DropoutArgs& a, const float* x, float* y, int64_t n, int device);

}  // namespace hwnas::cuda
