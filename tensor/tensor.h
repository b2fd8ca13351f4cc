#pragma once
// Tensor: a typed, strided view of reference-counted storage. Views (narrow, slice, permute,
// expand, reshape where the strides allow it) share storage and never copy; that is what
// lets a supernet's subnets run on slices of one set of weights.
#include <cstdint>
#include <memory>
#include <string>
#include <vector>

#include "tensor/dtype.h"
#include "tensor/error.h"
#include "tensor/rng.h"

namespace hwnas {

using Shape = std::vector<int64_t>;

std::string shape_str(const Shape& s);
int64_t shape_numel(const Shape& s);
Shape contiguous_strides(const Shape& s);
// NCHW shape, NHWC memory: strides (H*W*C, 1, W*C, C).
Shape channels_last_strides(const Shape& s);
// The shape two operands broadcast to (numpy rules); throws naming `op` when they don't.
Shape broadcast_shapes(const Shape& a, const Shape& b, const char* op = "broadcast");

// 64-byte aligned CPU memory, or CUDA device memory from cuda/'s caching allocator, shared by
// tensors and their views.
class Storage {
 public:
  Storage(size_t nbytes, Device device);
  ~Storage();
  Storage(const Storage&) = delete;
  Storage& operator=(const Storage&) = delete;
  void* data() const { return data_; }
  size_t nbytes() const { return nbytes_; }
  Device device() const { return device_; }
  // Moves the bytes to `device` in place, so every tensor sharing this storage (a module's
  // parameter and the views its layers hold) follows: what Module::to does.
  void move_to(Device device);

 private:
  void* data_ = nullptr;
  size_t nbytes_ = 0;
  Device device_;
};

class Tensor {
 public:
  Tensor() = default;

  // Factories. Memory is 64-byte aligned; `empty` leaves it uninitialised.
  static Tensor empty(const Shape& shape, DType dtype = DType::f32,
                      MemoryFormat fmt = MemoryFormat::contiguous, Device device = {});
  static Tensor zeros(const Shape& shape, DType dtype = DType::f32,
                      MemoryFormat fmt = MemoryFormat::contiguous);
  static Tensor ones(const Shape& shape, DType dtype = DType::f32);
  static Tensor full(const Shape& shape, float value);
  static Tensor from_vector(const std::vector<float>& v, const Shape& shape);
  static Tensor from_vector_i64(const std::vector<int64_t>& v, const Shape& shape);
  static Tensor scalar(float v) { return from_vector({v}, {}); }
  static Tensor randn(const Shape& shape, Generator& gen, float mean = 0.f, float std = 1.f);
  static Tensor uniform(const Shape& shape, Generator& gen, float lo = 0.f, float hi = 1.f);
  // A new tensor with the same shape; dense layout kept (so channels_last stays channels_last).
  static Tensor empty_like(const Tensor& t);
  static Tensor zeros_like(const Tensor& t);

  bool defined() const { return storage_ != nullptr; }
  const Shape& shape() const { return shape_; }
  const Shape& strides() const { return strides_; }
  int64_t offset() const { return offset_; }
  int64_t dim() const { return static_cast<int64_t>(shape_.size()); }
  int64_t size(int64_t d) const { return shape_[wrap_dim(d)]; }
  int64_t stride(int64_t d) const { return strides_[wrap_dim(d)]; }
  int64_t numel() const { return shape_numel(shape_); }
  DType dtype() const { return dtype_; }
  Device device() const { return storage_ ? storage_->device() : Device{}; }
  const std::shared_ptr<Storage>& storage() const { return storage_; }
  int64_t wrap_dim(int64_t d) const;  // negative dims count from the end; throws when out of range

