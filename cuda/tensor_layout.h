#pragma once
// A Tensor's shape and strides as the plain struct CUDA kernels take (host side only).
#include "cuda/copy_kernels.h"
#include "tensor/tensor.h"

namespace hwnas::cuda {

inline StridedLayout layout_of(const Tensor& t, const char* op) {
  if (t.dim() > kMaxDims) fail("{}: {}-D tensor {} on CUDA (at most {} dims)", op, t.dim(), t.str(), kMaxDims);
  StridedLayout l;
  l.nd = static_cast<int>(t.dim());
  for (int64_t d = 0; d < t.dim(); ++d) {
    l.shape[d] = t.size(d);
    l.stride[d] = t.stride(d);
  }
  return l;
}

inline StridedLayout layout_of(const Shape& shape, const Shape& strides, const char* op) {
  if (shape.size() > static_cast<size_t>(kMaxDims)) fail("{}: {}-D shape on CUDA (at most {} dims)", op, shape.size(), kMaxDims);
  StridedLayout l;
  l.nd = static_cast<int>(shape.size());
  for (size_t d = 0; d < shape.size(); ++d) {
    l.shape[d] = shape[d];
    l.stride[d] = strides[d];
  }
  return l;
}

}  // namespace hwnas::cuda
