#include "cuda/check.h"
#include "cuda/copy_kernels.h"

namespace hwnas::cuda {

namespace {

// Offset in elements of logical (row-major) index i.
__device__ __forceinline__ int64_t offset_of(int64_t i, const StridedLayout& l) {
  int64_t off = 0;
  for (int d = l.nd - 1; d >= 0; --d) {
    const int64_t s = l.shape[d];
    off += (i % s) * l.stride[d];
    i /= s;
  }
  return off;
}

template <class D, class S>
__global__ void copy_strided_kernel(D* dst, StridedLayout dl, const S* src, StridedLayout sl, int64_t n) {
  for (int64_t i = blockIdx.x * static_cast<int64_t>(blockDim.x) + threadIdx.x; i < n;
       i += static_cast<int64_t>(gridDim.x) * blockDim.x)
    dst[offset_of(i, dl)] = static_cast<D>(src[offset_of(i, sl)]);
}

template <class T>
__global__ void fill_kernel(T* dst, StridedLayout l, T v, int64_t n) {
  for (int64_t i = blockIdx.x * static_cast<int64_t>(blockDim.x) + threadIdx.x; i < n;
       i += static_cast<int64_t>(gridDim.x) * blockDim.x)
    dst[offset_of(i, l)] = v;
}

unsigned grid_for(int64_t n, int threads) {
  const int64_t blocks = (n + threads - 1) / threads;
  return static_cast<unsigned>(blocks < 65536 ? blocks : 65536);  // grid-stride loops cover the rest
}

template <class D>
void copy_from(D* dst, const StridedLayout& dl, const void* src, ElemType st, const StridedLayout& sl, int64_t n,
               cudaStream_t s) {
  constexpr int kThreads = 256;
  if (st == ElemType::f32)
    copy_strided_kernel<<<grid_for(n, kThreads), kThreads, 0, s>>>(dst, dl, static_cast<const float*>(src), sl, n);
  else
    copy_strided_kernel<<<grid_for(n, kThreads), kThreads, 0, s>>>(dst, dl, static_cast<const int64_t*>(src), sl, n);
}

}  // namespace

void launch_copy_strided(void* dst, ElemType dst_type, const StridedLayout& dst_layout, const void* src,
                         ElemType src_type, const StridedLayout& src_layout, int64_t n, void* stream) {
  if (n == 0) return;
  auto s = static_cast<cudaStream_t>(stream);
  if (dst_type == ElemType::f32)
    copy_from(static_cast<float*>(dst), dst_layout, src, src_type, src_layout, n, s);
  else
    copy_from(static_cast<int64_t*>(dst), dst_layout, src, src_type, src_layout, n, s);
  HWNAS_CUDA_CHECK_LAUNCH("copy_");
}

void launch_fill(void* dst, ElemType type, const StridedLayout& layout, double value, int64_t n, void* stream) {
  if (n == 0) return;
  constexpr int kThreads = 256;
  auto s = static_cast<cudaStream_t>(stream);
  if (type == ElemType::f32)
    fill_kernel<<<grid_for(n, kThreads), kThreads, 0, s>>>(static_cast<float*>(dst), layout, static_cast<float>(value), n);
  else
    fill_kernel<<<grid_for(n, kThreads), kThreads, 0, s>>>(static_cast<int64_t*>(dst), layout,
                                                           static_cast<int64_t>(value), n);
  HWNAS_CUDA_CHECK_LAUNCH("fill_");
}

}  // namespace hwnas::cuda
