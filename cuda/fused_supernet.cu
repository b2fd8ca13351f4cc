#include "cuda/check.h"
#include "cuda/device_math.cuh"
#include "cuda/fused_supernet.h"
#include "cuda/runtime.h"

namespace hwnas::cuda {

namespace {

constexpr int kThreads = 256;
// The weighted-sum backward's grid: enough blocks to fill an H100/H200 (132 SMs) several times
// over, few enough that adding up the per-block weight sums is one small block's work.
constexpr unsigned kMaxReduceBlocks = 1024;

cudaStream_t stream_of(int device) { return static_cast<cudaStream_t>(stream(device)); }

// ---- mixed-op weighted sum -----------------------------------------------------------------

__global__ void weighted_sum_forward_kernel(WeightedSumArgs a) {
  HWNAS_GRID_STRIDE(i, a.n) a.out[i] = weighted_sum_at(a, i);
}

// Candidate gradients, and per block the k partial weight gradients (partials[block * k + m]).
__global__ void weighted_sum_backward_kernel(WeightedSumArgs a, float* partials) {
  float dots[kMaxCandidates];
#pragma unroll
  for (int m = 0; m < kMaxCandidates; ++m) dots[m] = 0.f;
  HWNAS_GRID_STRIDE(i, a.n) weighted_sum_backward_at(a, i, partials ? dots : nullptr);
  if (!partials) return;
#pragma unroll
  for (int m = 0; m < kMaxCandidates; ++m) {
    if (m >= a.k) break;  // the same k in every thread: the block reaches block_sum's barriers together
    const float s = block_sum(dots[m]);
    if (threadIdx.x == 0) partials[blockIdx.x * a.k + m] = s;
  }
}

// out[m] = sum over blocks of partials[b * k + m], in a fixed order (one block).
__global__ void sum_partials_kernel(const float* partials, int blocks, int k, float* out) {
  for (int m = 0; m < k; ++m) {
    float s = 0.f;
    for (int b = threadIdx.x; b < blocks; b += blockDim.x) s += partials[b * k + m];
    s = block_sum(s);
    if (threadIdx.x == 0) out[m] = s;
  }
}

// ---- Split-Attention combine ---------------------------------------------------------------

bool wants_logit_grads(const SplitAttentionArgs& a) {
  for (int m = 0; m < a.r; ++m)
    if (a.dlogit[m]) return true;
  return false;
}

// channels_last: one thread per plane (neighbouring threads read neighbouring channels).
__global__ void split_attention_forward_cl(SplitAttentionArgs a) {
  HWNAS_GRID_STRIDE(nc, a.n * a.c) {
    float att[kMaxRadix];
    split_attention_weights(a, nc, att);
    split_attention_forward_pixels(a, nc, att, 0, 1);
  }
}

// kLogitGrads is a template argument so that `dots` is known not to escape as a pointer: with it
// and the unrolled loops of the bodies, att and dots stay in registers.
template <bool kLogitGrads>
__global__ void split_attention_backward_cl(SplitAttentionArgs a) {
  HWNAS_GRID_STRIDE(nc, a.n * a.c) {
    float att[kMaxRadix], dots[kMaxRadix];
#pragma unroll
    for (int m = 0; m < kMaxRadix; ++m) dots[m] = 0.f;
    split_attention_weights(a, nc, att);
    split_attention_backward_pixels(a, nc, att, 0, 1, kLogitGrads ? dots : nullptr);
    if (kLogitGrads) split_attention_logit_grads(a, nc, att, dots);
  }
}

// contiguous: one warp per plane (the lanes read neighbouring pixels). The loop bound is the
// same for the whole warp, so every lane reaches the shuffles.
__global__ void split_attention_forward_planes(SplitAttentionArgs a) {
  const int lane = threadIdx.x & 31;
  const int64_t warps = (static_cast<int64_t>(gridDim.x) * blockDim.x) >> 5;
  for (int64_t nc = (blockIdx.x * static_cast<int64_t>(blockDim.x) + threadIdx.x) >> 5; nc < a.n * a.c;
       nc += warps) {
    float att[kMaxRadix];
    split_attention_weights(a, nc, att);
    split_attention_forward_pixels(a, nc, att, lane, 32);
  }
}

template <bool kLogitGrads>
__global__ void split_attention_backward_planes(SplitAttentionArgs a) {
  const int lane = threadIdx.x & 31;
  const int64_t warps = (static_cast<int64_t>(gridDim.x) * blockDim.x) >> 5;
  for (int64_t nc = (blockIdx.x * static_cast<int64_t>(blockDim.x) + threadIdx.x) >> 5; nc < a.n * a.c;
       nc += warps) {
    float att[kMaxRadix], dots[kMaxRadix];
#pragma unroll
    for (int m = 0; m < kMaxRadix; ++m) dots[m] = 0.f;
    split_attention_weights(a, nc, att);
    split_attention_backward_pixels(a, nc, att, lane, 32, kLogitGrads ? dots : nullptr);
    if (!kLogitGrads) continue;
#pragma unroll
    for (int m = 0; m < kMaxRadix; ++m)
      if (m < a.r)
        for (int o = 16; o > 0; o >>= 1) dots[m] += __shfl_xor_sync(0xffffffffu, dots[m], o);
    if (lane == 0) split_attention_logit_grads(a, nc, att, dots);
  }
}

unsigned warp_grid(int64_t planes) { return grid_size(planes * 32, kThreads); }

// Split-Attention pooling: a thread per plane in channels_last, a warp per plane in contiguous.
__global__ void split_attention_pool_cl(SplitAttentionArgs a, float* pooled) {
  const float inv = 1.f / static_cast<float>(a.hw);
  HWNAS_GRID_STRIDE(nc, a.n * a.c) pooled[nc] = split_pool_sum(a, nc, 0, 1) * inv;
}

__global__ void split_attention_pool_planes(SplitAttentionArgs a, float* pooled) {
  const int lane = threadIdx.x & 31;
  const int64_t warps = (static_cast<int64_t>(gridDim.x) * blockDim.x) >> 5;
  const float inv = 1.f / static_cast<float>(a.hw);
  for (int64_t nc = (blockIdx.x * static_cast<int64_t>(blockDim.x) + threadIdx.x) >> 5; nc < a.n * a.c;
       nc += warps) {
    float sum = split_pool_sum(a, nc, lane, 32);
    for (int o = 16; o > 0; o >>= 1) sum += __shfl_xor_sync(0xffffffffu, sum, o);
    if (lane == 0) pooled[nc] = sum * inv;
  }
}


// ---- ordered dropout -----------------------------------------------------------------------

__global__ void width_masked_copy_kernel(WidthMaskArgs a, const float* src, float* dst, int64_t n) {
  HWNAS_GRID_STRIDE(i, n) dst[i] = width_masked_at(a, src, i);
}

}  // namespace

void weighted_sum_forward(const WeightedSumArgs& a, int device) {
  if (a.n == 0) return;
  weighted_sum_forward_kernel<<<grid_size(a.n, kThreads), kThreads, 0, stream_of(device)>>>(a);
  HWNAS_CUDA_CHECK_LAUNCH("weighted_sum");
}

void weighted_sum_backward(const WeightedSumArgs& a, float* w_grad, int device) {
  cudaStream_t s = stream_of(device);
  unsigned blocks = grid_size(a.n, kThreads);
  blocks = blocks < kMaxReduceBlocks ? blocks : kMaxReduceBlocks;
  float* partials = nullptr;
  CachingAllocator& alloc = allocator(device);
  if (w_grad) partials = static_cast<float*>(alloc.allocate(sizeof(float) * blocks * a.k, s));
  if (a.n > 0) {
    weighted_sum_backward_kernel<<<blocks, kThreads, 0, s>>>(a, partials);
    HWNAS_CUDA_CHECK_LAUNCH("weighted_sum backward");
  }
  if (w_grad) {
    if (a.n > 0) sum_partials_kernel<<<1, kThreads, 0, s>>>(partials, static_cast<int>(blocks), a.k, w_grad);
    else HWNAS_CUDA_CHECK(cudaMemsetAsync(w_grad, 0, sizeof(float) * a.k, s), "weighted_sum backward");
    HWNAS_CUDA_CHECK_LAUNCH("weighted_sum backward");
    alloc.deallocate(partials);  // stream-ordered: the next user of the block runs after the reduction
  }
}

void split_attention_forward(const SplitAttentionArgs& a, int device) {
  const int64_t planes = a.n * a.c;
  if (planes == 0 || a.hw == 0) return;
  cudaStream_t s = stream_of(device);
  if (a.channels_last) split_attention_forward_cl<<<grid_size(planes, kThreads), kThreads, 0, s>>>(a);
  else split_attention_forward_planes<<<warp_grid(planes), kThreads, 0, s>>>(a);
  HWNAS_CUDA_CHECK_LAUNCH("split_attention_combine");
}

void split_attention_backward(const SplitAttentionArgs& a, int device) {
  const int64_t planes = a.n * a.c;
  if (planes == 0) return;
  cudaStream_t s = stream_of(device);
  const bool logit_grads = wants_logit_grads(a);
  const unsigned cl_grid = grid_size(planes, kThreads), plane_grid = warp_grid(planes);
  if (a.channels_last && logit_grads) split_attention_backward_cl<true><<<cl_grid, kThreads, 0, s>>>(a);
  else if (a.channels_last) split_attention_backward_cl<false><<<cl_grid, kThreads, 0, s>>>(a);
  else if (logit_grads) split_attention_backward_planes<true><<<plane_grid, kThreads, 0, s>>>(a);
  else split_attention_backward_planes<false><<<plane_grid, kThreads, 0, s>>>(a);
  HWNAS_CUDA_CHECK_LAUNCH("split_attention_combine backward");
}

void split_attention_pool(const SplitAttentionArgs& a, float* pooled, int device) {
  const int64_t planes = a.n * a.c;
  if (planes == 0) return;
  cudaStream_t s = stream_of(device);
  if (a.channels_last) split_attention_pool_cl<<<grid_size(planes, kThreads), kThreads, 0, s>>>(a, pooled);
  else split_attention_pool_planes<<<warp_grid(planes), kThreads, 0, s>>>(a, pooled);
  HWNAS_CUDA_CHECK_LAUNCH("split_attention_pool");
}

void width_masked_copy(const WidthMaskArgs& a, const float* src, float* dst, int device) {
  const int64_t n = a.outer * a.channels * a.inner;
  if (n == 0) return;
  width_masked_copy_kernel<<<grid_size(n, kThreads), kThreads, 0, stream_of(device)>>>(a, src, dst, n);
  HWNAS_CUDA_CHECK_LAUNCH("ordered_dropout");
}

}  // namespace hwnas::cuda
