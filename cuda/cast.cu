#include "cuda/cast.h"
#include "cuda/check.h"
#include "cuda/device_math.cuh"
#include "cuda/runtime.h"

namespace hwnas::cuda {

namespace {

constexpr int kThreads = 256;

__global__ void to_bf16_kernel(const float* src, uint16_t* dst, int64_t n) {
  HWNAS_GRID_STRIDE(i, n) dst[i] = bf16_bits_of(src[i]);
}

__global__ void to_f32_kernel(const uint16_t* src, float* dst, int64_t n) {
  HWNAS_GRID_STRIDE(i, n) dst[i] = f32_of_bf16_bits(src[i]);
}

cudaStream_t stream_of(int device) { return static_cast<cudaStream_t>(stream(device)); }

}  // namespace

void cast_f32_to_bf16(const float* src, uint16_t* dst, int64_t n, int device) {
  if (n == 0) return;
  to_bf16_kernel<<<grid_size(n, kThreads), kThreads, 0, stream_of(device)>>>(src, dst, n);
  HWNAS_CUDA_CHECK_LAUNCH("cast to bf16");
}

void cast_bf16_to_f32(const uint16_t* src, float* dst, int64_t n, int device) {
  if (n == 0) return;
  to_f32_kernel<<<grid_size(n, kThreads), kThreads, 0, stream_of(device)>>>(src, dst, n);
  HWNAS_CUDA_CHECK_LAUNCH("cast from bf16");
}

}  // namespace hwnas::cuda
