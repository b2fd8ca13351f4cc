#pragma once
// CUDA errors become hwnas::Error exceptions naming the op, the CUDA error and the call site.
// Kept free of fmt and Tensor so that .cu files (nvcc cannot compile this fmt) can include it.
#include <cuda_runtime.h>

namespace hwnas::cuda {

[[noreturn]] void throw_cuda_error(int code, const char* op, const char* what, const char* file, int line);

}  // namespace hwnas::cuda

#define HWNAS_CUDA_CHECK(expr, op)                                                            \
  do {                                                                                        \
    const cudaError_t hwnas_err_ = (expr);                                                    \
    if (hwnas_err_ != cudaSuccess)                                                            \
      ::hwnas::cuda::throw_cuda_error(static_cast<int>(hwnas_err_), (op), #expr, __FILE__, __LINE__); \
  } while (0)

// After a kernel launch: launch-configuration errors show up here, not at the launch.
#define HWNAS_CUDA_CHECK_LAUNCH(op) HWNAS_CUDA_CHECK(cudaGetLastError(), op)
