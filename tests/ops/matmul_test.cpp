#include "ops/matmul.h"

#include "tests/test_util.h"

using namespace hwnas;

namespace {

// Plain-loop products on logical indices (any layout).
Tensor ref_matmul(const Tensor& a, const Tensor& b) {
  const int64_t M = a.size(0), K = a.size(1), N = b.size(1);
  auto av = a.to_vector(), bv = b.to_vector();
  std::vector<float> y(M * N, 0.f);
  for (int64_t i = 0; i < M; ++i)
    for (int64_t j = 0; j < N; ++j)
      for (int64_t p = 0; p < K; ++p) y[i * N + j] += av[i * K + p] * bv[p * N + j];
  return Tensor::from_vector(y, {M, N});
}

Tensor ref_linear(const Tensor& x, const Tensor& w, const Tensor& b) {
  const int64_t N = x.size(0), I = x.size(1), O = w.size(0);
  auto xv = x.to_vector(), wv = w.to_vector();
  std::vector<float> bv = b.defined() ? b.to_vector() : std::vector<float>(O, 0.f);
  std::vector<float> y(N * O);
  for (int64_t n = 0; n < N; ++n)
    for (int64_t o = 0; o < O; ++o) {
      float s = bv[o];
      for (int64_t i = 0; i < I; ++i) s += xv[n * I + i] * wv[o * I + i];
      y[n * O + o] = s;
    }
  return Tensor::from_vector(y, {N, O});
}

}  // namespace

TEST(Matmul, TwoD) {
  Tensor a = test::randn({5, 7}, 1), b = test::randn({7, 3}, 2);
  EXPECT_TRUE(test::all_close(matmul(Variable(a), Variable(b)).data(), ref_matmul(a, b)));
}

TEST(Matmul, TransposedAndStridedViewsWithoutCopies) {
  Tensor big = test::randn({9, 12}, 3);
  Tensor a = big.narrow(0, 1, 5).narrow(1, 2, 7);      // rows with stride 12
  Tensor bt = test::randn({3, 7}, 4).transpose(0, 1);  // [7, 3], column-major
  Tensor y = matmul(Variable(a), Variable(bt)).data();
  EXPECT_TRUE(test::all_close(y, ref_matmul(a.contiguous(), bt.contiguous())));
  Tensor ev = test::randn({7, 10}, 5).slice(1, 0, 10, 2);  // inner stride 2: needs a copy
  EXPECT_TRUE(test::all_close(matmul(Variable(a), Variable(ev)).data(), ref_matmul(a, ev.contiguous())));
}

TEST(Matmul, Batched) {
  Tensor a = test::randn({4, 3, 5}, 6), b = test::randn({4, 5, 2}, 7);
  Tensor y = matmul(Variable(a), Variable(b)).data();
  ASSERT_EQ(y.shape(), (Shape{4, 3, 2}));
  for (int64_t i = 0; i < 4; ++i)
    EXPECT_TRUE(test::all_close(y.select(0, i), ref_matmul(a.select(0, i), b.select(0, i))));
  Tensor at = test::randn({4, 5, 3}, 8).transpose(1, 2);
  Tensor yt = matmul(Variable(at), Variable(b)).data();
  for (int64_t i = 0; i < 4; ++i)
    EXPECT_TRUE(test::all_close(yt.select(0, i), ref_matmul(at.select(0, i).contiguous(), b.select(0, i))));
}

TEST(Matmul, Gradcheck) {
  auto f = [](const std::vector<Variable>& v) { return matmul(v[0], v[1]); };
  EXPECT_TRUE(test::grad_ok(f, {test::param(test::randn({3, 4}, 9)), test::param(test::randn({4, 2}, 10))}));
  EXPECT_TRUE(test::grad_ok(f, {test::param(test::randn({2, 3, 4}, 11)), test::param(test::randn({2, 4, 2}, 12))}));
}

