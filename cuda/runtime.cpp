#include "cuda/runtime.h"

#include <cublas_v2.h>
#include <cuda_runtime.h>

#include <array>
#include <memory>
#include <mutex>

#include "cuda/check.h"
#include "tensor/error.h"

namespace hwnas::cuda {

void throw_cuda_error(int code, const char* op, const char* what, const char* file, int line) {
  const auto e = static_cast<cudaError_t>(code);
  fail("{}: CUDA error {} ({}) in {} at {}:{}", op, cudaGetErrorName(e), cudaGetErrorString(e), what, file, line);
}

namespace {

constexpr int kMaxDevices = 16;

struct DeviceState {
  std::once_flag init;
  cudaStream_t stream = nullptr;
  cublasHandle_t cublas = nullptr;
  std::unique_ptr<CachingAllocator> alloc;
};

std::array<DeviceState, kMaxDevices>& states() {
  // Never destroyed: tensors held in static objects may free after main returns.
  static auto* s = new std::array<DeviceState, kMaxDevices>();
  return *s;
}

struct Probe {
  int count = 0;
  std::string reason;
};

const Probe& probe() {
  static const Probe p = [] {
    Probe r;
    const cudaError_t e = cudaGetDeviceCount(&r.count);
    if (e != cudaSuccess) {
      r.count = 0;
      r.reason = fmt::format("no usable CUDA device: cudaGetDeviceCount failed with {} ({})", cudaGetErrorName(e),
                             cudaGetErrorString(e));
      cudaGetLastError();  // clear the sticky error
    } else if (r.count == 0) {
      r.reason = "no CUDA device: the driver reports 0 GPUs";
    }
    return r;
  }();
  return p;
}

DeviceState& state(int device) {
  check_device(device, "cuda");
  DeviceState& s = states()[static_cast<size_t>(device)];
  std::call_once(s.init, [&] {
    HWNAS_CUDA_CHECK(cudaSetDevice(device), "cuda init");
    HWNAS_CUDA_CHECK(cudaStreamCreateWithFlags(&s.stream, cudaStreamNonBlocking), "cuda init");
    const std::string name = "cuda:" + std::to_string(device);
    s.alloc = std::make_unique<CachingAllocator>(
        [device](size_t n) -> void* {
          void* p = nullptr;
          cudaSetDevice(device);
          if (cudaMalloc(&p, n) != cudaSuccess) {
            cudaGetLastError();  // out of memory is answered by the allocator, not sticky
            return nullptr;
          }
          return p;
        },
        [device](void* p) {
          cudaSetDevice(device);
          cudaFree(p);
        },
        name);
  });
  HWNAS_CUDA_CHECK(cudaSetDevice(device), "cuda");
  return s;
}

}  // namespace

int device_count() { return probe().count; }
std::string no_device_reason() { return probe().reason; }

void check_device(int index, const char* op) {
  if (device_count() == 0) fail("{}: cuda:{} asked for, but {}", op, index, no_device_reason());
  if (index < 0 || index >= device_count() || index >= kMaxDevices)
    fail("{}: cuda:{} does not exist (this machine has {} CUDA device{})", op, index, device_count(),
         device_count() == 1 ? "" : "s");
}

void* stream(int device) { return state(device).stream; }

void synchronize(int device, const char* op) { HWNAS_CUDA_CHECK(cudaStreamSynchronize(state(device).stream), op); }

CachingAllocator& allocator(int device) { return *state(device).alloc; }

void* cublas_handle(int device) {
  DeviceState& s = state(device);
  static std::mutex mu;
  std::lock_guard<std::mutex> lock(mu);
  if (!s.cublas) {
    if (cublasCreate(&s.cublas) != CUBLAS_STATUS_SUCCESS) fail("matmul: cublasCreate failed on cuda:{}", device);
    cublasSetStream(s.cublas, s.stream);
  }
  return s.cublas;
}

}  // namespace hwnas::cuda
