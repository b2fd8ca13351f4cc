#pragma once
// CUDA kernels of ops/softmax over the same geometry: a dense tensor seen along the softmax dim
// is [outer][c][inner]; one thread per (outer, inner) column. Softmax dims here are small
// (classes, radix splits, a dimension's choices), so a column per thread is enough.
#include <cstdint>

namespace hwnas::cuda {

void softmax_forward(const float* x, float* y, int64_t outer, int64_t c, int64_t inner, bool log, int device);
// From the forward's output y: softmax gx = y (gy - sum(gy y)); log_softmax gx = gy - exp(y) sum(gy).
void softmax_backward(const float* y, const float* gy, float* gx, int64_t outer, int64_t c, int64_t inner, bool log,
                      int device);

}  // namespace hwnas::cuda
