#include "ops/elementwise.h"

#include <gtest/gtest.h>

#include <functional>

#include "tests/test_util.h"

using namespace hwnas;
using hwnas::test::all_close;
using hwnas::test::grad_ok;
using hwnas::test::param;

namespace {

// Logical index arithmetic, one element at a time: the reference for every broadcast case.
Tensor ref_binary(const Tensor& a, const Tensor& b, const std::function<float(float, float)>& f) {
  const size_t nd = std::max(a.dim(), b.dim());
  Shape out(nd);
  auto dim_of = [&](const Tensor& t, size_t i) { return i < nd - t.dim() ? int64_t{1} : t.shape()[i - (nd - t.dim())]; };
  for (size_t i = 0; i < nd; ++i) out[i] = std::max(dim_of(a, i), dim_of(b, i));
  const int64_t n = shape_numel(out);
  std::vector<float> r(n);
  for (int64_t lin = 0; lin < n; ++lin) {
    std::vector<int64_t> idx(nd);
    int64_t rem = lin;
    for (int64_t d = static_cast<int64_t>(nd) - 1; d >= 0; --d) {
      idx[d] = rem % out[d];
      rem /= out[d];
    }
    auto pick = [&](const Tensor& t) {
      std::vector<int64_t> ti;
      for (size_t i = nd - t.dim(); i < nd; ++i) ti.push_back(dim_of(t, i) == 1 ? 0 : idx[i]);
      return t.at(ti);
    };
    r[lin] = f(pick(a), pick(b));
  }
  return Tensor::from_vector(r, out);
}

Tensor ref_sum_to(const Tensor& g, const Shape& shape) {
  Tensor out = Tensor::zeros(shape);
  const int64_t nd = g.dim(), lead = nd - static_cast<int64_t>(shape.size());
  auto gv = g.to_vector();
  float* po = out.data<float>();
  const Shape os = contiguous_strides(shape);
  for (int64_t lin = 0; lin < g.numel(); ++lin) {
    int64_t rem = lin, off = 0;
    for (int64_t d = nd - 1; d >= 0; --d) {
      const int64_t i = rem % g.size(d);
      rem /= g.size(d);
      if (d >= lead && shape[d - lead] != 1) off += i * os[d - lead];
    }
    po[off] += gv[lin];
  }
  return out;
}

const std::function<float(float, float)> kAdd = [](float x, float y) { return x + y; };
const std::function<float(float, float)> kMul = [](float x, float y) { return x * y; };

}  // namespace

TEST(Elementwise, AllOpsBroadcastLikeNumpy) {
  struct Case {
    Shape a, b;
  };
  const Case cases[] = {{{2, 3, 4}, {2, 3, 4}}, {{2, 3, 4}, {3, 1}}, {{3, 1}, {2, 3, 4}}, {{2, 3, 4}, {}},
                        {{}, {5}},              {{1}, {3}},          {{4, 1, 5}, {1, 6, 1}}, {{2, 3, 1, 1}, {2, 3, 4, 5}}};
  for (const auto& c : cases) {
    Tensor a = test::randn(c.a, 1), b = test::randn(c.b, 2);
    auto v = b.to_vector();
    for (auto& e : v) e = std::fabs(e) + 0.5f;
    Tensor bp = Tensor::from_vector(v, c.b);  // a divisor away from zero
    EXPECT_TRUE(all_close(add(Variable(a), Variable(b)).data(), ref_binary(a, b, kAdd)));
    EXPECT_TRUE(all_close(sub(Variable(a), Variable(b)).data(), ref_binary(a, b, [](float x, float y) { return x - y; })));
    EXPECT_TRUE(all_close(mul(Variable(a), Variable(b)).data(), ref_binary(a, b, kMul)));
    EXPECT_TRUE(all_close(div(Variable(a), Variable(bp)).data(), ref_binary(a, bp, [](float x, float y) { return x / y; })));
  }
}