  // Host pointer to the first element. On a CUDA tensor this is an error (naming the tensor), so a
  // CPU kernel handed a GPU tensor (an op without a CUDA kernel) fails instead of crashing.
  template <class T>
  T* data() const {
    if (!storage_->device().is_cpu())
      fail("tensor: host access (data<{}>()) to {} on {}: this op has no kernel for that device",
           dtype_name(dtype_of<T>()), str(), storage_->device().str());
    return device_data<T>();
  }
  // Pointer to the first element on the tensor's own device (CUDA kernels use this).
  template <class T>
  T* device_data() const {
    if (dtype_of<T>() != dtype_) fail("tensor: data<{}>() on a {} tensor", dtype_name(dtype_of<T>()), dtype_name(dtype_));
    return reinterpret_cast<T*>(static_cast<char*>(storage_->data()) + offset_ * static_cast<int64_t>(sizeof(T)));
  }
  void* raw_data() const { return static_cast<char*>(storage_->data()) + offset_ * static_cast<int64_t>(dtype_size(dtype_)); }

  bool is_contiguous() const;
  bool is_channels_last() const;  // 4-D with channels_last strides (size-1 dims ignored)
  // Covers a gap-free, non-overlapping block of memory in some order.
  bool is_dense() const;
  Tensor contiguous() const;
  Tensor contiguous(MemoryFormat fmt) const;
  Tensor clone() const;  // deep copy, dense layout kept
  // This tensor on `device` (itself when already there); dense layout kept, synchronous.
  Tensor to(Device device) const;
  Tensor cuda(int index = 0) const { return to(Device{DeviceType::cuda, index}); }
  Tensor cpu() const { return to(Device{}); }
  bool is_cuda() const { return device().type == DeviceType::cuda; }

  // Views (no copy). `view` requires compatible strides; `reshape` copies when it must.
  Tensor view(const Shape& shape) const;
  Tensor reshape(const Shape& shape) const;
  Tensor flatten(int64_t start_dim = 0) const;
  Tensor permute(const std::vector<int64_t>& order) const;
  Tensor transpose(int64_t d0, int64_t d1) const;
  Tensor narrow(int64_t dim, int64_t start, int64_t length) const;
  Tensor slice(int64_t dim, int64_t start, int64_t end, int64_t step = 1) const;
  Tensor select(int64_t dim, int64_t index) const;
  Tensor unsqueeze(int64_t dim) const;
  Tensor squeeze(int64_t dim) const;
  Tensor expand(const Shape& shape) const;  // broadcast view: stride 0 on expanded dims
  Tensor as_strided(const Shape& shape, const Shape& strides, int64_t offset) const;

  // In-place. copy_ broadcasts `src` to this shape and converts f32<->i64.
  Tensor& copy_(const Tensor& src);
  Tensor& fill_(float v);
  Tensor& zero_() { return fill_(0.f); }

  float item() const;  // the single element, as float
  float at(const std::vector<int64_t>& idx) const;
  std::vector<float> to_vector() const;      // row-major (logical order), as float
  std::vector<int64_t> to_vector_i64() const;
  std::string str() const;  // "f32[2, 3]"

 private:
  std::shared_ptr<Storage> storage_;
  Shape shape_;
  Shape strides_;
  int64_t offset_ = 0;
  DType dtype_ = DType::f32;
};

// Calls f(offset_a, offset_b) for every logical index of `shape`, in row-major order, where
// the offsets are in elements of the strides given. The workhorse of strided copies.
template <class F>
void for_each_offset2(const Shape& shape, const Shape& sa, const Shape& sb, F&& f) {
  const int64_t nd = static_cast<int64_t>(shape.size());
  if (shape_numel(shape) == 0) return;
  if (nd == 0) {
    f(int64_t{0}, int64_t{0});
    return;
  }
  std::vector<int64_t> idx(nd, 0);
  int64_t oa = 0, ob = 0;
  const int64_t inner = shape[nd - 1], ia = sa[nd - 1], ib = sb[nd - 1];
  while (true) {
    for (int64_t i = 0; i < inner; ++i) f(oa + i * ia, ob + i * ib);
    int64_t d = nd - 2;
    for (; d >= 0; --d) {
      ++idx[d];
      oa += sa[d];
      ob += sb[d];
      if (idx[d] < shape[d]) break;
      oa -= sa[d] * shape[d];
      ob -= sb[d] * shape[d];
      idx[d] = 0;
    }
    if (d < 0) return;
  }
}

}  // namespace hwnas
