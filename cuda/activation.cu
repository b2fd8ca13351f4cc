#include "cuda/activation.h"
#include "cuda/check.h"
#include "cuda/device_math.cuh"
#include "cuda/runtime.h"

namespace hwnas::cuda {

namespace {

// The activation is a template parameter so each kernel is one straight-line formula.
template <Activation A>
__global__ void act_fwd_kernel(const float* x, float* y, int64_t n) {
  HWNAS_GRID_STRIDE(i, n) y[i] = act_forward(A, x[i]);
}

template <Activation A>
__global__ void act_bwd_kernel(const float* x, const float* gy, float* gx,
                               int64_t n) {
  HWNAS_GRID_STRIDE(i, n) gx[i] = act_backward(A, x[i], gy[i]);
}


constexpr int kThreads = 256;

template <Activation A>
void fwd(const float* x, float* y, int64_t n, cudaStream_t s) {
  act_fwd_kernel<A><<<grid_size(n, kThreads), kThreads, 0, s>>>(x, y, n);
}
template <Activation A>
void bwd(const float* x, const float* gy, float* gx, int64_t n, cudaStream_t s) {
  act_bwd_kernel<A><<<grid_size(n, kThreads), kThreads, 0, s>>>(x, gy, gx, n);
}

}  // namespace

void activation_forward(Activation a, const float* x, float* y, int64_t n, int device) {
  if (n == 0) return;
  auto s = static_cast<cudaStream_t>(stream(device));
  switch (a) {
    case Activation::none: HWNAS_CUDA_CHECK(cudaMemcpyAsync(y, x, n * sizeof(float), cudaMemcpyDeviceToDevice, s), "activation"); return;
    case Activation::relu: fwd<Activation::relu>(x, y, n, s); break;
    case Activation::relu6: fwd<Activation::relu6>(x, y, n, s); break;
    case Activation::hswish: fwd<Activation::hswish>(x, y, n, s); break;
    case Activation::hsigmoid: fwd<Activation::hsigmoid>(x, y, n, s); break;
    case Activation::sigmoid: fwd<Activation::sigmoid>(x, y, n, s); break;
    case Activation::swish: fwd<Activation::swish>(x, y, n, s); break;
  }
  HWNAS_CUDA_CHECK_LAUNCH("activation forward");
}

void activation_backward(Activation a, const float* x, const float* gy, float* gx, int64_t n, int device) {
  if (n == 0) return;
  auto s = static_cast<cudaStream_t>(stream(device));
  switch (a) {
    case Activation::none: HWNAS_CUDA_CHECK(cudaMemcpyAsync(gx, gy, n * sizeof(float), cudaMemcpyDeviceToDevice, s), "activation"); return;
    case Activation::relu: bwd<Activation::relu>(x, gy, gx, n, s); break;
    case Activation::relu6: bwd<Activation::relu6>(x, gy, gx, n, s); break;
    case Activation::hswish: bwd<Activation::hswish>(x, gy, gx, n, s); break;
    case Activation::hsigmoid: bwd<Activation::hsigmoid>(x, gy, gx, n, s); break;
    case Activation::sigmoid: bwd<Activation::sigmoid>(x, gy, gx, n, s); break;
    case Activation::swish: bwd<Activation::swish>(x, gy, gx, n, s); break;
  }
  HWNAS_CUDA_CHECK_LAUNCH("activation backward");
}

}  // namespace hwnas::cuda
