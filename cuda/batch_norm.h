#pragma once
// CUDA kernels of ops/batch_norm for the rows layout (m rows of c channels: NHWC activations or
// [N, C]), batch norm and its activation fused as on the CPU. Per-channel vectors live on the
// device; the reductions are split over rows across blocks and combined with atomics (so sums
// are not bit-reproducible run to run, unlike the CPU path).
#include <cstdint>

#include "ops/activation_kind.h"

namespace hwnas::cuda {

// Batch statistics: mean[c] and biased var[c] (two passes: the mean, then squares about it).
// sums: scratch of 2 * c floats.
void bn_stats(const float* x, int64_t m, int64_t c, float* mean, float* var, float* sums, int device);
// From mean and var (or running stats), gamma, beta (nullptr: 1 and 0): invstd, a = gamma invstd,
// b = beta - mean a. With `momentum` >= 0 also updates running_mean/var (element stride given;
// running var gets the unbiased estimate var * count / (count - 1)).
void bn_prepare(int64_t c, const float* mean, const float* var, const float* gamma, const float* beta, float eps,
                float* invstd, float* a, float* b, float momentum, float* running_mean, int64_t rm_stride,
                float* running_var, int64_t rv_stride, int64_t count, int device);
// y = act(x a[c] + b[c]).
void bn_apply(const float* x, float* y, const float* a, const float* b, Activation act, int64_t m, int64_t c,
              int device);
// With gz = gy act'(x a + b): sum_g[c] = sum gz, sum_gxc[c] = sum gz (x - mean[c]). sums2: 2 * c
// floats receiving sum_g then sum_gxc.
void bn_reduce_grad(const float* x, const float* gy, const float* a, const float* b, Activation act, const float* mean,
                    int64_t m, int64_t c, float* sums2, int device);
// dx = p gz + q x + r with, per channel, p = a, and in training q = -p invstd^2 sum_gxc / count,
// r = -p sum_g / count - q mean (eval: q = r = 0). Also dgamma = sum_gxc invstd, dbeta = sum_g
// when the pointers are given.
void bn_input_grad(const float* x, const float* gy, const float* a, const float* b, Activation act, const float* mean,
                   const float* invstd, const float* sums2, bool training, int64_t m, int64_t c, float* dx,
                   float* dgamma, float* dbeta, int device);

}  // namespace hwnas::cuda