TEST(Elementwise, PerChannelBroadcastBothLayouts) {
  Tensor x = test::randn({2, 5, 3, 4}, 3), s = test::randn({1, 5, 1, 1}, 4);
  for (MemoryFormat fmt : {MemoryFormat::contiguous, MemoryFormat::channels_last}) {
    Tensor xf = x.contiguous(fmt);
    Tensor y = mul(Variable(xf), Variable(s)).data();
    EXPECT_EQ(y.is_channels_last() && !y.is_contiguous(), fmt == MemoryFormat::channels_last);
    EXPECT_TRUE(all_close(y, ref_binary(x, s, kMul)));
    Tensor y2 = add(Variable(s), Variable(xf)).data();
    EXPECT_TRUE(all_close(y2, ref_binary(s, x, kAdd)));
  }
}

TEST(Elementwise, ChannelsLastOperandsKeepLayout) {
  Tensor a = test::randn({2, 6, 5, 3}, 5), b = test::randn({2, 6, 5, 3}, 6);
  Tensor acl = a.contiguous(MemoryFormat::channels_last), bcl = b.contiguous(MemoryFormat::channels_last);
  Tensor y = add(Variable(acl), Variable(bcl)).data();
  EXPECT_TRUE(y.is_channels_last());
  EXPECT_FALSE(y.is_contiguous());
  EXPECT_TRUE(all_close(y, ref_binary(a, b, kAdd)));
  // Mixed layouts: result follows the first dense full-shape operand, values still right.
  Tensor m = mul(Variable(acl), Variable(b)).data();
  EXPECT_TRUE(m.is_channels_last());
  EXPECT_TRUE(all_close(m, ref_binary(a, b, kMul)));
  // Large enough to split over threads.
  Tensor big = test::randn({2, 64, 32, 32}, 7).contiguous(MemoryFormat::channels_last);
  Tensor ch = test::randn({1, 64, 1, 1}, 8);
  EXPECT_TRUE(all_close(add(Variable(big), Variable(big)).data(), ref_binary(big, big, kAdd)));
  EXPECT_TRUE(all_close(mul(Variable(big), Variable(ch)).data(), ref_binary(big, ch, kMul)));
}

TEST(Elementwise, NonContiguousOperands) {
  Tensor base = test::randn({4, 6}, 9);
  Tensor t = base.transpose(0, 1);              // [6, 4], strides (1, 6)
  Tensor s = test::randn({6, 8}, 10).slice(1, 0, 8, 2);  // [6, 4], stride 2 inner
  EXPECT_TRUE(all_close(add(Variable(t), Variable(s)).data(), ref_binary(t, s, kAdd)));
  EXPECT_TRUE(all_close(mul(Variable(t), Variable(test::randn({4}, 11))).data(),
                        ref_binary(t, test::randn({4}, 11), kMul)));
}

TEST(Elementwise, ScalarOps) {
  Tensor x = test::randn({3, 4}, 12);
  auto xv = x.to_vector();
  auto ys = add_scalar(Variable(x), 2.5f).data().to_vector();
  auto ym = mul_scalar(Variable(x), -3.f).data().to_vector();
  auto yn = neg(Variable(x)).data().to_vector();
  for (size_t i = 0; i < xv.size(); ++i) {
    EXPECT_FLOAT_EQ(ys[i], xv[i] + 2.5f);
    EXPECT_FLOAT_EQ(ym[i], xv[i] * -3.f);
    EXPECT_FLOAT_EQ(yn[i], -xv[i]);
  }
  Variable p = param(test::randn({2, 3}, 13));
  EXPECT_TRUE(grad_ok([](const std::vector<Variable>& in) { return add_scalar(in[0], 1.5f); }, {p}));
  EXPECT_TRUE(grad_ok([](const std::vector<Variable>& in) { return mul_scalar(in[0], -2.f); }, {p}));
  EXPECT_TRUE(grad_ok([](const std::vector<Variable>& in) { return neg(in[0]); }, {p}));
}

