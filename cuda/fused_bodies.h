#pragma once
// Per-thread bodies of the fused supernet kernels (cuda/fused_supernet.cu), as plain structs of
// device pointers and HWNAS_HD functions. The kernels call them per thread; tests call them over
// every index on the host against the CPU ops (tests/cuda/fused_bodies_test.cpp), so what each
// fused kernel computes is checked without a GPU, and on a GPU the CPU-vs-CUDA tests check the
// launches. Plain C++: no Tensor, no fmt, no CUDA types.
#include <cmath>
#include <cstdint>

#include "cuda/host_device.h"

namespace hwnas::cuda {

// Limits of one fused launch; the ops take the composed path beyond them.
constexpr int kMaxCandidates = 16;   // mixed-op candidates (FBNet has 9, a stage's depths at most 4)
constexpr int kMaxRadix = 8;         // Split-Attention splits (the spaces use 1..4)
constexpr int kMaxWidthGroups = 64;  // ordered-dropout runs of equal width (one per sample group)

// ---- mixed-op weighted sum: out = sum_m w_m x_m over n elements of one dense layout ---------

struct WeightedSumArgs {
  int k = 0;
  int64_t n = 0;
  const float* x[kMaxCandidates] = {};
  float w[kMaxCandidates] = {};  // the weights travel by value: DNAS keeps its logits on the host
  float* out = nullptr;          // forward
  const float* gy = nullptr;     // backward
  float* gx[kMaxCandidates] = {};  // backward; nullptr where a candidate needs no gradient
};

HWNAS_HD float weighted_sum_at(const WeightedSumArgs& a, int64_t i) {
  float s = a.w[0] * a.x[0][i];
  HWNAS_UNROLL
  for (int m = 1; m < kMaxCandidates; ++m)
    if (m < a.k) s += a.w[m] * a.x[m][i];
  return s;
}

// Backward at element i: gx_m[i] = w_m gy[i] (where wanted), and, when dots is not null,
// dots[m] += gy[i] x_m[i] (the weights' gradient, summed over the elements by the caller).
// The loops here and below run to the compile-time limit with a guard (HWNAS_UNROLL: the
// callers' per-thread arrays stay in registers).
HWNAS_HD void weighted_sum_backward_at(const WeightedSumArgs& a, int64_t i, float* dots) {
  const float g = a.gy[i];
  HWNAS_UNROLL
  for (int m = 0; m < kMaxCandidates; ++m) {
    if (m >= a.k) break;
    if (a.gx[m]) a.gx[m][i] = a.w[m] * g;
    if (dots) dots[m] += g * a.x[m][i];
  }
}

// ---- Split-Attention combine: out[n,c,p] = sum_m softmax_m(logit_m[n,c]) s_m[n,c,p] --------
// r splits of one dense [N, C, H, W] layout (channels_last or contiguous), logits [N*C]
// contiguous. Work is per plane nc = n*C + c: its r attention weights are computed once, then
// its pixels p = first, first + step, ... are visited (one thread per plane in channels_last,
// where neighbouring threads are neighbouring channels; a warp per plane in contiguous, where
// the lanes are neighbouring pixels).

struct SplitAttentionArgs {
  int r = 0;
  int64_t n = 0, c = 0, hw = 0;
  bool channels_last = false;
  const float* s[kMaxRadix] = {};
  const float* logit[kMaxRadix] = {};
  float* out = nullptr;           // forward
  const float* gy = nullptr;      // backward
  float* ds[kMaxRadix] = {};      // backward; nullptr where a split needs no gradient
  float* dlogit[kMaxRadix] = {};  // backward; nullptr where a logit needs no gradient
};

HWNAS_HD int64_t split_attention_offset(const SplitAttentionArgs& a, int64_t nc, int64_t p) {
  if (!a.channels_last) return nc * a.hw + p;
  const int64_t n = nc / a.c, c = nc - n * a.c;
  return (n * a.hw + p) * a.c + c;
}

// att[m] = softmax over the splits of logit_m[nc], max-subtracted (as ops/split_attention.cpp).
HWNAS_HD void split_attention_weights(const SplitAttentionArgs& a, int64_t nc, float* att) {
  float mx = a.logit[0][nc];
  HWNAS_UNROLL
  for (int m = 1; m < kMaxRadix; ++m)
    if (m < a.r) mx = a.logit[m][nc] > mx ? a.logit[m][nc] : mx;
  float sum = 0.f;
  HWNAS_UNROLL
  for (int m = 0; m < kMaxRadix; ++m)
    if (m < a.r) sum += (att[m] = expf(a.logit[m][nc] - mx));
  const float inv = 1.f / sum;
  HWNAS_UNROLL
  for (int m = 0; m < kMaxRadix; ++m)
    if (m < a.r) att[m] *= inv;
}

HWNAS_HD void split_attention_forward_pixels(const SplitAttentionArgs& a, int64_t nc, const float* att,
                                             int64_t first, int64_t step) {
  for (int64_t p = first; p < a.hw; p += step) {
    const int64_t off = split_attention_offset(a, nc, p);
    float v = att[0] * a.s[0][off];
    HWNAS_UNROLL
    for (int m = 1; m < kMaxRadix; ++m)
      if (m < a.r) v += att[m] * a.s[m][off];
    a.out[off] = v;
  }
}

// ds_m = att_m gy at the visited pixels; dots[m] += sum over them of gy s_m (when dots is set).
HWNAS_HD void split_attention_backward_pixels(const SplitAttentionArgs& a, int64_t nc, const float* att,
                                              int64_t first, int64_t step, float* dots) {
  for (int64_t p = first; p < a.hw; p += step) {
    const int64_t off = split_attention_offset(a, nc, p);
    const float g = a.gy[off];
    HWNAS_UNROLL
    for (int m = 0; m < kMaxRadix; ++m) {
      if (m >= a.r) break;
      if (a.ds[m]) a.ds[m][off] = att[m] * g;
      if (dots) dots[m] += g * a.s[m][off];
    }
  }
}

// From the plane's complete dots: d logit_m = att_m (dot_m - sum_j att_j dot_j).
HWNAS_HD void split_attention_logit_grads(const SplitAttentionArgs& a, int64_t nc, const float* att,
                                          const float* dots) {
  float mix = 0.f;
  HWNAS_UNROLL
  for (int m = 0; m < kMaxRadix; ++m)
    if (m < a.r) mix += att[m] * dots[m];
  HWNAS_UNROLL
  for (int m = 0; m < kMaxRadix; ++m)
    if (m < a.r && a.dlogit[m]) a.dlogit[m][nc] = att[m] * (dots[m] - mix);
}

// ---- Split-Attention pooling: pooled[nc] = mean over the plane of sum_m s_m ---------------
// (ops/split_attention.h's split_attention_pool). Uses r, n, c, hw, the layout and s of the
// args; the kernel writes pooled[nc] = split_pool_sum(a, nc, 0, 1) / hw (channels_last: a thread
// per plane), or adds up 32 lanes' parts (contiguous: a warp per plane).
HWNAS_HD float split_pool_sum(const SplitAttentionArgs& a, int64_t nc, int64_t first, int64_t step) {
  float sum = 0.f;
  for (int64_t p = first; p < a.hw; p += step) {
    const int64_t off = split_attention_offset(a, nc, p);
    HWNAS_UNROLL
    for (int m = 0; m < kMaxRadix; ++m)
      if (m < a.r) sum += a.s[m][off];
  }
  return sum;
}

// ---- ordered dropout: channels >= the sample's width zeroed, every width group at once -----
// The tensor is [outer][channels][inner] (channels_last: outer = N*H*W, inner = 1; contiguous:
// outer = N, inner = H*W); outer block o belongs to sample o / per_sample. Samples
// [group_end[g-1], group_end[g]) keep group_width[g] channels.

struct WidthMaskArgs {
  int64_t outer = 0, channels = 0, inner = 0, per_sample = 1;
  int groups = 0;
  int64_t group_end[kMaxWidthGroups] = {};
  int64_t group_width[kMaxWidthGroups] = {};
};

HWNAS_HD float width_masked_at(const WidthMaskArgs& a, const float* src, int64_t i) {
  const int64_t block = a.channels * a.inner;
  const int64_t sample = (i / block) / a.per_sample;
  int g = 0;
  while (g + 1 < a.groups && sample >= a.group_end[g]) ++g;
  return i % block < a.group_width[g] * a.inner ? src[i] : 0.f;
}

}  // namespace hwnas::cuda
