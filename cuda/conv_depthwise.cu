// Depthwise 2-D convolution kernels (see cuda/conv_depthwise.h for layouts and semantics).
// Own kernels rather than cuDNN: cuDNN's depthwise (grouped, groups == C) paths are often slow,
// falling back to generic grouped algorithms. Here activations are NHWC and the weight is packed
// tap-major with channels fastest, so consecutive threads (lanes) always handle consecutive
// channels of the same pixel and tap: every warp's loads of x, gy and wt and its stores are
// coalesced 128-byte segments.
#include "cuda/check.h"
#include "cuda/conv_depthwise.h"
#include "cuda/device_math.cuh"
#include "cuda/runtime.h"

namespace hwnas::cuda {

namespace {

constexpr int kThreads = 256;

// One thread per output element (n, oy, ox, c), c fastest; grid-stride over n*OH*OW*C.
__global__ void dw_forward_kernel(DepthwiseGeom g, const float* __restrict__ x, const float* __restrict__ wt,
                                  const float* __restrict__ bias, float* __restrict__ y) {
  const int64_t total = g.n * g.oh * g.ow * g.c;
  HWNAS_GRID_STRIDE(i, total) {
    const int64_t c = i % g.c;
    const int64_t pix = i / g.c;
    const int64_t ox = pix % g.ow;
    const int64_t r = pix / g.ow;
    const int64_t oy = r % g.oh;
    const int64_t n = r / g.oh;
    float acc = bias ? bias[c] : 0.f;
    for (int64_t ky = 0; ky < g.kh; ++ky) {
      const int64_t iy = oy * g.sh - g.ph + ky * g.dh;
      if (iy < 0 || iy >= g.h) continue;
      const float* xrow = x + (n * g.h + iy) * g.w * g.c + c;
      const float* wrow = wt + ky * g.kw * g.c + c;
      for (int64_t kx = 0; kx < g.kw; ++kx) {
        const int64_t ix = ox * g.sw - g.pw + kx * g.dw;
        if (ix < 0 || ix >= g.w) continue;
        acc += xrow[ix * g.c] * wrow[kx * g.c];
      }
    }
    y[i] = acc;
  }
}

// One thread per input-gradient element (n, iy, ix, c), c fastest; grid-stride over n*H*W*C.
// Gather: for each tap, the output (oy, ox) that read (iy, ix) through it, if any.
__global__ void dw_backward_data_kernel(DepthwiseGeom g, const float* __restrict__ gy, const float* __restrict__ wt,
                                        float* __restrict__ gx) {
  const int64_t total = g.n * g.h * g.w * g.c;
  HWNAS_GRID_STRIDE(i, total) {
    const int64_t c = i % g.c;
    const int64_t pix = i / g.c;
    const int64_t ix = pix % g.w;
    const int64_t r = pix / g.w;
    const int64_t iy = r % g.h;
    const int64_t n = r / g.h;
    float acc = 0.f;
    for (int64_t ky = 0; ky < g.kh; ++ky) {
      const int64_t ty = iy + g.ph - ky * g.dh;  // = oy * sh
      if (ty < 0 || ty % g.sh != 0) continue;
      const int64_t oy = ty / g.sh;
      if (oy >= g.oh) continue;
      const float* gyrow = gy + (n * g.oh + oy) * g.ow * g.c + c;
      const float* wrow = wt + ky * g.kw * g.c + c;
      for (int64_t kx = 0; kx < g.kw; ++kx) {
        const int64_t tx = ix + g.pw - kx * g.dw;  // = ox * sw
        if (tx < 0 || tx % g.sw != 0) continue;
        const int64_t ox = tx / g.sw;
        if (ox >= g.ow) continue;
        acc += gyrow[ox * g.c] * wrow[kx * g.c];
      }
    }
    gx[i] = acc;
  }
}

// Weight (and bias) gradient. Block (32 channel lanes x kRowLanes row lanes) = 32 consecutive
// channels (blockIdx.x) of one tap (blockIdx.y; tap kh*kw is the bias when asked). Row lane ty of
// pixel split z (blockIdx.z) takes output rows (n, oy) = z*kRowLanes + ty, stepping by
// gridDim.z*kRowLanes, and walks all ox of each; the kRowLanes partial sums are then added in
// shared memory. With one split the result is stored; with several, added atomically to zeroed
// outputs.
constexpr int kRowLanes = 8;

__global__ void dw_backward_weight_kernel(DepthwiseGeom g, const float* __restrict__ gy, const float* __restrict__ x,
                                          float* __restrict__ gwt, float* __restrict__ gbias, bool atomic) {
  __shared__ float part[kRowLanes][32];
  const int64_t ch = static_cast<int64_t>(blockIdx.x) * 32 + threadIdx.x;
  const int64_t ntaps = g.kh * g.kw;
  const int64_t ntotal = ntaps + (gbias ? 1 : 0);
  const int64_t rows = g.n * g.oh;
  const int64_t row_step = static_cast<int64_t>(gridDim.z) * kRowLanes;
  for (int64_t tap = blockIdx.y; tap < ntotal; tap += gridDim.y) {  // uniform over the block
    float acc = 0.f;
    if (ch < g.c) {
      if (tap == ntaps) {  // bias: sum of gy
        for (int64_t r = blockIdx.z * static_cast<int64_t>(kRowLanes) + threadIdx.y; r < rows; r += row_step) {
          const float* gyrow = gy + r * g.ow * g.c + ch;
          for (int64_t ox = 0; ox < g.ow; ++ox) acc += gyrow[ox * g.c];
        }
      } else {
        const int64_t ky = tap / g.kw, kx = tap % g.kw;
        for (int64_t r = blockIdx.z * static_cast<int64_t>(kRowLanes) + threadIdx.y; r < rows; r += row_step) {
          const int64_t oy = r % g.oh, n = r / g.oh;
          const int64_t iy = oy * g.sh - g.ph + ky * g.dh;
          if (iy < 0 || iy >= g.h) continue;
          const float* gyrow = gy + r * g.ow * g.c + ch;
          const float* xrow = x + (n * g.h + iy) * g.w * g.c + ch;
          for (int64_t ox = 0; ox < g.ow; ++ox) {
            const int64_t ix = ox * g.sw - g.pw + kx * g.dw;
            if (ix < 0 || ix >= g.w) continue;
            acc += gyrow[ox * g.c] * xrow[ix * g.c];
          }
        }
      }
    }
    part[threadIdx.y][threadIdx.x] = acc;
    __syncthreads();
    if (threadIdx.y == 0 && ch < g.c) {
      float t = 0.f;
      for (int i = 0; i < kRowLanes; ++i) t += part[i][threadIdx.x];
      float* out = tap == ntaps ? gbias + ch : gwt + tap * g.c + ch;
      if (atomic)
        atomicAdd(out, t);
      else
        *out = t;
    }
    __syncthreads();  // part is reused by the next tap
  }
}

}  // namespace

void depthwise_forward(const DepthwiseGeom& g, const float* x, const float* wt, const float* bias, float* y,
                       int device) {
  const int64_t total = g.n * g.oh * g.ow * g.c;
  if (total == 0) return;
  auto s = static_cast<cudaStream_t>(stream(device));
  dw_forward_kernel<<<grid_size(total, kThreads), kThreads, 0, s>>>(g, x, wt, bias, y);
  HWNAS_CUDA_CHECK_LAUNCH("depthwise conv forward");
}

void depthwise_backward_data(const DepthwiseGeom& g, const float* gy, const float* wt, float* gx, int device) {
  const int64_t total = g.n * g.h * g.w * g.c;
  if (total == 0) return;
  auto s = static_cast<cudaStream_t>(stream(device));
  dw_backward_data_kernel<<<grid_size(total, kThreads), kThreads, 0, s>>>(g, gy, wt, gx);
  HWNAS_CUDA_CHECK_LAUNCH("depthwise conv backward data");
}

void depthwise_backward_weight(const DepthwiseGeom& g, const float* gy, const float* x, float* gwt, float* gbias,
                               int device) {
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
    if (ntaps > 0) HWNAS_CUDA_CHECK(cudaMemsetAsync(gwt, 0, ntaps * g.c * sizeof(float), s), "depthwise conv");
    if (gbias) HWNAS_CUDA_CHECK(cudaMemsetAsync(gbias, 0, g.c * sizeof(float), s), "depthwise conv");
  }
  const dim3 block(32, kRowLanes);
  const dim3 grid(static_cast<unsigned>(cblocks), static_cast<unsigned>(yblocks), static_cast<unsigned>(splits));
  dw_backward_weight_kernel<<<grid, block, 0, s>>>(g, gy, x, gwt, gbias, atomic);
  HWNAS_CUDA_CHECK_LAUNCH("depthwise conv backward weight");
}

}  // namespace hwnas::cuda