TEST(Elementwise, GradcheckWithBroadcasting) {
  Tensor bpos = test::randn({3, 1}, 15);
  {
    auto v = bpos.to_vector();
    for (auto& e : v) e = std::fabs(e) + 1.f;
    bpos = Tensor::from_vector(v, {3, 1});
  }
  auto check = [&](auto op, Tensor bt) {
    Variable a = param(test::randn({2, 3, 4}, 14)), b = param(bt);
    EXPECT_TRUE(grad_ok([op](const std::vector<Variable>& in) { return op(in[0], in[1]); }, {a, b}));
  };
  check([](const Variable& a, const Variable& b) { return add(a, b); }, test::randn({3, 1}, 16));
  check([](const Variable& a, const Variable& b) { return sub(a, b); }, test::randn({3, 1}, 16));
  check([](const Variable& a, const Variable& b) { return mul(a, b); }, test::randn({3, 1}, 16));
  check([](const Variable& a, const Variable& b) { return div(a, b); }, bpos);
  check([](const Variable& a, const Variable& b) { return mul(a, b); }, test::randn({}, 17));
  // Per-channel on a channels_last activation; and only one operand requiring grad.
  Variable x = param(test::randn({2, 3, 2, 2}, 18).contiguous(MemoryFormat::channels_last));
  Variable w = param(test::randn({1, 3, 1, 1}, 19));
  EXPECT_TRUE(grad_ok([](const std::vector<Variable>& in) { return mul(in[0], in[1]); }, {x, w}));
  Variable c(test::randn({3, 1}, 20));
  EXPECT_TRUE(grad_ok([c](const std::vector<Variable>& in) { return div(in[0], add_scalar(c, 5.f)); },
                      {param(test::randn({2, 3, 4}, 21))}));
}

TEST(Elementwise, SameVariableTwice) {
  Variable x = param(test::randn({2, 3}, 22));
  Variable y = mul(x, x);
  y.backward(Tensor::ones({2, 3}));
  auto xv = x.data().to_vector(), g = x.grad().to_vector();
  for (size_t i = 0; i < g.size(); ++i) EXPECT_NEAR(g[i], 2 * xv[i], 1e-5);
}

TEST(Elementwise, SumToShape) {
  Tensor g = test::randn({2, 3, 4}, 23);
  for (const Shape& s : {Shape{3, 1}, Shape{4}, Shape{}, Shape{1, 3, 4}, Shape{2, 1, 1}, Shape{2, 3, 4}})
    EXPECT_TRUE(all_close(sum_to_shape(g, s), ref_sum_to(g, s))) << shape_str(s);
  Tensor cl = test::randn({4, 64, 16, 16}, 24).contiguous(MemoryFormat::channels_last);  // threaded path
  EXPECT_TRUE(all_close(sum_to_shape(cl, {1, 64, 1, 1}), ref_sum_to(cl, {1, 64, 1, 1}), 1e-3f, 1e-4f));
  EXPECT_TRUE(all_close(sum_to_shape(cl.contiguous(), {64, 1, 1}), ref_sum_to(cl, {64, 1, 1}), 1e-3f, 1e-4f));
  EXPECT_TRUE(all_close(sum_to_shape(cl, {}), ref_sum_to(cl, {}), 1e-2f, 1e-4f));
  EXPECT_THROW(sum_to_shape(g, {5}), Error);
}

TEST(Elementwise, BroadcastTo) {
  Tensor s = test::randn({1, 3, 1, 1}, 25);
  Tensor b = broadcast_to(s, {2, 3, 4, 5}, MemoryFormat::channels_last);
  EXPECT_TRUE(b.is_channels_last());
  EXPECT_TRUE(all_close(b, ref_binary(s, Tensor::zeros({2, 3, 4, 5}), kAdd)));
}

TEST(Elementwise, ShapeMismatchNamesBothShapes) {
  try {
    add(Variable(Tensor::zeros({2, 3})), Variable(Tensor::zeros({4})));
    FAIL() << "expected an error";
  } catch (const Error& e) {
    const std::string msg = e.what();
    EXPECT_NE(msg.find("add"), std::string::npos) << msg;
    EXPECT_NE(msg.find("[2, 3]"), std::string::npos) << msg;
    EXPECT_NE(msg.find("[4]"), std::string::npos) << msg;
  }
  EXPECT_THROW(mul(Variable(Tensor::zeros({2}, DType::i64)), Variable(Tensor::zeros({2}))), Error);
}
