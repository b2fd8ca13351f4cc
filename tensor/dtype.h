#pragma once
// Element types and devices. f32 is the compute type; i64 carries labels and indices.
// bf16/f16 are reserved so later mixed-precision work does not change the enum's layout.
#include <cstddef>
#include <cstdint>
#include <string>

namespace hwnas {

enum class DType : uint8_t { f32 = 0, i64 = 1, bf16 = 2, f16 = 3 };

inline size_t dtype_size(DType t) {
  switch (t) {
    case DType::f32: return 4;
    case DType::i64: return 8;
    case DType::bf16:
    case DType::f16: return 2;
  }
  return 0;
}

inline const char* dtype_name(DType t) {
  switch (t) {
    case DType::f32: return "f32";
    case DType::i64: return "i64";
    case DType::bf16: return "bf16";
    case DType::f16: return "f16";
  }
  return "?";
}

template <class T> constexpr DType dtype_of();
template <> constexpr DType dtype_of<float>() { return DType::f32; }
template <> constexpr DType dtype_of<int64_t>() { return DType::i64; }

enum class DeviceType : uint8_t { cpu = 0, cuda = 1 };

struct Device {
  DeviceType type = DeviceType::cpu;
  int index = 0;
  bool operator==(const Device&) const = default;
  bool is_cpu() const { return type == DeviceType::cpu; }
  std::string str() const { return type == DeviceType::cpu ? "cpu" : "cuda:" + std::to_string(index); }
};

// How a 4-D (N,C,H,W) tensor's elements are laid out in memory. The shape is always
// NCHW (as in PyTorch and ONNX); channels_last only changes the strides, which lets the
// CPU kernels vectorize across channels (depthwise conv, batch norm) and turn 1x1 convs
// into one GEMM.
enum class MemoryFormat : uint8_t { contiguous, channels_last, preserve };

}  // namespace hwnas
