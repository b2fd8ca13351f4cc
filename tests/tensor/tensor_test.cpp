#include <gtest/gtest.h>

#include "tensor/tensor.h"

using namespace hwnas;

namespace {
Tensor iota(const Shape& s) {
  std::vector<float> v(shape_numel(s));
  for (size_t i = 0; i < v.size(); ++i) v[i] = static_cast<float>(i);
  return Tensor::from_vector(v, s);
}
}  // namespace

TEST(Tensor, StorageIs64ByteAligned) {
  for (int64_t n : {1, 3, 17, 1000}) {
    Tensor t = Tensor::empty({n});
    EXPECT_EQ(reinterpret_cast<uintptr_t>(t.data<float>()) % 64, 0u);
  }
}

TEST(Tensor, NarrowIsAViewSharingStorage) {
  Tensor t = Tensor::from_vector({0, 1, 2, 3, 4, 5}, {2, 3});
  Tensor n = t.narrow(1, 1, 2);
  EXPECT_EQ(n.shape(), (Shape{2, 2}));
  EXPECT_EQ(n.storage(), t.storage());
  EXPECT_EQ(n.to_vector(), (std::vector<float>{1, 2, 4, 5}));
  n.fill_(9);
  EXPECT_EQ(t.to_vector(), (std::vector<float>{0, 9, 9, 3, 9, 9}));
}

TEST(Tensor, NarrowOnEveryDimMatchesIndexing) {
  Tensor t = iota({2, 3, 4, 5});
  for (int64_t d = 0; d < 4; ++d) {
    Tensor n = t.narrow(d, 1, t.size(d) - 1);
    EXPECT_EQ(n.storage(), t.storage());
    std::vector<int64_t> idx = {1, 1, 1, 1};
    idx[d] = 0;  // index 0 of the view is index 1 of the original
    std::vector<int64_t> orig = {1, 1, 1, 1};
    EXPECT_EQ(n.at(idx), t.at(orig));
  }
}

TEST(Tensor, SliceWithStepAndNegativeBounds) {
  Tensor t = iota({10});
  EXPECT_EQ(t.slice(0, 1, 8, 3).to_vector(), (std::vector<float>{1, 4, 7}));
  EXPECT_EQ(t.slice(0, -3, 10).to_vector(), (std::vector<float>{7, 8, 9}));
}

TEST(Tensor, CentreOfKernelIsAStridedView) {
  // The elastic-kernel case: the centre 3x3 of a 5x5 kernel.
  Tensor w = iota({2, 1, 5, 5});
  Tensor c = w.narrow(2, 1, 3).narrow(3, 1, 3);
  EXPECT_EQ(c.strides(), (Shape{25, 25, 5, 1}));
  EXPECT_FALSE(c.is_contiguous());
  EXPECT_FLOAT_EQ(c.at({1, 0, 0, 0}), 25 + 6);
  EXPECT_FLOAT_EQ(c.at({0, 0, 2, 2}), 18);
  Tensor cc = c.contiguous();
  EXPECT_TRUE(cc.is_contiguous());
  EXPECT_EQ(cc.to_vector(), c.to_vector());
}

TEST(Tensor, PermuteTransposeAndContiguous) {
  Tensor t = iota({2, 3});
  Tensor p = t.transpose(0, 1);
  EXPECT_EQ(p.shape(), (Shape{3, 2}));
  EXPECT_EQ(p.storage(), t.storage());
  EXPECT_EQ(p.to_vector(), (std::vector<float>{0, 3, 1, 4, 2, 5}));
  EXPECT_EQ(p.contiguous().to_vector(), (std::vector<float>{0, 3, 1, 4, 2, 5}));
  EXPECT_THROW(t.permute({0, 0}), Error);
}

TEST(Tensor, ReshapeViewsWhenPossibleCopiesOtherwise) {
  Tensor t = iota({2, 3, 4});
  Tensor r = t.reshape({6, 4});
  EXPECT_EQ(r.storage(), t.storage());
  Tensor p = t.transpose(1, 2);  // [2,4,3], not viewable as [8,3]... as [2,12] either
  EXPECT_THROW(p.view({2, 12}), Error);
  Tensor q = p.reshape({2, 12});
  EXPECT_NE(q.storage(), t.storage());
  EXPECT_EQ(q.to_vector(), p.to_vector());
  EXPECT_EQ(t.reshape({-1, 2}).shape(), (Shape{12, 2}));
  EXPECT_THROW(t.reshape({5, -1}), Error);
}

