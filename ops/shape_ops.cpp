#include "ops/shape_ops.h"

#include <omp.h>

#include <algorithm>
#include <array>
#include <cstring>
#include <numeric>

namespace hwnas {

namespace {

constexpr int64_t kParallelMin = 65536;

// The layout a fresh tensor shaped like `t` gets: channels_last stays channels_last (so NHWC
// activations keep flowing through concat/split/shuffle without reorders), anything else
// becomes contiguous.
MemoryFormat layout_of(const Tensor& t) {
  return t.dim() == 4 && t.is_channels_last() && !t.is_contiguous() ? MemoryFormat::channels_last
                                                                    : MemoryFormat::contiguous;
}

// dst <- src for equal shapes. Dims are ordered by dst's strides and merged where both sides
// are contiguous across them, so that e.g. writing a channel slice of an NHWC tensor becomes
// N*H*W memcpy's of the slice width instead of an element-by-element walk.
void copy_into(const Tensor& dst_in, const Tensor& src) {
  Tensor dst = dst_in;
  if (dst.shape() != src.shape() || dst.dtype() != DType::f32 || src.dtype() != DType::f32 ||
      dst.storage() == src.storage() || !dst.device().is_cpu() || !src.device().is_cpu()) {
    dst.copy_(src);
    return;
  }
  std::vector<std::array<int64_t, 3>> dims;  // size, dst stride, src stride; outermost first
  for (int64_t i = 0; i < dst.dim(); ++i)
    if (dst.size(i) != 1) dims.push_back({dst.size(i), dst.stride(i), src.stride(i)});
  if (dst.numel() == 0) return;
  std::stable_sort(dims.begin(), dims.end(), [](const auto& a, const auto& b) { return a[1] > b[1]; });
  std::vector<std::array<int64_t, 3>> merged;
  for (const auto& d : dims) {
    if (!merged.empty()) {
      auto& m = merged.back();
      if (m[1] == d[1] * d[0] && m[2] == d[2] * d[0]) {
        m = {m[0] * d[0], d[1], d[2]};
        continue;
      }
    }
    merged.push_back(d);
  }
  float* pd = dst.data<float>();
  const float* ps = src.data<float>();
  if (merged.empty()) {
    *pd = *ps;
    return;
  }
  const auto [len, ld, ls] = merged.back();
  merged.pop_back();
  int64_t outer = 1;
  for (const auto& m : merged) outer *= m[0];
  const int64_t nd = static_cast<int64_t>(merged.size());
#pragma omp parallel for if (outer * len > kParallelMin)
  for (int64_t o = 0; o < outer; ++o) {
    int64_t od = 0, os = 0, rem = o;
    for (int64_t i = nd - 1; i >= 0; --i) {
      const int64_t k = rem % merged[i][0];
      rem /= merged[i][0];
      od += k * merged[i][1];
      os += k * merged[i][2];
    }
    if (ld == 1 && ls == 1) {
      std::memcpy(pd + od, ps + os, len * sizeof(float));
    } else {
      for (int64_t j = 0; j < len; ++j) pd[od + j * ld] = ps[os + j * ls];
    }
  }
}

// Gradient of a view: the view's gradient written into zeros shaped (and laid out) like the input.
template <class MakeView>
Tensor scatter_view_grad(const Shape& in_shape, MemoryFormat fmt, const Tensor& gy, MakeView&& make_view) {
  Tensor g = Tensor::empty(in_shape, DType::f32, fmt, gy.device());
  g.zero_();
  copy_into(make_view(g), gy);
  return g;
}

Variable view_op(const Variable& x, Tensor view, const char* op, std::function<Tensor(const Tensor&)> make_view) {
  const Shape in_shape = x.shape();
  const MemoryFormat fmt = layout_of(x.data());
  return make_result(std::move(view), op, {x}, [in_shape, fmt, make_view](const Tensor& gy) -> std::vector<Tensor> {
    return {scatter_view_grad(in_shape, fmt, gy, make_view)};
  });
}

// out[:, oc] = x[:, perm[oc]] for a 4-D tensor; out is laid out as `fmt`.
Tensor permute_channels(const Tensor& x_in, const std::vector<int64_t>& perm, MemoryFormat fmt) {
  Tensor x = x_in.contiguous(fmt);
  Tensor out = Tensor::empty(x.shape(), DType::f32, fmt);
  const int64_t n = x.size(0), c = x.size(1), hw = x.size(2) * x.size(3);
  const float* px = x.data<float>();
  float* py = out.data<float>();
  const int64_t* pp = perm.data();
  if (fmt == MemoryFormat::channels_last) {
#pragma omp parallel for if (x.numel() > kParallelMin)
    for (int64_t p = 0; p < n * hw; ++p) {
      const float* xr = px + p * c;
      float* yr = py + p * c;
      for (int64_t j = 0; j < c; ++j) yr[j] = xr[pp[j]];
    }
  } else {
#pragma omp parallel for if (x.numel() > kParallelMin)
    for (int64_t p = 0; p < n * c; ++p)
      std::memcpy(py + p * hw, px + (p / c * c + pp[p % c]) * hw, hw * sizeof(float));
  }
  return out;
}

// Channel shuffle as a strided copy (any device): channel dim split into (groups, per) on the
// input and (per, groups) on the output, one transposed into the other.
Tensor shuffle_by_views(const Tensor& x_in, int64_t groups, MemoryFormat fmt) {
  Tensor x = x_in.contiguous(fmt);
  Tensor out = Tensor::empty(x.shape(), DType::f32, fmt, x.device());
  const int64_t n = x.size(0), c = x.size(1), h = x.size(2), w = x.size(3), per = c / groups;
  auto split_channels = [&](const Tensor& t, int64_t outer, int64_t inner) {
    return t.as_strided({n, outer, inner, h, w}, {t.stride(0), inner * t.stride(1), t.stride(1), t.stride(2), t.stride(3)},
                        t.offset());
  };
  // Output channel ci * groups + gi comes from input channel gi * per + ci.
  split_channels(out, per, groups).copy_(split_channels(x, groups, per).permute({0, 2, 1, 3, 4}));
  return out;
}

std::vector<int64_t> shuffle_perm(int64_t c, int64_t groups) {
  // Output channel ci * groups + gi comes from input channel gi * (c / groups) + ci.
  const int64_t per = c / groups;
  std::vector<int64_t> perm(c);
  for (int64_t oc = 0; oc < c; ++oc) perm[oc] = (oc % groups) * per + oc / groups;
  return perm;
}

}  // namespace

Variable concat(const std::vector<Variable>& xs, int64_t dim) {
  if (xs.empty()) fail("concat: needs at least one input");
  for (size_t i = 0; i < xs.size(); ++i)
    if (!xs[i].defined()) fail("concat: input {} is undefined", i);
  const Tensor& x0 = xs[0].data();
  const int64_t d = x0.wrap_dim(dim);
  Shape shape = x0.shape();
  int64_t total = 0;
  bool all_cl = true;
  for (size_t i = 0; i < xs.size(); ++i) {
    const Tensor& t = xs[i].data();
    bool ok = t.dim() == x0.dim() && t.dtype() == x0.dtype();
    for (int64_t k = 0; ok && k < t.dim(); ++k) ok = k == d || t.size(k) == x0.size(k);
    if (!ok)
      fail("concat: input {} is {}{} but input 0 is {}{}; all dims except dim {} must match", i, dtype_name(t.dtype()),
           shape_str(t.shape()), dtype_name(x0.dtype()), shape_str(x0.shape()), d);
    total += t.size(d);
    all_cl = all_cl && layout_of(t) == MemoryFormat::channels_last;
  }
  shape[d] = total;
  for (size_t i = 1; i < xs.size(); ++i)
    if (xs[i].data().device() != x0.device())
      fail("concat: input {} is on {} but input 0 is on {}", i, xs[i].data().device().str(), x0.device().str());
  Tensor out = Tensor::empty(shape, x0.dtype(), all_cl ? MemoryFormat::channels_last : MemoryFormat::contiguous,
                             x0.device());
  std::vector<int64_t> sizes;
  std::vector<MemoryFormat> fmts;
  int64_t off = 0;
  for (const auto& x : xs) {
    copy_into(out.narrow(d, off, x.size(d)), x.data());
    off += x.size(d);
    sizes.push_back(x.size(d));
    fmts.push_back(layout_of(x.data()));
  }
  return make_result(out, "concat", xs, [d, sizes, fmts](const Tensor& gy) -> std::vector<Tensor> {
    std::vector<Tensor> gs;
    int64_t off = 0;
    for (size_t i = 0; i < sizes.size(); ++i) {
      Tensor v = gy.narrow(d, off, sizes[i]);
      off += sizes[i];
      if (v.is_dense()) {
        gs.push_back(v);
      } else {
        Tensor g = Tensor::empty(v.shape(), DType::f32, fmts[i], v.device());
        copy_into(g, v);
        gs.push_back(g);
      }
    }
    return gs;
  });
}

std::vector<Variable> split(const Variable& x, const std::vector<int64_t>& sizes, int64_t dim) {
  const int64_t d = x.data().wrap_dim(dim);
  int64_t total = 0;
  for (auto s : sizes) {
    if (s < 0) fail("split: negative size in {} (input {})", shape_str(sizes), shape_str(x.shape()));
    total += s;
  }
  if (total != x.size(d))
    fail("split: sizes {} add up to {} but dim {} of input {} has size {}", shape_str(sizes), total, d,
         shape_str(x.shape()), x.size(d));
  std::vector<Variable> outs;
  int64_t off = 0;
  for (auto s : sizes) {
    outs.push_back(view_op(x, x.data().narrow(d, off, s), "split",
                           [d, off, s](const Tensor& t) { return t.narrow(d, off, s); }));
    off += s;
  }
  return outs;
}

Variable slice(const Variable& x, int64_t dim, int64_t start, int64_t end, int64_t step) {
  const int64_t d = x.data().wrap_dim(dim);
  return view_op(x, x.data().slice(d, start, end, step), "slice",
                 [d, start, end, step](const Tensor& t) { return t.slice(d, start, end, step); });
}

Variable narrow(const Variable& x, int64_t dim, int64_t start, int64_t length) {
  const int64_t d = x.data().wrap_dim(dim);
  // Recorded as "slice": narrow is slice with step 1 and a range check.
  return view_op(x, x.data().narrow(d, start, length), "slice",
                 [d, start, length](const Tensor& t) { return t.narrow(d, start, length); });
}

Variable reshape(const Variable& x, const Shape& shape) {
  Tensor out = x.data().reshape(shape);  // a view when the strides allow, else a copy
  const Shape in_shape = x.shape();
  return make_result(out, "reshape", {x},
                     [in_shape](const Tensor& gy) -> std::vector<Tensor> { return {gy.reshape(in_shape)}; });
}

Variable flatten(const Variable& x, int64_t start_dim) {
  const int64_t d = x.data().wrap_dim(start_dim);
  Shape s(x.shape().begin(), x.shape().begin() + d);
  s.push_back(-1);
  return reshape(x, s);
}

Variable permute(const Variable& x, const std::vector<int64_t>& order) {
  Tensor out = x.data().permute(order);
  std::vector<int64_t> inv(order.size());
  for (size_t i = 0; i < order.size(); ++i) inv[x.data().wrap_dim(order[i])] = static_cast<int64_t>(i);
  return make_result(out, "permute", {x}, [inv](const Tensor& gy) -> std::vector<Tensor> { return {gy.permute(inv)}; });
}

Variable channel_shuffle(const Variable& x, int64_t groups) {
  const Tensor& xt = x.data();
  if (xt.dtype() != DType::f32 || xt.dim() != 4)
    fail("channel_shuffle: expected an f32 input [N, C, H, W], got {}", xt.str());
  if (groups <= 0 || xt.size(1) % groups != 0)
    fail("channel_shuffle: {} channels of input {} do not split into {} groups", xt.size(1), shape_str(xt.shape()),
         groups);
  const int64_t c = xt.size(1);
  const MemoryFormat fmt = layout_of(xt);
  auto shuffle = [c, fmt](const Tensor& t, int64_t g) {
    return t.is_cuda() ? shuffle_by_views(t, g, fmt) : permute_channels(t, shuffle_perm(c, g), fmt);
  };
  Tensor out = shuffle(xt, groups);
  // The inverse of shuffling with g groups is shuffling with c / g groups.
  return make_result(out, "channel_shuffle", {x}, [c, groups, shuffle](const Tensor& gy) -> std::vector<Tensor> {
    return {shuffle(gy, c / groups)};
  });
}

}  // namespace hwnas
