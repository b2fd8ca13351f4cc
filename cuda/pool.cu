#include "cuda/check.h"
#include "cuda/device_math.cuh"
#include "cuda/pool.h"
#include "cuda/runtime.h"

namespace hwnas::cuda {

namespace {

constexpr int kThreads = 256;

cudaStream_t stream_of(int device) { return static_cast<cudaStream_t>(stream(device)); }

int64_t out_numel(const PoolArgs& g) { return g.n * g.oh * g.ow * g.c; }
int64_t in_numel(const PoolArgs& g) { return g.n * g.h * g.w * g.c; }

__global__ void max_pool_forward_kernel(PoolArgs g, const float* x, float* y, int64_t* idx, int64_t n) {
  HWNAS_GRID_STRIDE(o, n) y[o] = max_pool_at(g, x, o, idx + o);
}
__global__ void max_pool_backward_kernel(PoolArgs g, const float* gy, const int64_t* idx, float* dx, int64_t n) {
  HWNAS_GRID_STRIDE(i, n) dx[i] = max_pool_backward_at(g, gy, idx, i);
}
__global__ void avg_pool_forward_kernel(PoolArgs g, const float* x, float* y, int64_t n) {
  HWNAS_GRID_STRIDE(o, n) y[o] = avg_pool_at(g, x, o);
}
__global__ void avg_pool_backward_kernel(PoolArgs g, const float* gy, float* dx, int64_t n) {
  HWNAS_GRID_STRIDE(i, n) dx[i] = avg_pool_backward_at(g, gy, i);
}

}  // namespace

void max_pool_forward(const PoolArgs& g, const float* x, float* y, int64_t* idx, int device) {
  const int64_t n = out_numel(g);
  if (n == 0) return;
  max_pool_forward_kernel<<<grid_size(n, kThreads), kThreads, 0, stream_of(device)>>>(g, x, y, idx, n);
  HWNAS_CUDA_CHECK_LAUNCH("max_pool2d");
}

void max_pool_backward(const PoolArgs& g, const float* gy, const int64_t* idx, float* dx, int device) {
  const int64_t n = in_numel(g);
  if (n == 0) return;
  max_pool_backward_kernel<<<grid_size(n, kThreads), kThreads, 0, stream_of(device)>>>(g, gy, idx, dx, n);
  HWNAS_CUDA_CHECK_LAUNCH("max_pool2d backward");
}

void avg_pool_forward(const PoolArgs& g, const float* x, float* y, int device) {
  const int64_t n = out_numel(g);
  if (n == 0) return;
  avg_pool_forward_kernel<<<grid_size(n, kThreads), kThreads, 0, stream_of(device)>>>(g, x, y, n);
  HWNAS_CUDA_CHECK_LAUNCH("avg_pool2d");
}

void avg_pool_backward(const PoolArgs& g, const float* gy, float* dx, int device) {
  const int64_t n = in_numel(g);
  if (n == 0) return;
  avg_pool_backward_kernel<<<grid_size(n, kThreads), kThreads, 0, stream_of(device)>>>(g, gy, dx, n);
  HWNAS_CUDA_CHECK_LAUNCH("avg_pool2d backward");
}

}  // namespace hwnas::cuda
