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

// Waits until `d`'s queued work is done (a no-op on the CPU): for timing GPU work from the host.
void synchronize_device(Device d);

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
