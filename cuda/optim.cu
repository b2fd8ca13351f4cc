#include "cuda/check.h"
#include "cuda/device_math.cuh"
#include "cuda/optim.h"
#include "cuda/runtime.h"

namespace hwnas::cuda {

namespace {

constexpr int kThreads = 256;

__global__ void sgd_kernel(TensorList l, SgdScalars s) {
  int t = 0;
  const bool plain = s.momentum == 0.f;
  HWNAS_GRID_STRIDE(i, l.begin[l.count]) {
    t = tensor_of(l, i, t);
    const int64_t j = i - l.begin[t];
    if (plain) sgd_update_plain(l.w[t][j], l.grad[t][j], s);
    else sgd_update(l.w[t][j], l.grad[t][j], l.state1[t][j], s);
  }
}

__global__ void adamw_kernel(TensorList l, AdamWScalars s) {
  int t = 0;
  HWNAS_GRID_STRIDE(i, l.begin[l.count]) {
    t = tensor_of(l, i, t);
    const int64_t j = i - l.begin[t];
    adamw_update(l.w[t][j], l.grad[t][j], l.state1[t][j], l.state2[t][j], s);
  }
}

}  // namespace

void sgd_step(const TensorList& l, const SgdScalars& s, int device) {
  const int64_t n = l.begin[l.count];
  if (n == 0) return;
  sgd_kernel<<<grid_size(n, kThreads), kThreads, 0, static_cast<cudaStream_t>(stream(device))>>>(l, s);
  HWNAS_CUDA_CHECK_LAUNCH("sgd step");
}

void adamw_step(const TensorList& l, const AdamWScalars& s, int device) {
  const int64_t n = l.begin[l.count];
  if (n == 0) return;
  adamw_kernel<<<grid_size(n, kThreads), kThreads, 0, static_cast<cudaStream_t>(stream(device))>>>(l, s);
  HWNAS_CUDA_CHECK_LAUNCH("adamw step");
}

}  // namespace hwnas::cuda
