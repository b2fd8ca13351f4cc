#pragma once
// CPU kernels of batch norm (internal to ops/batch_norm.cpp). Two layouts:
//  rows:   m rows of c channels (NHWC activations, [N, C]); vectorized across channels,
//          threads split the rows and keep per-thread partial sums for channel reductions.
//  planes: n x c planes of s contiguous elements (NCHW); vectorized along the plane,
//          threads split the channels so no partial sums are needed.
#include <cstdint>

#include "ops/activation.h"

namespace hwnas::bn {

struct Geom {
  bool rows = true;
  int64_t n = 0;  // rows: number of rows (N*H*W); planes: batch size
  int64_t c = 0;
  int64_t s = 1;  // planes: elements per plane (H*W); rows: 1
  int64_t count() const { return n * s; }  // values per channel
};

// Per-channel mean and biased variance.
void stats(const Geom& g, const float* x, float* mean, float* var);
// y = act(x * a[c] + b[c]).
void apply(const Geom& g, const float* x, float* y, const float* a, const float* b, Activation act);
// With gz = gy * act'(x * a + b) (gz = gy when act is none):
// sum_g[c] = sum gz, sum_gxc[c] = sum gz * (x - mean[c]). When act is not none and gz_out is
// given, gz is also stored there (so a following input_grad can read it instead of redoing the
// activation derivative).
void reduce_grad(const Geom& g, const float* x, const float* gy, const float* a, const float* b, Activation act,
                 const float* mean, double* sum_g, double* sum_gxc, float* gz_out = nullptr);
// dx = p[c] * gz + q[c] * x + r[c], gz as in reduce_grad. gy may alias dx (with act none).
void input_grad(const Geom& g, const float* x, const float* gy, const float* a, const float* b, Activation act,
                const float* p, const float* q, const float* r, float* dx);

}  // namespace hwnas::bn
