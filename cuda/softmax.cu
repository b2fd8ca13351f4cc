#include "cuda/check.h"
#include "cuda/device_math.cuh"
#include "cuda/runtime.h"
#include "cuda/softmax.h"

namespace hwnas::cuda {

namespace {

__global__ void softmax_fwd_kernel(const float* x, float* y, int64_t outer, int64_t c, int64_t inner, bool log) {
  HWNAS_GRID_STRIDE(col, outer * inner) {
    const int64_t base = (col / inner) * c * inner + col % inner;
    float m = -INFINITY;
    for (int64_t k = 0; k < c; ++k) m = fmaxf(m, x[base + k * inner]);
    float s = 0.f;
    for (int64_t k = 0; k < c; ++k) s += expf(x[base + k * inner] - m);
    if (log) {
      const float shift = m + logf(s);
      for (int64_t k = 0; k < c; ++k) y[base + k * inner] = x[base + k * inner] - shift;
    } else {
      const float inv = 1.f / s;
      for (int64_t k = 0; k < c; ++k) y[base + k * inner] = expf(x[base + k * inner] - m) * inv;
    }
  }
}

__global__ void softmax_bwd_kernel(const float* y, const float* gy, float* gx, int64_t outer, int64_t c, int64_t inner,
                                   bool log) {
  HWNAS_GRID_STRIDE(col, outer * inner) {
    const int64_t base = (col / inner) * c * inner + col % inner;
    float dot = 0.f;
    for (int64_t k = 0; k < c; ++k) {
      const int64_t i = base + k * inner;
      dot += log ? gy[i] : gy[i] * y[i];
    }
    for (int64_t k = 0; k < c; ++k) {
      const int64_t i = base + k * inner;
      gx[i] = log ? gy[i] - expf(y[i]) * dot : y[i] * (gy[i] - dot);
    }
  }
}

}  // namespace

void softmax_forward(const float* x, float* y, int64_t outer, int64_t c, int64_t inner, bool log, int device) {
  if (outer * c * inner == 0) return;
  auto s = static_cast<cudaStream_t>(stream(device));
  softmax_fwd_kernel<<<grid_size(outer * inner, 128), 128, 0, s>>>(x, y, outer, c, inner, log);
  HWNAS_CUDA_CHECK_LAUNCH(log ? "log_softmax" : "softmax");
}

void softmax_backward(const float* y, const float* gy, float* gx, int64_t outer, int64_t c, int64_t inner, bool log,
                      int device) {
  if (outer * c * inner == 0) return;
  auto s = static_cast<cudaStream_t>(stream(device));
  softmax_bwd_kernel<<<grid_size(outer * inner, 128), 128, 0, s>>>(y, gy, gx, outer, c, inner, log);
  HWNAS_CUDA_CHECK_LAUNCH(log ? "log_softmax backward" : "softmax backward");
}

}  // namespace hwnas::cuda
