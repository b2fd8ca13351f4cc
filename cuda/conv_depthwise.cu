// Depthwise 2-D convolution kernels (see cuda/conv_depthwise.h for layouts and semantics).
// Own kernels rather than cuDNN: cuDNN's depthwise (grouped, groups == C) paths are often slow,
// falling back to generic grouped algorithms. Activations are NHWC, so consecutive threads
// (lanes) handle consecutive channels of the same pixel and tap: every warp's loads of x and gy
// and its stores are coalesced 128-byte segments. Weight loads are coalesced too with the packed
// layout; read in place from PyTorch's layout, a warp's 32 weight loads of a tap are the
// parent weight's KH*KW floats apart (25 for a 5x5 weight, also when its centre is
// read), served by L1 (a weight is at most a few tens of KiB). Which costs more, that or the
// packing copy per call, is what the kernel lab's depthwise rows measure.
#include "cuda/check.h"
#include "cuda/conv_depthwise.h"
#include "cuda/device_math.cuh"
#include "cuda/runtime.h"

namespace hwnas::cuda {

namespace {

constexpr int kThreads = 256;

// One thread per output element (n, oy, ox, c), c fastest; grid-stride over n*OH*OW*C.
__global__ void dw_forward_kernel(DepthwiseGeom g, const float* __restrict__ x, const float* __restrict__ w,
                                  DepthwiseWeightLayout wl, const float* __restrict__ bias, float* __restrict__ y) {
  const int64_t total = g.n * g.oh * g.ow * g.c;
  HWNAS_GRID_STRIDE(i, total) y[i] = depthwise_forward_at(g, x, w, wl, bias, i);
}

// The forward with the inference epilogue: the activation a template parameter (one formula).
template <Activation A>
__global__ void dw_forward_epilogue_kernel(DepthwiseGeom g, const float* __restrict__ x, const float* __restrict__ w,
                                           DepthwiseWeightLayout wl, const float* __restrict__ bias,
                                           const float* __restrict__ residual, float* __restrict__ y) {
  const int64_t total = g.n * g.oh * g.ow * g.c;
  HWNAS_GRID_STRIDE(i, total) {
    const float v = act_forward(A, depthwise_forward_at(g, x, w, wl, bias, i));
    y[i] = residual ? v + residual[i] : v;
  }
}

// One thread per input-gradient element (n, iy, ix, c), c fastest; grid-stride over n*H*W*C.
__global__ void dw_backward_data_kernel(DepthwiseGeom g, const float* __restrict__ gy, const float* __restrict__ w,
                                        DepthwiseWeightLayout wl, float* __restrict__ gx) {
  const int64_t total = g.n * g.h * g.w * g.c;
  HWNAS_GRID_STRIDE(i, total) gx[i] = depthwise_backward_data_at(g, gy, w, wl, i);
}

// Weight (and bias) gradient. Block (32 channel lanes x kRowLanes row lanes) = 32 consecutive
// channels (blockIdx.x) of one tap (blockIdx.y; tap kh*kw is the bias when asked). Row lane ty of
// pixel split z (blockIdx.z) takes output rows (n, oy) = z*kRowLanes + ty, stepping by
// gridDim.z*kRowLanes, and walks all ox of each; the kRowLanes partial sums are then added in
// shared memory. With one split the result is stored; with several, added atomically to zeroed
// outputs.
constexpr int kRowLanes = 8;

__global__ void dw_backward_weight_kernel(DepthwiseGeom g, const float* __restrict__ gy, const float* __restrict__ x,
                                          float* __restrict__ gw, DepthwiseWeightLayout gl, float* __restrict__ gbias,
                                          bool atomic) {
  __shared__ float part[kRowLanes][32];
  const int64_t ch = static_cast<int64_t>(blockIdx.x) * 32 + threadIdx.x;
  const int64_t ntaps = g.kh * g.kw;
  const int64_t ntotal = ntaps + (gbias ? 1 : 0);
  const int64_t first = blockIdx.z * static_cast<int64_t>(kRowLanes) + threadIdx.y;
  const int64_t row_step = static_cast<int64_t>(gridDim.z) * kRowLanes;
  for (int64_t tap = blockIdx.y; tap < ntotal; tap += gridDim.y) {  // uniform over the block
    part[threadIdx.y][threadIdx.x] = ch < g.c ? depthwise_weight_grad_part(g, gy, x, tap, ch, first, row_step) : 0.f;
    __syncthreads();
    if (threadIdx.y == 0 && ch < g.c) {
      float t = 0.f;
      for (int i = 0; i < kRowLanes; ++i) t += part[i][threadIdx.x];
      float* out = tap == ntaps ? gbias + ch : gw + ch * gl.c_stride + (tap / g.kw) * gl.ky_stride + (tap % g.kw) * gl.kx_stride;
      if (atomic)
        atomicAdd(out, t);
      else
        *out = t;
    }
    __syncthreads();  // part is reused by the next tap
  }
}

}  // namespace

void depthwise_forward(const DepthwiseGeom& g, const float* x, const float* w, const DepthwiseWeightLayout& wl,
                       const float* bias, float* y, int device) {
  const int64_t total = g.n * g.oh * g.ow * g.c;
  if (total == 0) return;
  auto s = static_cast<cudaStream_t>(stream(device));
  dw_forward_kernel<<<grid_size(total, kThreads), kThreads, 0, s>>>(g, x, w, wl, bias, y);
  HWNAS_CUDA_CHECK_LAUNCH("depthwise conv forward");
}

void depthwise_forward_epilogue(const DepthwiseGeom& g, const float* x, const float* w, const DepthwiseWeightLayout& wl,
                                const float* bias, Activation act, const float* residual, float* y, int device) {
  const int64_t total = g.n * g.oh * g.ow * g.c;
  if (total == 0) return;
  auto s = static_cast<cudaStream_t>(stream(device));
  const unsigned blocks = grid_size(total, kThreads);
  switch (act) {
#define HWNAS_DW_EPILOGUE(A) \
  case A: dw_forward_epilogue_kernel<A><<<blocks, kThreads, 0, s>>>(g, x, w, wl, bias, residual, y); break;
    HWNAS_DW_EPILOGUE(Activation::none)
    HWNAS_DW_EPILOGUE(Activation::relu)
    HWNAS_DW_EPILOGUE(Activation::relu6)
    HWNAS_DW_EPILOGUE(Activation::hswish)
    HWNAS_DW_EPILOGUE(Activation::hsigmoid)
    HWNAS_DW_EPILOGUE(Activation::sigmoid)
    HWNAS_DW_EPILOGUE(Activation::swish)
#undef HWNAS_DW_EPILOGUE
  }
  HWNAS_CUDA_CHECK_LAUNCH("depthwise conv forward (inference epilogue)");
}

void depthwise_backward_data(const DepthwiseGeom& g, const float* gy, const float* w, const DepthwiseWeightLayout& wl,
                             float* gx, int device) {
  const int64_t total = g.n * g.h * g.w * g.c;
  if (total == 0) return;
  auto s = static_cast<cudaStream_t>(stream(device));
  dw_backward_data_kernel<<<grid_size(total, kThreads), kThreads, 0, s>>>(g, gy, w, wl, gx);
  HWNAS_CUDA_CHECK_LAUNCH("depthwise conv backward data");
}

void depthwise_backward_weight(const DepthwiseGeom& g, const float* gy, const float* x, float* gw,
                               const DepthwiseWeightLayout& gl, float* gbias, int device) {
  const int64_t ntaps = g.kh * g.kw;
  const int64_t ntotal = ntaps + (gbias ? 1 : 0);
  if (g.c == 0 || ntotal == 0) return;
  auto s = static_cast<cudaStream_t>(stream(device));
  const int64_t cblocks = (g.c + 31) / 32;
  const int64_t yblocks = ntotal < 65535 ? ntotal : 65535;
  // Pixel splits: enough blocks to fill the GPU (~2048), but each thread keeps at least ~64
  // pixels so that the reduction and atomics stay cheap. Empty gy (n*oh*ow == 0): one split,
  // which stores zeros.
  constexpr int64_t kTargetBlocks = 2048, kMinPixelsPerThread = 64;
  const int64_t rows = g.n * g.oh;
  const int64_t min_rows_per_thread = g.ow > 0 ? (kMinPixelsPerThread + g.ow - 1) / g.ow : 1;
  const int64_t by_work = (rows + kRowLanes * min_rows_per_thread - 1) / (kRowLanes * min_rows_per_thread);
  const int64_t by_occupancy = (kTargetBlocks + cblocks * yblocks - 1) / (cblocks * yblocks);
  int64_t splits = by_work < by_occupancy ? by_work : by_occupancy;
  splits = splits < 1 ? 1 : (splits > 65535 ? 65535 : splits);
  const bool atomic = splits > 1;
  if (atomic) {
    // gw is dense in its layout (the caller's contract), so its extent is C*KH*KW elements from
    // its lowest address, which is gw itself for non-negative strides.
    if (ntaps > 0) HWNAS_CUDA_CHECK(cudaMemsetAsync(gw, 0, ntaps * g.c * sizeof(float), s), "depthwise conv");
    if (gbias) HWNAS_CUDA_CHECK(cudaMemsetAsync(gbias, 0, g.c * sizeof(float), s), "depthwise conv");
  }
  const dim3 block(32, kRowLanes);
  const dim3 grid(static_cast<unsigned>(cblocks), static_cast<unsigned>(yblocks), static_cast<unsigned>(splits));
  dw_backward_weight_kernel<<<grid, block, 0, s>>>(g, gy, x, gw, gl, gbias, atomic);
  HWNAS_CUDA_CHECK_LAUNCH("depthwise conv backward weight");
}

}  // namespace hwnas::cuda
