#include "cuda/check.h"
#include "cuda/device_math.cuh"
#include "cuda/reduce.h"
#include "cuda/runtime.h"

namespace hwnas::cuda {

namespace {

// One block per output; its threads stride over the r terms, then a block-wide tree sum (so a
// bias gradient over N*H*W terms uses a whole block, not one thread).
__global__ void sum_block_kernel(float* out, const float* in, StridedLayout kept, StridedLayout reduced, int64_t m,
                                 int64_t r, float scale) {
  for (int64_t o = blockIdx.x; o < m; o += gridDim.x) {
    const float* base = in + strided_offset(o, kept);
    float acc = 0.f;
    for (int64_t j = threadIdx.x; j < r; j += blockDim.x) acc += base[strided_offset(j, reduced)];
    acc = block_sum(acc);
    if (threadIdx.x == 0) out[o] = scale * acc;
  }
}

// Few terms per output: one thread per output is enough, and a block per output would idle.
__global__ void sum_thread_kernel(float* out, const float* in, StridedLayout kept, StridedLayout reduced, int64_t m,
                                  int64_t r, float scale) {
  HWNAS_GRID_STRIDE(o, m) {
    const float* base = in + strided_offset(o, kept);
    float acc = 0.f;
    for (int64_t j = 0; j < r; ++j) acc += base[strided_offset(j, reduced)];
    out[o] = scale * acc;
  }
}

}  // namespace

void sum_strided(float* out, const float* in, const StridedLayout& kept, const StridedLayout& reduced, int64_t m,
                 int64_t r, float scale, int device) {
  if (m == 0) return;
  auto s = static_cast<cudaStream_t>(stream(device));
  if (r == 0) {
    HWNAS_CUDA_CHECK(cudaMemsetAsync(out, 0, m * sizeof(float), s), "sum");
    return;
  }
  if (r >= 64) {
    const int threads = r >= 4096 ? 512 : 128;
    const unsigned blocks = static_cast<unsigned>(m < 65536 ? m : 65536);
    sum_block_kernel<<<blocks, threads, 0, s>>>(out, in, kept, reduced, m, r, scale);
  } else {
    sum_thread_kernel<<<grid_size(m, 256), 256, 0, s>>>(out, in, kept, reduced, m, r, scale);
  }
  HWNAS_CUDA_CHECK_LAUNCH("sum");
}

}  // namespace hwnas::cuda
