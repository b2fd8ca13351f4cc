// 1x1 convolutions on channels_last activations: the input is a [N*H*W, C_in] row-major matrix,
// so the conv is one GEMM per group with the group's slice taken through leading dimensions.
#include <omp.h>

#include <algorithm>

#include "ops/conv_kernels.h"
#include "ops/gemm.h"
#include "ops/simd.h"

namespace hwnas::conv_detail {
namespace {

HWNAS_MULTIVERSION
void add_bias_rows(float* __restrict y, int64_t rows, int64_t c, const float* __restrict bias) {
  for (int64_t r = 0; r < rows; ++r) {
    float* __restrict row = y + r * c;
#pragma omp simd
    for (int64_t j = 0; j < c; ++j) row[j] += bias[j];
  }
}

HWNAS_MULTIVERSION
void add_inplace(float* __restrict y, const float* __restrict r, int64_t n) {
#pragma omp simd
  for (int64_t i = 0; i < n; ++i) y[i] += r[i];
}

// Rows per chunk of the fused GEMM + epilogue: the chunk's input and output stay in L2.
int64_t chunk_rows(int64_t c_in, int64_t c_out) {
  const int64_t r = (48 * 1024) / std::max<int64_t>(c_in + c_out, 1);
  return std::clamp<int64_t>(r / 8 * 8, 16, 2048);
}

}  // namespace

void apply_epilogue(float* y, const float* residual, int64_t rows, int64_t c, const Epilogue& ep) {
  if (ep.bias) add_bias_rows(y, rows, c, ep.bias);
  if (ep.act != Activation::none) activation_forward(ep.act, y, y, rows * c);
  if (residual) add_inplace(y, residual, rows * c);
}

void pointwise_forward(int64_t rows, int64_t c_in, int64_t c_out, int64_t groups, const float* x, const float* w,
                       int64_t ldw, const Epilogue& ep, float* y) {
  const int64_t cig = c_in / groups, cog = c_out / groups;
  if (ep.empty() && groups == 1) {
    sgemm(false, true, rows, c_out, c_in, 1.f, x, c_in, w, ldw, 0.f, y, c_out);
    return;
  }
  // Row chunks over threads, each a single-threaded GEMM followed by the epilogue while the
  // chunk is hot (oneDNN's sgemm runs on the calling thread inside a parallel region).
  const double flops = 2.0 * rows * c_out * cig;
  const int nt = flops > 2e5 && !omp_in_parallel() ? omp_get_max_threads() : 1;
  int64_t chunk = chunk_rows(c_in, c_out);
  if (nt > 1) chunk = std::min(chunk, ((rows + nt - 1) / nt + 7) / 8 * 8);  // every thread gets work
  const int64_t n_chunks = (rows + chunk - 1) / chunk;
  const bool par = nt > 1 && n_chunks > 1;
#pragma omp parallel for schedule(static) if (par)
  for (int64_t i = 0; i < n_chunks; ++i) {
    const int64_t r0 = i * chunk, nr = std::min(chunk, rows - r0);
    for (int64_t g = 0; g < groups; ++g)
      sgemm(false, true, nr, cog, cig, 1.f, x + r0 * c_in + g * cig, c_in, w + g * cog * ldw, ldw, 0.f,
            y + r0 * c_out + g * cog, c_out);
    apply_epilogue(y + r0 * c_out, ep.residual ? ep.residual + r0 * c_out : nullptr, nr, c_out, ep);
  }
}

void pointwise_backward_data(int64_t rows, int64_t c_in, int64_t c_out, int64_t groups, const float* gy, const float* w,
                             int64_t ldw, float* gx) {
  const int64_t cig = c_in / groups, cog = c_out / groups;
  for (int64_t g = 0; g < groups; ++g)
    sgemm(false, false, rows, cig, cog, 1.f, gy + g * cog, c_out, w + g * cog * ldw, ldw, 0.f, gx + g * cig, c_in);
}

void pointwise_backward_weight(int64_t rows, int64_t c_in, int64_t c_out, int64_t groups, const float* gy,
                               const float* x, float* gw) {
  const int64_t cig = c_in / groups, cog = c_out / groups;
  for (int64_t g = 0; g < groups; ++g)
    sgemm(true, false, cog, cig, rows, 1.f, gy + g * cog, c_out, x + g * cig, c_in, 0.f, gw + g * cog * cig, cig);
}

}  // namespace hwnas::conv_detail
