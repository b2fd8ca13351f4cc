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

bool cuda_built();                      // compiled with the CUDA backend
int cuda_device_count();                // 0 without the backend or without a GPU; never throws
std::string cuda_unavailable_reason();  // why there is no GPU to use; "" when there is
[[noreturn]] void fail_without_cuda(const char* op);  // "<op>: built without CUDA ..."

void* device_alloc(size_t nbytes, Device d);
void device_free(void* p, Device d);

// dst.copy_(src) when either tensor is on a CUDA device: broadcasts src to dst's shape, converts
// f32 <-> i64, any strides; synchronous as seen from the host.
void copy_across_devices(const Tensor& dst, const Tensor& src);
void fill_on_device(const Tensor& t, float value);
// dst += src for two dense f32 tensors with the same strides on one CUDA device (gradient
// accumulation).
void add_inplace_on_device(const Tensor& dst, const Tensor& src);

}  // namespace hwnas
