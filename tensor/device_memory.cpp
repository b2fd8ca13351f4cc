#include "tensor/device_memory.h"

#include "hwnas_config.h"

#include <cstring>

#include "tensor/tensor.h"

#if HWNAS_HAVE_CUDA
#include <cuda_runtime.h>

#include "cuda/check.h"
#include "cuda/copy_kernels.h"
#include "cuda/elementwise.h"
#include "cuda/runtime.h"
#include "cuda/tensor_layout.h"
#endif

namespace hwnas {

Device parse_device(const std::string& text) {
  if (text == "cpu") return Device{};
  if (text == "cuda") return Device{DeviceType::cuda, 0};
  if (text.rfind("cuda:", 0) == 0 && text.size() > 5 && text.size() < 8 &&
      text.find_first_not_of("0123456789", 5) == std::string::npos)
    return Device{DeviceType::cuda, std::stoi(text.substr(5))};
  fail("device: '{}' is not a device (expected cpu, cuda or cuda:N)", text);
}

bool cuda_built() { return HWNAS_HAVE_CUDA != 0; }

void fail_without_cuda(const char* op) {
  fail("{}: a CUDA tensor, but hwnas was built without CUDA (configure with a CUDA compiler, "
       "HWNAS_CUDA=ON, to build the cuda/ backend)",
       op);
}

#if !HWNAS_HAVE_CUDA

int cuda_device_count() { return 0; }
std::string cuda_unavailable_reason() { return "hwnas was built without CUDA"; }
GpuInfo gpu_info(Device d) { fail_without_cuda(("gpu info of " + d.str()).c_str()); }
DeviceMemoryStats device_memory_stats(Device) { return {}; }
void reserve_device_memory(Device d, size_t) {
  if (!d.is_cpu()) fail_without_cuda("reserve");
}
void* device_alloc(size_t, Device d) { fail_without_cuda(("tensor on " + d.str()).c_str()); }
void device_free(void*, Device) {}
void synchronize_device(Device d) {
  if (!d.is_cpu()) fail_without_cuda("synchronize");
}
void copy_bytes(void* dst, Device dst_dev, const void* src, Device src_dev, size_t nbytes) {
  if (!dst_dev.is_cpu() || !src_dev.is_cpu()) fail_without_cuda("copy");
  if (nbytes) std::memcpy(dst, src, nbytes);
}
void copy_across_devices(const Tensor&, const Tensor&) { fail_without_cuda("copy_"); }
void fill_on_device(const Tensor&, float) { fail_without_cuda("fill_"); }
void add_inplace_on_device(const Tensor&, const Tensor&) { fail_without_cuda("gradient accumulation"); }

#else

int cuda_device_count() { return cuda::device_count(); }
std::string cuda_unavailable_reason() { return cuda::no_device_reason(); }

GpuInfo gpu_info(Device d) {
  if (d.is_cpu()) fail("gpu info: {} is not a GPU", d.str());
  cuda::check_device(d.index, "gpu info");
  cudaDeviceProp p{};
  HWNAS_CUDA_CHECK(cudaGetDeviceProperties(&p, d.index), "gpu info");
  int mem_khz = 0, bus_bits = 0;
  HWNAS_CUDA_CHECK(cudaDeviceGetAttribute(&mem_khz, cudaDevAttrMemoryClockRate, d.index), "gpu info");
  HWNAS_CUDA_CHECK(cudaDeviceGetAttribute(&bus_bits, cudaDevAttrGlobalMemoryBusWidth, d.index), "gpu info");
  int sm_khz = 0;
  HWNAS_CUDA_CHECK(cudaDeviceGetAttribute(&sm_khz, cudaDevAttrClockRate, d.index), "gpu info");
  return {p.name, p.multiProcessorCount, 2.0 * mem_khz * 1e3 * bus_bits / 8.0, sm_khz * 1e3, p.major, p.minor};
}

DeviceMemoryStats device_memory_stats(Device d) {
  if (d.is_cpu()) return {};
  cuda::check_device(d.index, "memory stats");
  const cuda::AllocatorStats a = cuda::allocator(d.index).stats();
  return {a.reserved_bytes, a.allocated_bytes, a.peak_allocated_bytes, a.driver_allocs};
}

void reserve_device_memory(Device d, size_t bytes) {
  if (d.is_cpu()) return;
  cuda::check_device(d.index, "reserve");
  cuda::CachingAllocator& a = cuda::allocator(d.index);
  a.release_cache();
  a.reserve(bytes, cuda::stream(d.index));
}

void* device_alloc(size_t nbytes, Device d) {
  cuda::check_device(d.index, "tensor");
  return cuda::allocator(d.index).allocate(nbytes, cuda::stream(d.index));
}

void device_free(void* p, Device d) {
  if (p) cuda::allocator(d.index).deallocate(p);
}

void synchronize_device(Device d) {
  if (!d.is_cpu()) cuda::synchronize(d.index, "synchronize");
}

void copy_bytes(void* dst, Device dst_dev, const void* src, Device src_dev, size_t nbytes) {
  if (nbytes == 0) return;
  if (dst_dev.is_cpu() && src_dev.is_cpu()) {
    std::memcpy(dst, src, nbytes);
    return;
  }
  const int dev = dst_dev.is_cpu() ? src_dev.index : dst_dev.index;
  if (!dst_dev.is_cpu() && !src_dev.is_cpu() && dst_dev != src_dev)
    HWNAS_CUDA_CHECK(cudaMemcpyPeer(dst, dst_dev.index, src, src_dev.index, nbytes), "copy (between GPUs)");
  else
    HWNAS_CUDA_CHECK(cudaMemcpyAsync(dst, src, nbytes, cudaMemcpyDefault, static_cast<cudaStream_t>(cuda::stream(dev))),
                     "copy");
  cuda::synchronize(dev, "copy");
}

namespace {

cuda::ElemType elem_type(DType t, const char* op) {
  if (t == DType::f32) return cuda::ElemType::f32;
  if (t == DType::i64) return cuda::ElemType::i64;
  fail("{}: dtype {} is not supported on CUDA yet", op, dtype_name(t));
}

// A host tensor with the same shape and (dense) strides as `t`, so that the two are one memcpy apart.
Tensor host_twin(const Tensor& t) { return Tensor::empty({t.numel()}, t.dtype()).as_strided(t.shape(), t.strides(), 0); }

size_t nbytes_of(const Tensor& t) { return static_cast<size_t>(t.numel()) * dtype_size(t.dtype()); }

void same_device_copy(const Tensor& dst, const Tensor& src) {
  Tensor s = src;
  // Overlapping storage: through a temporary, as the CPU path does.
  if (dst.storage() == s.storage()) s = s.contiguous().clone();
  cuda::launch_copy_strided(dst.raw_data(), elem_type(dst.dtype(), "copy_"), cuda::layout_of(dst, "copy_"),
                            s.raw_data(), elem_type(s.dtype(), "copy_"), cuda::layout_of(s, "copy_"), dst.numel(),
                            cuda::stream(dst.device().index));
}

}  // namespace

void copy_across_devices(const Tensor& dst, const Tensor& src) {
  const Device dd = dst.device(), sd = src.device();
  if (dst.numel() == 0) return;
  if (!dd.is_cpu() && dd == sd) return same_device_copy(dst, src);
  if (!dd.is_cpu() && !sd.is_cpu()) {  // one GPU to another: through the host
    const_cast<Tensor&>(dst).copy_(src.to(Device{}));
    return;
  }
  if (sd.is_cpu()) {  // host -> device: convert and broadcast on the host, then one transfer
    Tensor dev = dst.is_dense() ? dst : Tensor::empty(dst.shape(), dst.dtype(), MemoryFormat::contiguous, dd);
    Tensor host = host_twin(dev);
    host.copy_(src);
    HWNAS_CUDA_CHECK(cudaMemcpyAsync(dev.raw_data(), host.raw_data(), nbytes_of(host), cudaMemcpyHostToDevice,
                                     static_cast<cudaStream_t>(cuda::stream(dd.index))),
                     "copy_ (host to device)");
    cuda::synchronize(dd.index, "copy_ (host to device)");  // `host` dies at return
    if (!dst.is_dense()) same_device_copy(dst, dev);
    return;
  }
  // device -> host: one transfer of a dense block, then the host does strides and conversion.
  Tensor dev = src.is_dense() ? src : src.contiguous();
  Tensor host = host_twin(dev);
  HWNAS_CUDA_CHECK(cudaMemcpyAsync(host.raw_data(), dev.raw_data(), nbytes_of(host), cudaMemcpyDeviceToHost,
                                   static_cast<cudaStream_t>(cuda::stream(sd.index))),
                   "copy_ (device to host)");
  cuda::synchronize(sd.index, "copy_ (device to host)");
  const_cast<Tensor&>(dst).copy_(host);
}

void fill_on_device(const Tensor& t, float value) {
  cuda::launch_fill(t.raw_data(), elem_type(t.dtype(), "fill_"), cuda::layout_of(t, "fill_"), value, t.numel(),
                    cuda::stream(t.device().index));
}

void add_inplace_on_device(const Tensor& dst, const Tensor& src) {
  if (dst.device() != src.device())
    fail("gradient accumulation: gradients on {} and {}", dst.device().str(), src.device().str());
  cuda::binary_flat(cuda::BinaryKind::add, dst.device_data<float>(), dst.device_data<float>(), src.device_data<float>(),
                    dst.numel(), dst.device().index);
}

#endif

}  // namespace hwnas
