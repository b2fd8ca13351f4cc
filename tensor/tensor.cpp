#include "tensor/tensor.h"

#include "tensor/allocator.h"
#include "tensor/device_memory.h"

#include <algorithm>
#include <cstdlib>
#include <cstring>
#include <numeric>

namespace hwnas {

std::string shape_str(const Shape& s) { return fmt::format("[{}]", fmt::join(s, ", ")); }

int64_t shape_numel(const Shape& s) {
  int64_t n = 1;
  for (auto d : s) n *= d;
  return n;
}

Shape contiguous_strides(const Shape& s) {
  Shape st(s.size());
  int64_t acc = 1;
  for (int64_t i = static_cast<int64_t>(s.size()) - 1; i >= 0; --i) {
    st[i] = acc;
    acc *= std::max<int64_t>(s[i], 1);
  }
  return st;
}

Shape channels_last_strides(const Shape& s) {
  if (s.size() != 4) fail("channels_last needs a 4-D shape, got {}", shape_str(s));
  const int64_t c = std::max<int64_t>(s[1], 1), h = std::max<int64_t>(s[2], 1), w = std::max<int64_t>(s[3], 1);
  return {h * w * c, 1, w * c, c};
}

Shape broadcast_shapes(const Shape& a, const Shape& b, const char* op) {
  const size_t n = std::max(a.size(), b.size());
  Shape out(n);
  for (size_t i = 0; i < n; ++i) {
    const int64_t da = i < n - a.size() ? 1 : a[i - (n - a.size())];
    const int64_t db = i < n - b.size() ? 1 : b[i - (n - b.size())];
    if (da != db && da != 1 && db != 1)
      fail("{}: shapes {} and {} do not broadcast (dim {}: {} vs {})", op, shape_str(a), shape_str(b), i, da, db);
    out[i] = da == 1 ? db : da;
  }
  return out;
}

// ---- Storage -------------------------------------------------------------------------------

Storage::Storage(size_t nbytes, Device device) : nbytes_(nbytes), device_(device) {
  data_ = device.is_cpu() ? cpu_alloc(nbytes) : device_alloc(nbytes, device);
}

void Storage::move_to(Device device) {
  if (device == device_) return;
  void* fresh = device.is_cpu() ? cpu_alloc(nbytes_) : device_alloc(nbytes_, device);
  copy_bytes(fresh, device, data_, device_, nbytes_);
  if (device_.is_cpu()) cpu_free(data_, nbytes_);
  else device_free(data_, device_);
  data_ = fresh;
  device_ = device;
}

Storage::~Storage() {
  if (device_.is_cpu()) cpu_free(data_, nbytes_);
  else device_free(data_, device_);
}

// ---- factories -----------------------------------------------------------------------------

Tensor Tensor::empty(const Shape& shape, DType dtype, MemoryFormat fmt, Device device) {
  for (auto d : shape)
    if (d < 0) fail("tensor: negative dimension in shape {}", shape_str(shape));
  Tensor t;
  t.storage_ = std::make_shared<Storage>(shape_numel(shape) * dtype_size(dtype), device);
  t.shape_ = shape;
  t.strides_ = (fmt == MemoryFormat::channels_last && shape.size() == 4) ? channels_last_strides(shape)
                                                                          : contiguous_strides(shape);
  t.dtype_ = dtype;
  return t;
}

Tensor Tensor::zeros(const Shape& shape, DType dtype, MemoryFormat fmt) {
  Tensor t = empty(shape, dtype, fmt);
  std::memset(t.storage_->data(), 0, t.storage_->nbytes());
  return t;
}

Tensor Tensor::ones(const Shape& shape, DType dtype) {
  Tensor t = empty(shape, dtype);
  t.fill_(1.f);
  return t;
}

Tensor Tensor::full(const Shape& shape, float value) {
  Tensor t = empty(shape);
  t.fill_(value);
  return t;
}

Tensor Tensor::from_vector(const std::vector<float>& v, const Shape& shape) {
  if (static_cast<int64_t>(v.size()) != shape_numel(shape))
    fail("tensor: {} values do not fill shape {}", v.size(), shape_str(shape));
  Tensor t = empty(shape);
  std::copy(v.begin(), v.end(), t.data<float>());
  return t;
}

Tensor Tensor::from_vector_i64(const std::vector<int64_t>& v, const Shape& shape) {
  if (static_cast<int64_t>(v.size()) != shape_numel(shape))
    fail("tensor: {} values do not fill shape {}", v.size(), shape_str(shape));
  Tensor t = empty(shape, DType::i64);
  std::copy(v.begin(), v.end(), t.data<int64_t>());
  return t;
}

Tensor Tensor::randn(const Shape& shape, Generator& gen, float mean, float std) {
  Tensor t = empty(shape);
  float* p = t.data<float>();
  for (int64_t i = 0, n = t.numel(); i < n; ++i) p[i] = mean + std * gen.normal();
  return t;
}

Tensor Tensor::uniform(const Shape& shape, Generator& gen, float lo, float hi) {
  Tensor t = empty(shape);
  float* p = t.data<float>();
  for (int64_t i = 0, n = t.numel(); i < n; ++i) p[i] = gen.uniform(lo, hi);
  return t;
}

Tensor Tensor::empty_like(const Tensor& t) {
  if (t.is_dense() && !t.is_contiguous()) {
    Tensor r;
    r.storage_ = std::make_shared<Storage>(t.numel() * dtype_size(t.dtype_), t.device());
    r.shape_ = t.shape_;
    r.strides_ = t.strides_;
    r.dtype_ = t.dtype_;
    return r;
  }
  return empty(t.shape_, t.dtype_, MemoryFormat::contiguous, t.device());
}

Tensor Tensor::zeros_like(const Tensor& t) {
  Tensor r = empty_like(t);
  if (!r.device().is_cpu()) return r.zero_();
  std::memset(r.storage_->data(), 0, r.storage_->nbytes());
  return r;
}

// ---- layout queries ------------------------------------------------------------------------

int64_t Tensor::wrap_dim(int64_t d) const {
  const int64_t n = dim();
  const int64_t w = d < 0 ? d + n : d;
  if (w < 0 || w >= n) fail("tensor: dim {} out of range for a {}-D tensor {}", d, n, shape_str(shape_));
  return w;
}

bool Tensor::is_contiguous() const {
  int64_t expected = 1;
  for (int64_t i = dim() - 1; i >= 0; --i) {
    if (shape_[i] == 1) continue;
    if (strides_[i] != expected) return false;
    expected *= shape_[i];
  }
  return true;
}

bool Tensor::is_channels_last() const {
  if (dim() != 4) return false;
  static constexpr int order[4] = {1, 3, 2, 0};  // innermost first: C, W, H, N
  int64_t expected = 1;
  for (int i : order) {
    if (shape_[i] == 1) continue;
    if (strides_[i] != expected) return false;
    expected *= shape_[i];
  }
  return true;
}

bool Tensor::is_dense() const {
  // Sort dims by stride; a dense tensor's strides are the running products of the sizes.
  std::vector<int64_t> idx;
  for (int64_t i = 0; i < dim(); ++i)
    if (shape_[i] != 1) idx.push_back(i);
  std::sort(idx.begin(), idx.end(), [&](int64_t a, int64_t b) { return strides_[a] < strides_[b]; });
  int64_t expected = 1;
  for (auto i : idx) {
    if (strides_[i] != expected) return false;
    expected *= shape_[i];
  }
  return true;
}

Tensor Tensor::contiguous() const { return contiguous(MemoryFormat::contiguous); }

Tensor Tensor::contiguous(MemoryFormat fmt) const {
  if (fmt == MemoryFormat::preserve) return is_dense() ? *this : contiguous();
  if (fmt == MemoryFormat::channels_last && dim() != 4) fmt = MemoryFormat::contiguous;
  if (fmt == MemoryFormat::contiguous ? is_contiguous() : is_channels_last()) return *this;
  Tensor r = empty(shape_, dtype_, fmt, device());
  r.copy_(*this);
  return r;
}

Tensor Tensor::to(Device device) const {
  if (!defined() || this->device() == device) return *this;
  Tensor r = is_dense() ? Tensor() : empty(shape_, dtype_, MemoryFormat::contiguous, device);
  if (!r.defined()) {  // dense: keep the strides (channels_last stays channels_last)
    r.storage_ = std::make_shared<Storage>(numel() * dtype_size(dtype_), device);
    r.shape_ = shape_;
    r.strides_ = strides_;
    r.dtype_ = dtype_;
  }
  r.copy_(*this);
  return r;
}

Tensor Tensor::clone() const {
  Tensor r = is_dense() ? empty_like(*this) : empty(shape_, dtype_, MemoryFormat::contiguous, device());
  r.copy_(*this);
  return r;
}

// ---- views ---------------------------------------------------------------------------------

Tensor Tensor::as_strided(const Shape& shape, const Shape& strides, int64_t offset) const {
  Tensor r = *this;
  r.shape_ = shape;
  r.strides_ = strides;
  r.offset_ = offset;
  return r;
}

namespace {
Shape infer_shape(const Shape& want, int64_t numel, const char* op) {
  Shape s = want;
  int64_t known = 1, infer = -1;
  for (size_t i = 0; i < s.size(); ++i) {
    if (s[i] == -1) {
      if (infer >= 0) fail("{}: more than one -1 in shape {}", op, shape_str(want));
      infer = static_cast<int64_t>(i);
    } else {
      known *= s[i];
    }
  }
  if (infer >= 0) {
    if (known == 0 || numel % known != 0) fail("{}: cannot infer -1 in {} for {} elements", op, shape_str(want), numel);
    s[infer] = numel / known;
  }
  if (shape_numel(s) != numel) fail("{}: shape {} does not hold {} elements", op, shape_str(want), numel);
  return s;
}

// Strides for viewing (shape, strides) as `target` without copying, or empty when impossible.
// Same algorithm as PyTorch's computeStride: chunks of dims that are contiguous with each other
// can be regrouped freely.
Shape view_strides(const Shape& shape, const Shape& strides, const Shape& target) {
  const int64_t numel = shape_numel(shape);
  Shape out(target.size());
  // Empty tensors and 0-D scalars: any strides work.
  if (numel == 0 || shape.empty()) return contiguous_strides(target);
  int64_t view_d = static_cast<int64_t>(target.size()) - 1;
  int64_t chunk_base = strides.empty() ? 1 : strides.back();
  int64_t tensor_numel = 1, view_numel = 1;
  for (int64_t d = static_cast<int64_t>(shape.size()) - 1; d >= 0; --d) {
    tensor_numel *= shape[d];
    if (d == 0 || (shape[d - 1] != 1 && strides[d - 1] != tensor_numel * chunk_base)) {
      while (view_d >= 0 && (view_numel < tensor_numel || target[view_d] == 1)) {
        out[view_d] = view_numel * chunk_base;
        view_numel *= target[view_d];
        --view_d;
      }
      if (view_numel != tensor_numel) return {};
      if (d > 0) {
        chunk_base = strides[d - 1];
        tensor_numel = 1;
        view_numel = 1;
      }
    }
  }
  if (view_d != -1) return {};
  return out;
}
}  // namespace

Tensor Tensor::view(const Shape& shape) const {
  Shape s = infer_shape(shape, numel(), "view");
  Shape st = view_strides(shape_, strides_, s);
  if (st.size() != s.size())
    fail("view: cannot view {} with strides {} as {} without a copy; use reshape", shape_str(shape_),
         shape_str(strides_), shape_str(s));
  return as_strided(s, st, offset_);
}

Tensor Tensor::reshape(const Shape& shape) const {
  Shape s = infer_shape(shape, numel(), "reshape");
  Shape st = view_strides(shape_, strides_, s);
  if (st.size() == s.size()) return as_strided(s, st, offset_);
  return contiguous().view(s);
}

Tensor Tensor::flatten(int64_t start_dim) const {
  start_dim = wrap_dim(start_dim);
  Shape s(shape_.begin(), shape_.begin() + start_dim);
  s.push_back(-1);
  return reshape(s);
}

Tensor Tensor::permute(const std::vector<int64_t>& order) const {
  if (static_cast<int64_t>(order.size()) != dim())
    fail("permute: order {} has {} entries for a {}-D tensor", shape_str(order), order.size(), dim());
  Shape s(dim()), st(dim());
  std::vector<bool> seen(dim(), false);
  for (int64_t i = 0; i < dim(); ++i) {
    const int64_t d = wrap_dim(order[i]);
    if (seen[d]) fail("permute: dim {} repeated in {}", d, shape_str(order));
    seen[d] = true;
    s[i] = shape_[d];
    st[i] = strides_[d];
  }
  return as_strided(s, st, offset_);
}

Tensor Tensor::transpose(int64_t d0, int64_t d1) const {
  std::vector<int64_t> order(dim());
  std::iota(order.begin(), order.end(), 0);
  std::swap(order[wrap_dim(d0)], order[wrap_dim(d1)]);
  return permute(order);
}

Tensor Tensor::narrow(int64_t d, int64_t start, int64_t length) const {
  d = wrap_dim(d);
  if (start < 0 || length < 0 || start + length > shape_[d])
    fail("narrow: [{}, {}) out of range for dim {} of size {} (shape {})", start, start + length, d, shape_[d],
         shape_str(shape_));
  Shape s = shape_;
  s[d] = length;
  return as_strided(s, strides_, offset_ + start * strides_[d]);
}

Tensor Tensor::slice(int64_t d, int64_t start, int64_t end, int64_t step) const {
  d = wrap_dim(d);
  if (step <= 0) fail("slice: step must be positive, got {}", step);
  const int64_t n = shape_[d];
  if (start < 0) start += n;
  if (end < 0) end += n;
  start = std::clamp<int64_t>(start, 0, n);
  end = std::clamp<int64_t>(end, start, n);
  Shape s = shape_, st = strides_;
  s[d] = (end - start + step - 1) / step;
  st[d] = strides_[d] * step;
  return as_strided(s, st, offset_ + start * strides_[d]);
}

Tensor Tensor::select(int64_t d, int64_t index) const {
  d = wrap_dim(d);
  if (index < 0) index += shape_[d];
  if (index < 0 || index >= shape_[d]) fail("select: index {} out of range for dim {} of size {}", index, d, shape_[d]);
  Shape s = shape_, st = strides_;
  s.erase(s.begin() + d);
  st.erase(st.begin() + d);
  return as_strided(s, st, offset_ + index * strides_[d]);
}

Tensor Tensor::unsqueeze(int64_t d) const {
  if (d < 0) d += dim() + 1;
  if (d < 0 || d > dim()) fail("unsqueeze: dim {} out of range for a {}-D tensor", d, dim());
  Shape s = shape_, st = strides_;
  const int64_t stride = d < dim() ? strides_[d] * shape_[d] : 1;
  s.insert(s.begin() + d, 1);
  st.insert(st.begin() + d, stride);
  return as_strided(s, st, offset_);
}

Tensor Tensor::squeeze(int64_t d) const {
  d = wrap_dim(d);
  if (shape_[d] != 1) fail("squeeze: dim {} has size {}, not 1", d, shape_[d]);
  Shape s = shape_, st = strides_;
  s.erase(s.begin() + d);
  st.erase(st.begin() + d);
  return as_strided(s, st, offset_);
}

Tensor Tensor::expand(const Shape& shape) const {
  if (shape.size() < shape_.size())
    fail("expand: cannot expand {} to fewer dims {}", shape_str(shape_), shape_str(shape));
  const size_t lead = shape.size() - shape_.size();
  Shape st(shape.size(), 0);
  for (size_t i = 0; i < shape.size(); ++i) {
    if (i < lead) continue;
    const int64_t have = shape_[i - lead];
    if (have == shape[i]) {
      st[i] = strides_[i - lead];
    } else if (have != 1) {
      fail("expand: cannot expand {} to {}", shape_str(shape_), shape_str(shape));
    }
  }
  return as_strided(shape, st, offset_);
}

// ---- element access ------------------------------------------------------------------------

Tensor& Tensor::copy_(const Tensor& src_in) {
  if (!defined() || !src_in.defined()) fail("copy_: undefined tensor");
  Tensor src = src_in.shape_ == shape_ ? src_in : src_in.expand(shape_);
  if (!device().is_cpu() || !src.device().is_cpu()) {
    copy_across_devices(*this, src);
    return *this;
  }
  const bool fast = dtype_ == src.dtype_ && strides_ == src.strides_ && is_dense();
  if (fast && storage_ == src.storage_ && offset_ == src.offset_) return *this;
  if (fast) {
    // Same dense layout: one memmove over the block this tensor covers.
    int64_t lo = 0;
    for (int64_t i = 0; i < dim(); ++i) lo = std::min(lo, strides_[i] * (shape_[i] - 1));
    std::memmove(static_cast<char*>(raw_data()) + lo * static_cast<int64_t>(dtype_size(dtype_)),
                 static_cast<char*>(src.raw_data()) + lo * static_cast<int64_t>(dtype_size(dtype_)),
                 numel() * dtype_size(dtype_));
    return *this;
  }
  // Overlapping source and destination storage: go through a temporary.
  if (storage_ == src.storage_) src = src.contiguous().clone();
  auto run = [&](auto* dst, auto* s) {
    for_each_offset2(shape_, strides_, src.strides_, [&](int64_t a, int64_t b) {
      dst[a] = static_cast<std::remove_pointer_t<decltype(dst)>>(s[b]);
    });
  };
  if (dtype_ == DType::f32 && src.dtype_ == DType::f32) run(data<float>(), src.data<float>());
  else if (dtype_ == DType::f32 && src.dtype_ == DType::i64) run(data<float>(), src.data<int64_t>());
  else if (dtype_ == DType::i64 && src.dtype_ == DType::f32) run(data<int64_t>(), src.data<float>());
  else if (dtype_ == DType::i64 && src.dtype_ == DType::i64) run(data<int64_t>(), src.data<int64_t>());
  else fail("copy_: {} -> {} not supported", dtype_name(src.dtype_), dtype_name(dtype_));
  return *this;
}

Tensor& Tensor::fill_(float v) {
  if (!device().is_cpu()) {
    fill_on_device(*this, v);
    return *this;
  }
  auto run = [&](auto* p, auto val) {
    if (is_dense() && is_contiguous()) {
      std::fill(p, p + numel(), val);
      return;
    }
    for_each_offset2(shape_, strides_, strides_, [&](int64_t a, int64_t) { p[a] = val; });
  };
  if (dtype_ == DType::f32) run(data<float>(), v);
  else if (dtype_ == DType::i64) run(data<int64_t>(), static_cast<int64_t>(v));
  else fail("fill_: dtype {} not supported", dtype_name(dtype_));
  return *this;
}

float Tensor::item() const {
  if (numel() != 1) fail("item: tensor {} has {} elements, not 1", shape_str(shape_), numel());
  if (!device().is_cpu()) return cpu().item();
  return dtype_ == DType::f32 ? *data<float>() : static_cast<float>(*data<int64_t>());
}

float Tensor::at(const std::vector<int64_t>& idx) const {
  if (static_cast<int64_t>(idx.size()) != dim()) fail("at: {} indices for a {}-D tensor", idx.size(), dim());
  int64_t off = 0;
  for (int64_t i = 0; i < dim(); ++i) {
    if (idx[i] < 0 || idx[i] >= shape_[i]) fail("at: index {} out of range for dim {} of size {}", idx[i], i, shape_[i]);
    off += idx[i] * strides_[i];
  }
  if (!device().is_cpu()) return as_strided({}, {}, offset_ + off).item();
  return dtype_ == DType::f32 ? data<float>()[off] : static_cast<float>(data<int64_t>()[off]);
}

std::vector<float> Tensor::to_vector() const {
  Tensor c = Tensor::empty(shape_, DType::f32);
  c.copy_(*this);
  const float* p = c.data<float>();
  return std::vector<float>(p, p + c.numel());
}

std::vector<int64_t> Tensor::to_vector_i64() const {
  Tensor c = Tensor::empty(shape_, DType::i64);
  c.copy_(*this);
  const int64_t* p = c.data<int64_t>();
  return std::vector<int64_t>(p, p + c.numel());
}

std::string Tensor::str() const { return fmt::format("{}{}", dtype_name(dtype_), shape_str(shape_)); }

}  // namespace hwnas
