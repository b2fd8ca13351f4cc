// Strided copy and fill: one thread per logical element, offsets from each side's strides.
#include "cuda/check.h"
#include "cuda/copy_kernels.h"
#include "cuda/device_math.cuh"

namespace hwnas::cuda {

namespace {

template <class D, class S>
__global__ void copy_strided_kernel(D* dst, StridedLayout dl, const S* src, StridedLayout sl, int64_t n) {
  HWNAS_GRID_STRIDE(i, n) dst[strided_offset(i, dl)] = static_cast<D>(src[strided_offset(i, sl)]);
}

template <class T>
__global__ void fill_kernel(T* dst, StridedLayout l, T v, int64_t n) {
  HWNAS_GRID_STRIDE(i, n) dst[strided_offset(i, l)] = v;
}

template <class D>
void copy_from(D* dst, const StridedLayout& dl, const void* src, ElemType st, const StridedLayout& sl, int64_t n,
               cudaStream_t s) {
  constexpr int kThreads = 256;
  if (st == ElemType::f32)
    copy_strided_kernel<<<grid_size(n, kThreads), kThreads, 0, s>>>(dst, dl, static_cast<const float*>(src), sl, n);
  else
    copy_strided_kernel<<<grid_size(n, kThreads), kThreads, 0, s>>>(dst, dl, static_cast<const int64_t*>(src), sl, n);
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
    fill_kernel<<<grid_size(n, kThreads), kThreads, 0, s>>>(static_cast<float*>(dst), layout, static_cast<float>(value), n);
  else
    fill_kernel<<<grid_size(n, kThreads), kThreads, 0, s>>>(static_cast<int64_t*>(dst), layout,
                                                           static_cast<int64_t>(value), n);
  HWNAS_CUDA_CHECK_LAUNCH("fill_");
}

}  // namespace hwnas::cuda
