#pragma once
// N-d iteration over up to three operands with arbitrary strides, for the broadcasting and
// reducing kernels. Dims are put in the memory order of one "key" operand and merged wherever
// every operand is contiguous across them, so the common cases (same-layout operands,
// per-channel broadcast, reduce to a channel vector) become a few long rows and the kernels
// run plain vectorized loops over rows with no per-element index arithmetic.
#include <algorithm>
#include <array>
#include <cstdint>
#include <cstdlib>
#include <vector>

#include "tensor/tensor.h"

namespace hwnas::kernel {

struct StridedIter {
  using Offsets = std::array<int64_t, 3>;
  std::vector<int64_t> size;  // outer to inner, at least one dim
  std::vector<Offsets> st;    // per dim, the stride (elements) of each operand
  int64_t blk = 1;            // long rows are cut into blocks of this many elements
  int64_t nblk = 1;

  int64_t inner() const { return size.back(); }
  int64_t rows() const {
    int64_t r = 1;
    for (size_t d = 0; d + 1 < size.size(); ++d) r *= size[d];
    return r;
  }
  // Work items: (row, block) pairs, the unit of splitting across threads.
  int64_t items() const { return rows() * nblk; }

  // `strides` holds 1 to 3 stride vectors (unused slots nullptr), each of shape.size() entries.
  StridedIter(const Shape& shape, std::array<const Shape*, 3> strides, int key) {
    const int nd = static_cast<int>(shape.size());
    auto stride_of = [&](int op, int d) { return strides[op] ? (*strides[op])[d] : int64_t{0}; };
    std::vector<int> dims;
    for (int d = 0; d < nd; ++d)
      if (shape[d] != 1) dims.push_back(d);
    std::stable_sort(dims.begin(), dims.end(), [&](int a, int b) {
      return std::llabs(stride_of(key, a)) > std::llabs(stride_of(key, b));
    });
    for (int d : dims) {
      Offsets s{stride_of(0, d), stride_of(1, d), stride_of(2, d)};
      if (!size.empty()) {
        Offsets& prev = st.back();
        if (prev[0] == s[0] * shape[d] && prev[1] == s[1] * shape[d] && prev[2] == s[2] * shape[d]) {
          size.back() *= shape[d];
          prev = s;
          continue;
        }
      }
      size.push_back(shape[d]);
      st.push_back(s);
    }
    if (size.empty()) {
      size.push_back(1);
      st.push_back({0, 0, 0});
    }
    constexpr int64_t kBlock = 4096;
    if (inner() > 2 * kBlock) {
      blk = kBlock;
      nblk = (inner() + kBlock - 1) / kBlock;
    } else {
      blk = std::max<int64_t>(inner(), 1);
    }
  }

  // Calls f(len, offsets, inner_strides) for work items [begin, end), in order.
  template <class F>
  void run(int64_t begin, int64_t end, F&& f) const {
    if (begin >= end) return;
    const int nouter = static_cast<int>(size.size()) - 1;
    const Offsets& ist = st.back();
    std::vector<int64_t> idx(std::max(nouter, 1), 0);
    Offsets off{0, 0, 0};
    int64_t r = begin / nblk, bi = begin % nblk;
    for (int d = nouter - 1; d >= 0; --d) {
      idx[d] = r % size[d];
      r /= size[d];
      for (int k = 0; k < 3; ++k) off[k] += idx[d] * st[d][k];
    }
    for (int64_t item = begin; item < end; ++item) {
      const int64_t s = bi * blk, len = std::min(blk, inner() - s);
      f(len, Offsets{off[0] + s * ist[0], off[1] + s * ist[1], off[2] + s * ist[2]}, ist);
      if (++bi < nblk) continue;
      bi = 0;
      for (int d = nouter - 1; d >= 0; --d) {
        for (int k = 0; k < 3; ++k) off[k] += st[d][k];
        if (++idx[d] < size[d]) break;
        for (int k = 0; k < 3; ++k) off[k] -= st[d][k] * size[d];
        idx[d] = 0;
      }
    }
  }
};

}  // namespace hwnas::kernel
