#include "cuda/check.h"
#include "cuda/device_math.cuh"
#include "cuda/loss.h"
#include "cuda/runtime.h"

namespace hwnas::cuda {

namespace {

constexpr int kWarpsPerBlock = 8;

__device__ __forceinline__ float warp_max(float v) {
  for (int o = 16; o > 0; o >>= 1) v = fmaxf(v, __shfl_xor_sync(0xffffffffu, v, o));
  return v;
}
__device__ __forceinline__ float warp_sum(float v) {
  for (int o = 16; o > 0; o >>= 1) v += __shfl_xor_sync(0xffffffffu, v, o);
  return v;
}

__global__ void ce_forward_kernel(const float* x, const int64_t* labels, int64_t n, int64_t c, float eps, float* lse,
                                  float* loss_rows) {
  const int64_t row = blockIdx.x * static_cast<int64_t>(kWarpsPerBlock) + threadIdx.x / 32;
  const int lane = threadIdx.x & 31;
  if (row >= n) return;
  const float* xr = x + row * c;
  float m = -INFINITY;
  for (int64_t k = lane; k < c; k += 32) m = fmaxf(m, xr[k]);
  m = warp_max(m);
  float s = 0.f, sx = 0.f;
  for (int64_t k = lane; k < c; k += 32) {
    s += expf(xr[k] - m);
    sx += xr[k];
  }
  s = warp_sum(s);
  sx = warp_sum(sx);
  if (lane == 0) {
    const float l = m + logf(s);
    lse[row] = l;
    loss_rows[row] = l - (1.f - eps) * xr[labels[row]] - eps / static_cast<float>(c) * sx;
  }
}

__global__ void ce_backward_kernel(const float* x, const float* lse, const int64_t* labels, const float* gy, int64_t n,
                                   int64_t c, float eps, float* gx) {
  const float scale = *gy / static_cast<float>(n), off = eps / static_cast<float>(c);
  HWNAS_GRID_STRIDE(i, n * c) {
    const int64_t row = i / c, k = i % c;
    const float p = expf(x[i] - lse[row]);
    gx[i] = scale * (p - off - (k == labels[row] ? 1.f - eps : 0.f));
  }
}

}  // namespace

void cross_entropy_forward(const float* x, const int64_t* labels, int64_t n, int64_t c, float eps, float* lse,
                           float* loss_rows, int device) {
  if (n == 0) return;
  auto s = static_cast<cudaStream_t>(stream(device));
  const auto blocks = static_cast<unsigned>((n + kWarpsPerBlock - 1) / kWarpsPerBlock);
  ce_forward_kernel<<<blocks, 32 * kWarpsPerBlock, 0, s>>>(x, labels, n, c, eps, lse, loss_rows);
  HWNAS_CUDA_CHECK_LAUNCH("cross_entropy");
}

void cross_entropy_backward(const float* x, const float* lse, const int64_t* labels, const float* gy, int64_t n,
                            int64_t c, float eps, float* gx, int device) {
  if (n == 0) return;
  auto s = static_cast<cudaStream_t>(stream(device));
  ce_backward_kernel<<<grid_size(n * c, 256), 256, 0, s>>>(x, lse, labels, gy, n, c, eps, gx);
  HWNAS_CUDA_CHECK_LAUNCH("cross_entropy backward");
}

}  // namespace hwnas::cuda