TEST(Tensor, ChannelsLastKeepsShapeChangesStrides) {
  Tensor t = iota({2, 3, 4, 5});
  Tensor cl = t.contiguous(MemoryFormat::channels_last);
  EXPECT_EQ(cl.shape(), t.shape());
  EXPECT_EQ(cl.strides(), (Shape{60, 1, 15, 3}));
  EXPECT_TRUE(cl.is_channels_last());
  EXPECT_TRUE(cl.is_dense());
  EXPECT_FALSE(cl.is_contiguous());
  EXPECT_EQ(cl.to_vector(), t.to_vector());
  EXPECT_EQ(Tensor::empty_like(cl).strides(), cl.strides());
  // One channel: both layouts describe the same memory.
  EXPECT_TRUE(Tensor::empty({4, 1, 3, 3}).is_channels_last());
}

TEST(Tensor, BroadcastShapesAndExpand) {
  EXPECT_EQ(broadcast_shapes({2, 1, 4}, {3, 1}), (Shape{2, 3, 4}));
  EXPECT_EQ(broadcast_shapes({}, {3}), (Shape{3}));
  EXPECT_THROW(broadcast_shapes({2, 3}, {4}), Error);
  Tensor b = Tensor::from_vector({1, 2, 3}, {3}).expand({2, 3});
  EXPECT_EQ(b.strides(), (Shape{0, 1}));
  EXPECT_EQ(b.to_vector(), (std::vector<float>{1, 2, 3, 1, 2, 3}));
}

TEST(Tensor, CopyBroadcastsAndConvertsDtypes) {
  Tensor dst = Tensor::zeros({2, 3});
  dst.copy_(Tensor::from_vector({1, 2, 3}, {3}));
  EXPECT_EQ(dst.to_vector(), (std::vector<float>{1, 2, 3, 1, 2, 3}));
  Tensor i = Tensor::from_vector_i64({4, 5}, {2});
  Tensor f = Tensor::empty({2});
  f.copy_(i);
  EXPECT_EQ(f.to_vector(), (std::vector<float>{4, 5}));
}

TEST(Tensor, CopyIntoOverlappingViewUsesATemporary) {
  Tensor t = iota({6});
  t.narrow(0, 1, 5).copy_(t.narrow(0, 0, 5));  // shift right by one
  EXPECT_EQ(t.to_vector(), (std::vector<float>{0, 0, 1, 2, 3, 4}));
}

TEST(Tensor, SelectSqueezeUnsqueeze) {
  Tensor t = iota({2, 3});
  EXPECT_EQ(t.select(0, 1).to_vector(), (std::vector<float>{3, 4, 5}));
  EXPECT_EQ(t.unsqueeze(0).shape(), (Shape{1, 2, 3}));
  EXPECT_EQ(t.unsqueeze(-1).shape(), (Shape{2, 3, 1}));
  EXPECT_EQ(t.unsqueeze(1).squeeze(1).shape(), (Shape{2, 3}));
  EXPECT_THROW(t.squeeze(0), Error);
  EXPECT_THROW(t.narrow(1, 2, 2), Error);
  EXPECT_THROW(t.size(2), Error);
}

TEST(Generator, SameSeedSameStreamAndStateRestores) {
  Generator a(42), b(42), c(43);
  for (int i = 0; i < 5; ++i) EXPECT_EQ(a.next_u64(), b.next_u64());
  EXPECT_NE(a.next_u64(), c.next_u64());
  auto st = a.state();
  const float x = a.normal(), y = a.uniform();
  a.set_state(st);
  EXPECT_EQ(a.normal(), x);
  EXPECT_EQ(a.uniform(), y);
}

TEST(Generator, NormalHasUnitMoments) {
  Generator g(7);
  double s = 0, s2 = 0;
  const int n = 100000;
  for (int i = 0; i < n; ++i) {
    const double v = g.normal();
    s += v;
    s2 += v * v;
  }
  EXPECT_NEAR(s / n, 0.0, 0.02);
  EXPECT_NEAR(s2 / n, 1.0, 0.02);
  for (int i = 0; i < 1000; ++i) EXPECT_LT(g.below(7), 7u);
}
