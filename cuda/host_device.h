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
