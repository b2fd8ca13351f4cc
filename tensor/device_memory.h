#pragma once
// Tensors on CUDA devices, as tensor/ sees them: storage, copies between any two devices, fill.
// With the CUDA backend built (HWNAS_HAVE_CUDA) these go to cuda/ (its caching allocator, the
// device's stream, its copy kernels); without it they throw a clear "built without CUDA" error,
// so a CPU-only build links and fails only when a GPU is actually asked for.
#include <cstddef>
#include <string>

#include "tensor/dtype.h"

namespace hwnas {

class Tensor;

// "cpu", "cuda" (device 0) or "cuda:N"; throws naming the text and what is accepted.
Device parse_device(const std::string& text);

bool cuda_built();                      // compiled with the CUDA backend
int cuda_device_count();                // 0 without the backend or without a GPU; never throws
std::string cuda_unavailable_reason();  // why there is no GPU to use; "" when there is
[[noreturn]] void fail_without_cuda(const char* op);  // "<op>: built without CUDA ..."

// A GPU as the kernel lab reports it: its name, SM count, and theoretical DRAM bandwidth (bytes/s:
// 2 transfers per memory clock x bus width), the peak a memory-bound kernel's GB/s is a share of.
// Throws without a GPU.
struct GpuInfo {
  std::string name;
  int sms = 0;
  double peak_bandwidth = 0;
  double sm_clock_hz = 0;  // the SMs' peak clock (the driver's cudaDevAttrClockRate)
  int cc_major = 0, cc_minor = 0;
};
GpuInfo gpu_info(Device d);

// Waits until `d`'s queued work is done (a no-op on the CPU): for timing GPU work from the host.
void synchronize_device(Device d);

// The caching allocator's counters for `d` (all zero on the CPU and without CUDA).
struct DeviceMemoryStats {
  size_t reserved_bytes = 0;        // held from the driver
  size_t allocated_bytes = 0;       // in live tensors
  size_t peak_allocated_bytes = 0;
  size_t driver_allocs = 0;         // cudaMalloc calls so far
};
DeviceMemoryStats device_memory_stats(Device d);
// Returns `d`'s fully free cached segments to the driver, then makes sure one free block of at
// least `bytes` is cached (one cudaMalloc), so that later steps needing no more than that are
// served from the cache. A no-op on the CPU.
void reserve_device_memory(Device d, size_t bytes);

void* device_alloc(size_t nbytes, Device d);
void device_free(void* p, Device d);
// nbytes from src on src_dev to dst on dst_dev (any pair of devices); synchronous.
void copy_bytes(void* dst, Device dst_dev, const void* src, Device src_dev, size_t nbytes);

// dst.copy_(src) when either tensor is on a CUDA device: broadcasts src to dst's shape, converts
// f32 <-> i64, any strides; synchronous as seen from the host.
void copy_across_devices(const Tensor& dst, const Tensor& src);
void fill_on_device(const Tensor& t, float value);
// dst += src for two dense f32 tensors with the same strides on one CUDA device (gradient
// accumulation).
void add_inplace_on_device(const Tensor& dst, const Tensor& src);

}  // namespace hwnas
