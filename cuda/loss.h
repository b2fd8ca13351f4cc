#pragma once
// CUDA kernels of ops/loss: cross-entropy with label smoothing over contiguous logits [n, c],
// one warp per row. The per-row log-sum-exp is kept for the backward; the upstream gradient is
// read on the device, so neither pass waits for the host.
#include <cstdint>

namespace hwnas::cuda {

// loss_rows[i] = lse_i - (1 - eps) x[i, label_i] - eps / c * sum_k x[i, k]; lse[i] saved.
void cross_entropy_forward(const float* x, const int64_t* labels, int64_t n, int64_t c, float eps, float* lse,
                           float* loss_rows, int device);
// gx = (*gy / n) * (softmax(x) - target), target = eps / c everywhere plus (1 - eps) on the label.
void cross_entropy_backward(const float* x, const float* lse, const int64_t* labels, const float* gy, int64_t n,
                            int64_t c, float eps, float* gx, int device);

}  // namespace hwnas::cuda
