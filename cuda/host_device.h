#pragma once
// HWNAS_HD marks a function that nvcc compiles for both the host and the device, and that a plain
// C++ compiler sees as an ordinary inline function. The per-thread bodies of the fused kernels
// are written this way (cuda/fused_bodies.h, nn/update_rules.h): the kernels call them per
// thread, and tests call them over every index on the host, so their index and math logic is
// tested against the CPU ops on machines without a GPU.
#if defined(__CUDACC__)
#define HWNAS_HD __host__ __device__ __forceinline__
#else
#define HWNAS_HD inline
#endif

// HWNAS_UNROLL before a loop over a compile-time bound (kMaxCandidates, kMaxRadix) with a runtime
// guard inside: unrolled, every index into a per-thread array is a constant, so nvcc keeps the
// array in registers; a loop to a runtime bound indexes it at run time, which puts it in local
// memory (ptxas: "bytes stack frame"). Host compilers see nothing.
#if defined(__CUDA_ARCH__)
#define HWNAS_UNROLL _Pragma("unroll")
#else
#define HWNAS_UNROLL
#endif
