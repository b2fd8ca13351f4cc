#pragma once
// Small building blocks shared by the pointwise kernels (activations, softmax, loss, dropout):
// an exp that vectorizes (glibc's expf only has SIMD variants under -ffast-math) and a helper
// that splits a flat range over OpenMP threads only when it is large enough to pay for the fork.
//
// Kernel files put `#pragma GCC optimize("no-trapping-math")` after their includes: with GCC's
// default -ftrapping-math, a float compare-and-select (relu, clamps, max) is not if-converted on
// AVX2, so those loops would stay scalar on x86-64-v3. We never rely on FP exceptions. Inside
// such files, use plain ternaries rather than std::min/max: inline functions from headers compiled
// with other options are not inlined into them.
#include <omp.h>

#include <algorithm>
#include <cstdint>

namespace hwnas::kernel {

// Elements below which a pointwise loop stays on one thread (fork/join costs a few µs).
inline constexpr int64_t kParallelGrain = 32768;

// exp(x) to ~2 ulp (Cephes polynomial), plain arithmetic so `omp simd` loops vectorize it.
// The input is clamped so the result stays a normal finite float (no inf, no denormals).
__attribute__((always_inline)) inline float vexp(float x) {
  x = x < -87.3f ? -87.3f : x;
  x = x > 88.3f ? 88.3f : x;
  // Round x / ln2 to the nearest integer by adding 1.5 * 2^23: the integer lands in the
  // mantissa bits, which also gives it as an int without a conversion instruction.
  const float t = x * 1.44269504088896341f + 12582912.f;
  const float n = t - 12582912.f;
  const int32_t ni = __builtin_bit_cast(int32_t, t) - 0x4B400000;
  float r = x - n * 0.693359375f;
  r = r + n * 2.12194440e-4f;
  float p = 1.9875691500e-4f;
  p = p * r + 1.3981999507e-3f;
  p = p * r + 8.3334519073e-3f;
  p = p * r + 4.1665795894e-2f;
  p = p * r + 1.6666665459e-1f;
  p = p * r + 5.0000001201e-1f;
  p = p * r * r + r + 1.f;
  return p * __builtin_bit_cast(float, (ni + 127) << 23);
}

__attribute__((always_inline)) inline float vsigmoid(float x) { return 1.f / (1.f + vexp(-x)); }

// Calls f(begin, end) on disjoint chunks covering [0, n): one chunk per thread when n exceeds
// `grain`, else a single call on the calling thread. Chunk starts are multiples of `align`
// (16 floats: threads do not share cache lines of a flat output).
template <class F>
void parallel_chunks(int64_t n, F&& f, int64_t grain = kParallelGrain, int64_t align = 16) {
  if (n <= 0) return;
  int nt = 1;
  if (n > grain && !omp_in_parallel())
    nt = static_cast<int>(std::min<int64_t>(omp_get_max_threads(), (n + grain - 1) / grain));
  if (nt <= 1) {
    f(int64_t{0}, n);
    return;
  }
#pragma omp parallel num_threads(nt)
  {
    const int64_t t = omp_get_thread_num(), T = omp_get_num_threads();
    const int64_t chunk = ((n + T - 1) / T + align - 1) / align * align;
    const int64_t b = t * chunk, e = std::min(n, b + chunk);
    if (b < e) f(b, e);
  }
}

}  // namespace hwnas::kernel
