#include "ops/reduce.h"

#include <algorithm>

#include "ops/elementwise.h"

namespace hwnas {

namespace {

MemoryFormat layout_of(const Tensor& t) {
  return t.is_channels_last() && !t.is_contiguous() ? MemoryFormat::channels_last : MemoryFormat::contiguous;
}

// The input shape with the reduced dims set to 1 (all dims when `dims` is empty, as in PyTorch).
Shape keepdim_shape(const Tensor& x, const std::vector<int64_t>& dims, const char* op, int64_t* count,
                    std::vector<bool>& seen) {
  Shape keep = x.shape();
  seen.assign(x.dim(), false);
  if (dims.empty()) std::fill(seen.begin(), seen.end(), true);
  for (int64_t d : dims) {
    if (d < -x.dim() || d >= x.dim())
      fail("{}: dim {} out of range for a {}-D tensor of shape {}", op, d, x.dim(), shape_str(x.shape()));
    const int64_t w = d < 0 ? d + x.dim() : d;
    if (seen[w]) fail("{}: dim {} repeated in dims {}", op, d, shape_str(dims));
    seen[w] = true;
  }
  *count = 1;
  for (int64_t d = 0; d < x.dim(); ++d)
    if (seen[d]) {
      *count *= keep[d];
      keep[d] = 1;
    }
  return keep;
}

Variable reduce_op(const Variable& x, const std::vector<int64_t>* dims, bool keepdim, bool is_mean) {
  const char* op = is_mean ? "mean" : "sum";
  const Tensor& xt = x.data();
  HWNAS_CHECK(xt.defined() && xt.dtype() == DType::f32, "{}: expected an f32 tensor, got {}", op,
              xt.defined() ? xt.str() : "undefined");
  int64_t count = xt.numel();
  std::vector<bool> reduced(xt.dim(), true);
  Shape keep = dims ? keepdim_shape(xt, *dims, op, &count, reduced) : Shape(xt.dim(), 1);
  Shape out_shape;
  if (dims && keepdim) {
    out_shape = keep;
  } else {
    for (int64_t d = 0; d < xt.dim(); ++d)
      if (!reduced[d]) out_shape.push_back(xt.size(d));
  }
  Tensor r = sum_to_shape(xt, keep);
  if (r.storage() == xt.storage()) r = r.clone();  // nothing was reduced: never alias the input
  const float scale = is_mean ? 1.f / static_cast<float>(count) : 1.f;
  if (is_mean) r = scale_tensor(r, scale);
  r = r.reshape(out_shape);
  const Shape in_shape = xt.shape();
  const MemoryFormat fmt = layout_of(xt);
  return make_result(r, op, {x}, [in_shape, keep, fmt, scale, is_mean](const Tensor& gy) -> std::vector<Tensor> {
    // A 0-D gradient broadcasts as it is (and reshape cannot view 0-D as [1, 1, ...]).
    Tensor g = gy.dim() == 0 ? gy : gy.reshape(keep);
    if (is_mean) g = scale_tensor(g, scale);
    return {broadcast_to(g, in_shape, fmt)};
  });
}

}  // namespace

Variable sum(const Variable& x) { return reduce_op(x, nullptr, false, false); }
Variable mean(const Variable& x) { return reduce_op(x, nullptr, false, true); }
Variable sum(const Variable& x, const std::vector<int64_t>& dims, bool keepdim) {
  return reduce_op(x, &dims, keepdim, false);
}
Variable mean(const Variable& x, const std::vector<int64_t>& dims, bool keepdim) {
  return reduce_op(x, &dims, keepdim, true);
}

}  // namespace hwnas
