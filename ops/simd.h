#pragma once
// Function multiversioning for our own hot loops: the binary stays portable (x86-64 baseline)
// while each marked function also gets AVX2+FMA (x86-64-v3) and AVX-512 (x86-64-v4) clones,
// picked once at load time by the CPU's features. Write plain loops with `#pragma omp simd`
// and __restrict pointers; the compiler vectorizes each clone for its ISA.
#if defined(__x86_64__) && !defined(HWNAS_NO_MULTIVERSION) && defined(__GNUC__) && !defined(__clang__)
#define HWNAS_MULTIVERSION __attribute__((target_clones("arch=x86-64-v4", "arch=x86-64-v3", "default")))
#else
#define HWNAS_MULTIVERSION
#endif