TEST(Matmul, GradientsOfTransposedOperand) {
  Tensor a = test::randn({3, 4}, 13), bt = test::randn({2, 4}, 14);
  Variable va = test::param(a), vb = test::param(bt.transpose(0, 1));
  Variable vb_dense = test::param(bt.transpose(0, 1).contiguous()), va2 = test::param(a);
  Tensor g = test::randn({3, 2}, 15);
  matmul(va, vb).backward(g);
  matmul(va2, vb_dense).backward(g);
  EXPECT_TRUE(test::all_close(va.grad(), va2.grad()));
  EXPECT_TRUE(test::all_close(vb.grad(), vb_dense.grad()));
}

TEST(Matmul, ShapeErrors) {
  EXPECT_THROW(matmul(Variable(Tensor::zeros({2, 3})), Variable(Tensor::zeros({4, 2}))), Error);
  EXPECT_THROW(matmul(Variable(Tensor::zeros({2, 2, 3})), Variable(Tensor::zeros({3, 3, 2}))), Error);
  EXPECT_THROW(matmul(Variable(Tensor::zeros({2})), Variable(Tensor::zeros({2, 2}))), Error);
}

TEST(Linear, ForwardWithAndWithoutBias) {
  Tensor x = test::randn({6, 5}, 16), w = test::randn({4, 5}, 17), b = test::randn({4}, 18);
  EXPECT_TRUE(test::all_close(linear(Variable(x), Variable(w), Variable(b)).data(), ref_linear(x, w, b)));
  EXPECT_TRUE(test::all_close(linear(Variable(x), Variable(w), Variable()).data(), ref_linear(x, w, Tensor())));
}

TEST(Linear, LeadingDimsAreFlattened) {
  Tensor x = test::randn({2, 3, 5}, 19), w = test::randn({4, 5}, 20);
  Tensor y = linear(Variable(x), Variable(w), Variable()).data();
  ASSERT_EQ(y.shape(), (Shape{2, 3, 4}));
  EXPECT_TRUE(test::all_close(y.reshape({6, 4}), ref_linear(x.reshape({6, 5}), w, Tensor())));
}

TEST(Linear, StridedWeightViewMatchesDense) {
  // The first 3 outputs and 4 inputs of a shared [6, 8] weight: rows with stride 8.
  Tensor big = test::randn({6, 8}, 21);
  Tensor wv = big.narrow(0, 0, 3).narrow(1, 0, 4);
  Tensor x = test::randn({5, 4}, 22), b = test::randn({3}, 23), gy = test::randn({5, 3}, 24);
  Variable vx = test::param(x), vw = test::param(wv), vb = test::param(b);
  Variable dx = test::param(x), dw = test::param(wv.contiguous()), db = test::param(b);
  Variable y = linear(vx, vw, vb), yd = linear(dx, dw, db);
  EXPECT_TRUE(test::all_close(y.data(), ref_linear(x, wv.contiguous(), b)));
  y.backward(gy);
  yd.backward(gy);
  EXPECT_TRUE(test::all_close(vx.grad(), dx.grad()));
  EXPECT_TRUE(test::all_close(vw.grad(), dw.grad()));
  EXPECT_TRUE(test::all_close(vb.grad(), db.grad()));
}

TEST(Linear, Gradcheck) {
  auto f = [](const std::vector<Variable>& v) { return linear(v[0], v[1], v[2]); };
  EXPECT_TRUE(test::grad_ok(f, {test::param(test::randn({3, 4}, 25)), test::param(test::randn({2, 4}, 26)),
                                test::param(test::randn({2}, 27))}));
}

TEST(Linear, ShapeErrors) {
  EXPECT_THROW(linear(Variable(Tensor::zeros({2, 3})), Variable(Tensor::zeros({4, 2})), Variable()), Error);
  EXPECT_THROW(linear(Variable(Tensor::zeros({2, 3})), Variable(Tensor::zeros({4, 3})), Variable(Tensor::zeros({3}))),
               Error);
}
