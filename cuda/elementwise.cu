#include "cuda/check.h"
#include "cuda/device_math.cuh"
#include "cuda/elementwise.h"
#include "cuda/runtime.h"

namespace hwnas::cuda {

namespace {

constexpr int kThreads = 256;

template <BinaryKind K>
__device__ __forceinline__ float apply(float x, float y) {
  if constexpr (K == BinaryKind::add) return x + y;
  else if constexpr (K == BinaryKind::sub) return x - y;
  else if constexpr (K == BinaryKind::mul) return x * y;
  else return x / y;
}

template <BinaryKind K>
__global__ void flat_kernel(float* out, const float* a, const float* b, int64_t n) {
  HWNAS_GRID_STRIDE(i, n) out[i] = apply<K>(a[i], b[i]);
}

template <BinaryKind K>
__global__ void strided_kernel(float* out, StridedLayout lo, const float* a, StridedLayout la, const float* b,
                               StridedLayout lb, int64_t n) {
  HWNAS_GRID_STRIDE(i, n) out[strided_offset(i, lo)] = apply<K>(a[strided_offset(i, la)], b[strided_offset(i, lb)]);
}

__global__ void axpb_kernel(const float* x, float* y, float alpha, float beta, int64_t n) {
  HWNAS_GRID_STRIDE(i, n) y[i] = alpha * x[i] + beta;
}

template <BinaryKind K>
void launch(float* out, const StridedLayout* lo, const float* a, const StridedLayout* la, const float* b,
            const StridedLayout* lb, int64_t n, cudaStream_t s) {
  if (lo) strided_kernel<K><<<grid_size(n, kThreads), kThreads, 0, s>>>(out, *lo, a, *la, b, *lb, n);
  else flat_kernel<K><<<grid_size(n, kThreads), kThreads, 0, s>>>(out, a, b, n);
}

void dispatch(BinaryKind op, float* out, const StridedLayout* lo, const float* a, const StridedLayout* la,
              const float* b, const StridedLayout* lb, int64_t n, int device) {
  if (n == 0) return;
  auto s = static_cast<cudaStream_t>(stream(device));
  switch (op) {
    case BinaryKind::add: launch<BinaryKind::add>(out, lo, a, la, b, lb, n, s); break;
    case BinaryKind::sub: launch<BinaryKind::sub>(out, lo, a, la, b, lb, n, s); break;
    case BinaryKind::mul: launch<BinaryKind::mul>(out, lo, a, la, b, lb, n, s); break;
    case BinaryKind::div: launch<BinaryKind::div>(out, lo, a, la, b, lb, n, s); break;
  }
  HWNAS_CUDA_CHECK_LAUNCH("elementwise");
}

}  // namespace

void binary_flat(BinaryKind op, float* out, const float* a, const float* b, int64_t n, int device) {
  dispatch(op, out, nullptr, a, nullptr, b, nullptr, n, device);
}

void binary_strided(BinaryKind op, float* out, const StridedLayout& lo, const float* a, const StridedLayout& la,
                    const float* b, const StridedLayout& lb, int64_t n, int device) {
  dispatch(op, out, &lo, a, &la, b, &lb, n, device);
}

void axpb(const float* x, float* y, float alpha, float beta, int64_t n, int device) {
  if (n == 0) return;
  auto s = static_cast<cudaStream_t>(stream(device));
  axpb_kernel<<<grid_size(n, kThreads), kThreads, 0, s>>>(x, y, alpha, beta, n);
  HWNAS_CUDA_CHECK_LAUNCH("scale");
}

}  // namespace hwnas::cuda
