#include "cuda/check.h"
#include "cuda/device_math.cuh"
#include "cuda/dropout.h"
#include "cuda/runtime.h"

namespace hwnas::cuda {

namespace {

constexpr int kThreads = 256;

__global__ void dropout_kernel(DropoutArgs a, const float* x, float* y, int64_t n) {
  HWNAS_GRID_STRIDE(i, n) y[i] = dropout_at(a, x[i], static_cast<uint64_t>(i));
}

}  // namespace

void dropout_apply(const DropoutArgs& a, const float* x, float* y, int64_t n, int device) {
  if (n == 0) return;
  dropout_kernel<<<grid_size(n, kThreads), kThreads, 0, static_cast<cudaStream_t>(stream(device))>>>(a, x, y, n);
  HWNAS_CUDA_CHECK_LAUNCH("dropout");
}

}  // namespace hwnas::cuda
