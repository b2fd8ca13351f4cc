#pragma once
// Device-side helpers shared by the kernels: grid sizes for grid-stride loops, the activation
// formulas (one place, as ops/activation.cpp is for the CPU), a block-wide sum.
#include <cstdint>

#include "cuda/copy_kernels.h"
#include "ops/activation_kind.h"

namespace hwnas::cuda {

inline unsigned grid_size(int64_t n, int threads) {
  const int64_t blocks = (n + threads - 1) / threads;
  return static_cast<unsigned>(blocks < 65536 ? (blocks > 0 ? blocks : 1) : 65536);
}

#define HWNAS_GRID_STRIDE(i, n)                                                              \
  for (int64_t i = blockIdx.x * static_cast<int64_t>(blockDim.x) + threadIdx.x; i < (n); \
       i += static_cast<int64_t>(gridDim.x) * blockDim.x)

__device__ __forceinline__ float relu6_of(float v) { return v < 0.f ? 0.f : (v > 6.f ? 6.f : v); }
__device__ __forceinline__ float sigmoid_of(float v) { return 1.f / (1.f + expf(-v)); }

__device__ __forceinline__ float act_forward(Activation a, float v) {
  switch (a) {
    case Activation::relu: return v < 0.f ? 0.f : v;
    case Activation::relu6: return relu6_of(v);
    case Activation::hswish: return v * relu6_of(v + 3.f) * (1.f / 6.f);
    case Activation::hsigmoid: return relu6_of(v + 3.f) * (1.f / 6.f);
    case Activation::sigmoid: return sigmoid_of(v);
    case Activation::swish: return v * sigmoid_of(v);
    case Activation::none: break;
  }
  return v;
}

// gy * act'(v); derivatives at the kinks as in PyTorch (see ops/activation.cpp).
__device__ __forceinline__ float act_backward(Activation a, float v, float g) {
  switch (a) {
    case Activation::relu: return v > 0.f ? g : 0.f;
    case Activation::relu6: return (v > 0.f && v < 6.f) ? g : 0.f;
    case Activation::hswish: return v < -3.f ? 0.f : (v <= 3.f ? g * (v * (1.f / 3.f) + 0.5f) : g);
    case Activation::hsigmoid: return (v > -3.f && v < 3.f) ? g * (1.f / 6.f) : 0.f;
    case Activation::sigmoid: {
      const float s = sigmoid_of(v);
      return g * s * (1.f - s);
    }
    case Activation::swish: {
      const float s = sigmoid_of(v);
      return g * s * (1.f + v * (1.f - s));
    }
    case Activation::none: break;
  }
  return g;
}

// Offset in elements of row-major logical index i in a strided layout.
__device__ __forceinline__ int64_t strided_offset(int64_t i, const StridedLayout& l) {
  int64_t off = 0;
  for (int d = l.nd - 1; d >= 0; --d) {
    const int64_t s = l.shape[d];
    off += (i % s) * l.stride[d];
    i /= s;
  }
  return off;
}

// Sum of v over the block (blockDim.x a multiple of 32, at most 1024); the result in thread 0.
__device__ __forceinline__ float block_sum(float v) {
  __shared__ float warp_sums[32];
  for (int o = 16; o > 0; o >>= 1) v += __shfl_down_sync(0xffffffffu, v, o);
  const int lane = threadIdx.x & 31, warp = threadIdx.x >> 5;
  if (lane == 0) warp_sums[warp] = v;
  __syncthreads();
  if (warp == 0) {
    v = lane < static_cast<int>(blockDim.x >> 5) ? warp_sums[lane] : 0.f;
    for (int o = 16; o > 0; o >>= 1) v += __shfl_down_sync(0xffffffffu, v, o);
  }
  __syncthreads();  // warp_sums reusable by the next call
  return v;
}

}  // namespace hwnas::cuda
