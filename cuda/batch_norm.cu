#include "cuda/batch_norm.h"
#include "cuda/check.h"
#include "cuda/device_math.cuh"
#include "cuda/runtime.h"

namespace hwnas::cuda {

namespace {

// Channel reductions: a block covers 32 consecutive channels (one per lane: coalesced 128-byte
// row segments) and kRowLanes row lanes; blocks along y split the rows, and each block adds its
// partial sums to the outputs with one atomic per channel and accumulator.
constexpr int kRowLanes = 8;
constexpr int64_t kRowsPerBlock = 256;

dim3 reduce_grid(int64_t m, int64_t c) {
  const int64_t yb = (m + kRowsPerBlock - 1) / kRowsPerBlock;
  return dim3(static_cast<unsigned>((c + 31) / 32), static_cast<unsigned>(yb < 65535 ? (yb > 0 ? yb : 1) : 65535));
}

// Sums of x - shift[c] (Power 1) or of (x - shift[c])^2 (Power 2) over the rows, added into out[c].
template <int Power>
__global__ void channel_sum_kernel(const float* x, int64_t m, int64_t c, const float* shift, float* out) {
  __shared__ float part[kRowLanes][32];
  const int64_t ch = blockIdx.x * 32 + threadIdx.x;
  float acc = 0.f;
  if (ch < c) {
    const float s = shift ? shift[ch] : 0.f;
    for (int64_t r = blockIdx.y * static_cast<int64_t>(kRowLanes) + threadIdx.y; r < m;
         r += static_cast<int64_t>(gridDim.y) * kRowLanes) {
      const float v = x[r * c + ch] - s;
      acc += Power == 1 ? v : v * v;
    }
  }
  part[threadIdx.y][threadIdx.x] = acc;
  __syncthreads();
  if (threadIdx.y == 0 && ch < c) {
    float t = 0.f;
    for (int i = 0; i < kRowLanes; ++i) t += part[i][threadIdx.x];
    atomicAdd(out + ch, t);
  }
}


__global__ void copy_scaled_kernel(const float* src, float* dst, int64_t n, float s) {
  HWNAS_GRID_STRIDE(i, n) dst[i] = src[i] * s;
}

__global__ void prepare_kernel(int64_t c, const float* mean, const float* var, const float* gamma, const float* beta,
                               float eps, float* invstd, float* a, float* b, float momentum, float* rm, int64_t rms,
                               float* rv, int64_t rvs, float unbias) {
  HWNAS_GRID_STRIDE(j, c) {
    const float is = rsqrtf(var[j] + eps);
    const float g = gamma ? gamma[j] : 1.f, be = beta ? beta[j] : 0.f;
    invstd[j] = is;
    a[j] = g * is;
    b[j] = be - mean[j] * g * is;
    if (momentum >= 0.f) {
      if (rm) rm[j * rms] = (1.f - momentum) * rm[j * rms] + momentum * mean[j];
      if (rv) rv[j * rvs] = (1.f - momentum) * rv[j * rvs] + momentum * unbias * var[j];
    }
  }
}

__global__ void apply_kernel(const float* x, float* y, const float* a, const float* b, Activation act, int64_t m,
                             int64_t c) {
  HWNAS_GRID_STRIDE(i, m * c) {
    const int64_t j = i % c;
    y[i] = act_forward(act, x[i] * a[j] + b[j]);
  }
}

__global__ void reduce_grad_kernel(const float* x, const float* gy, const float* a, const float* b, Activation act,
                                   const float* mean, int64_t m, int64_t c, float* sum_g, float* sum_gxc) {
  __shared__ float pg[kRowLanes][32], pgx[kRowLanes][32];
  const int64_t ch = blockIdx.x * 32 + threadIdx.x;
  float sg = 0.f, sgx = 0.f;
  if (ch < c) {
    const float aj = a[ch], bj = b[ch], mj = mean[ch];
    for (int64_t r = blockIdx.y * static_cast<int64_t>(kRowLanes) + threadIdx.y; r < m;
         r += static_cast<int64_t>(gridDim.y) * kRowLanes) {
      const float xv = x[r * c + ch];
      const float gz = act_backward(act, xv * aj + bj, gy[r * c + ch]);
      sg += gz;
      sgx += gz * (xv - mj);
    }
  }
  pg[threadIdx.y][threadIdx.x] = sg;
  pgx[threadIdx.y][threadIdx.x] = sgx;
  __syncthreads();
  if (threadIdx.y == 0 && ch < c) {
    float t = 0.f, tx = 0.f;
    for (int i = 0; i < kRowLanes; ++i) {
      t += pg[i][threadIdx.x];
      tx += pgx[i][threadIdx.x];
    }
    atomicAdd(sum_g + ch, t);
    atomicAdd(sum_gxc + ch, tx);
  }
}

__global__ void input_grad_kernel(const float* x, const float* gy, const float* a, const float* b, Activation act,
                                  const float* mean, const float* invstd, const float* sum_g, const float* sum_gxc,
                                  bool training, float inv_count, int64_t m, int64_t c, float* dx) {
  HWNAS_GRID_STRIDE(i, m * c) {
    const int64_t j = i % c;
    const float xv = x[i];
    const float gz = act_backward(act, xv * a[j] + b[j], gy[i]);
    float q = 0.f, r = 0.f;
    if (training) {
      const float k = invstd[j] * invstd[j] * sum_gxc[j] * inv_count;
      q = -a[j] * k;
      r = -a[j] * sum_g[j] * inv_count + a[j] * k * mean[j];
    }
    dx[i] = a[j] * gz + q * xv + r;
  }
}

__global__ void param_grad_kernel(const float* invstd, const float* sum_g, const float* sum_gxc, int64_t c,
                                  float* dgamma, float* dbeta) {
  HWNAS_GRID_STRIDE(j, c) {
    if (dgamma) dgamma[j] = sum_gxc[j] * invstd[j];
    if (dbeta) dbeta[j] = sum_g[j];
  }
}

constexpr int kThreads = 256;

}  // namespace

void bn_stats(const float* x, int64_t m, int64_t c, float* mean, float* var, float* sums, int device) {
  if (c == 0) return;
  auto s = static_cast<cudaStream_t>(stream(device));
  HWNAS_CUDA_CHECK(cudaMemsetAsync(sums, 0, 2 * c * sizeof(float), s), "batch_norm");
  const dim3 block(32, kRowLanes), grid = reduce_grid(m, c);
  const float inv = 1.f / static_cast<float>(m > 0 ? m : 1);
  channel_sum_kernel<1><<<grid, block, 0, s>>>(x, m, c, nullptr, sums);
  copy_scaled_kernel<<<grid_size(c, kThreads), kThreads, 0, s>>>(sums, mean, c, inv);
  channel_sum_kernel<2><<<grid, block, 0, s>>>(x, m, c, mean, sums + c);
  copy_scaled_kernel<<<grid_size(c, kThreads), kThreads, 0, s>>>(sums + c, var, c, inv);
  HWNAS_CUDA_CHECK_LAUNCH("batch_norm statistics");
}

void bn_prepare(int64_t c, const float* mean, const float* var, const float* gamma, const float* beta, float eps,
                float* invstd, float* a, float* b, float momentum, float* running_mean, int64_t rm_stride,
                float* running_var, int64_t rv_stride, int64_t count, int device) {
  if (c == 0) return;
  auto s = static_cast<cudaStream_t>(stream(device));
  const float unbias = count > 1 ? static_cast<float>(count) / static_cast<float>(count - 1) : 1.f;
  prepare_kernel<<<grid_size(c, kThreads), kThreads, 0, s>>>(c, mean, var, gamma, beta, eps, invstd, a, b, momentum,
                                                              running_mean, rm_stride, running_var, rv_stride, unbias);
  HWNAS_CUDA_CHECK_LAUNCH("batch_norm");
}

void bn_apply(const float* x, float* y, const float* a, const float* b, Activation act, int64_t m, int64_t c,
              int device) {
  if (m * c == 0) return;
  auto s = static_cast<cudaStream_t>(stream(device));
  apply_kernel<<<grid_size(m * c, kThreads), kThreads, 0, s>>>(x, y, a, b, act, m, c);
  HWNAS_CUDA_CHECK_LAUNCH("batch_norm");
}

void bn_reduce_grad(const float* x, const float* gy, const float* a, const float* b, Activation act, const float* mean,
                    int64_t m, int64_t c, float* sums2, int device) {
  if (c == 0) return;
  auto s = static_cast<cudaStream_t>(stream(device));
  HWNAS_CUDA_CHECK(cudaMemsetAsync(sums2, 0, 2 * c * sizeof(float), s), "batch_norm backward");
  reduce_grad_kernel<<<reduce_grid(m, c), dim3(32, kRowLanes), 0, s>>>(x, gy, a, b, act, mean, m, c, sums2, sums2 + c);
  HWNAS_CUDA_CHECK_LAUNCH("batch_norm backward");
}

void bn_input_grad(const float* x, const float* gy, const float* a, const float* b, Activation act, const float* mean,
                   const float* invstd, const float* sums2, bool training, int64_t m, int64_t c, float* dx,
                   float* dgamma, float* dbeta, int device) {
  auto s = static_cast<cudaStream_t>(stream(device));
  if (dx && m * c > 0)
    input_grad_kernel<<<grid_size(m * c, kThreads), kThreads, 0, s>>>(
        x, gy, a, b, act, mean, invstd, sums2, sums2 + c, training, 1.f / static_cast<float>(m), m, c, dx);
  if ((dgamma || dbeta) && c > 0)
    param_grad_kernel<<<grid_size(c, kThreads), kThreads, 0, s>>>(invstd, sums2, sums2 + c, c, dgamma, dbeta);
  HWNAS_CUDA_CHECK_LAUNCH("batch_norm backward");
}

}  // namespace hwnas::cuda
