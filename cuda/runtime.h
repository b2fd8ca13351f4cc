#pragma once
// The CUDA runtime as hwnas uses it: which devices there are, one stream per device that every
// op runs on (so no cross-stream synchronisation is needed; the caching allocator relies on it),
// the per-device allocator, and the cuBLAS handle bound to that stream. Plain C++: streams are
// handed around as void* so that headers outside cuda/ never need cuda_runtime.h.
#include <string>

#include "cuda/caching_allocator.h"

namespace hwnas::cuda {

int device_count();                // 0 when the driver reports no device (never throws)
std::string no_device_reason();    // why device_count() is 0, for skip messages and errors
void check_device(int index, const char* op);  // throws naming op and the devices there are
void* stream(int device);          // cudaStream_t, created on first use
void synchronize(int device, const char* op);
CachingAllocator& allocator(int device);
void* cublas_handle(int device);   // cublasHandle_t bound to stream(device)

}  // namespace hwnas::cuda
