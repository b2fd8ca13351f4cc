#include "ops/conv.h"

#include <cmath>

#include "ops/conv_kernels.h"
#include "tests/test_util.h"

using namespace hwnas;

namespace {

struct RefGrads {
  Tensor gx, gw, gb;
};

// Direct convolution with plain loops on logical NCHW indices; with `gy` also its gradients.
struct RefConv {
  Tensor x, w, b;
  Conv2dOptions o;

  int64_t out(int64_t in, int64_t k, int64_t s, int64_t p, int64_t d) const {
    return (in + 2 * p - d * (k - 1) - 1) / s + 1;
  }

  template <class F>
  void each(F&& f) const {  // f(x index, w index, y index, oc)
    const int64_t N = x.size(0), C = x.size(1), H = x.size(2), W = x.size(3);
    const int64_t O = w.size(0), CG = w.size(1), KH = w.size(2), KW = w.size(3), G = o.groups, OG = O / G;
    const int64_t OH = out(H, KH, o.stride_h, o.pad_h, o.dilation_h),
                  OW = out(W, KW, o.stride_w, o.pad_w, o.dilation_w);
    for (int64_t n = 0; n < N; ++n)
      for (int64_t oc = 0; oc < O; ++oc)
        for (int64_t oh = 0; oh < OH; ++oh)
          for (int64_t ow = 0; ow < OW; ++ow)
            for (int64_t ci = 0; ci < CG; ++ci)
              for (int64_t kh = 0; kh < KH; ++kh)
                for (int64_t kw = 0; kw < KW; ++kw) {
                  const int64_t ih = oh * o.stride_h - o.pad_h + kh * o.dilation_h;
                  const int64_t iw = ow * o.stride_w - o.pad_w + kw * o.dilation_w;
                  if (ih < 0 || ih >= H || iw < 0 || iw >= W) continue;
                  const int64_t c = (oc / OG) * CG + ci;
                  f(((n * C + c) * H + ih) * W + iw, ((oc * CG + ci) * KH + kh) * KW + kw,
                    ((n * O + oc) * OH + oh) * OW + ow, oc);
                }
  }

  Shape out_shape() const {
    return {x.size(0), w.size(0), out(x.size(2), w.size(2), o.stride_h, o.pad_h, o.dilation_h),
            out(x.size(3), w.size(3), o.stride_w, o.pad_w, o.dilation_w)};
  }

  Tensor forward() const {
    auto xv = x.to_vector(), wv = w.to_vector();
    const Shape s = out_shape();
    std::vector<double> y(shape_numel(s), 0.0);
    each([&](int64_t xi, int64_t wi, int64_t yi, int64_t) { y[yi] += double(xv[xi]) * wv[wi]; });
    std::vector<float> yf(y.begin(), y.end());
    if (b.defined()) {
      auto bv = b.to_vector();
      const int64_t hw = s[2] * s[3];
      for (size_t i = 0; i < yf.size(); ++i) yf[i] += bv[(i / hw) % s[1]];
    }
    return Tensor::from_vector(yf, s);
  }

  RefGrads backward(const Tensor& gy) const {
    auto xv = x.to_vector(), wv = w.to_vector(), gv = gy.to_vector();
    std::vector<double> gx(xv.size(), 0.0), gw(wv.size(), 0.0), gb(w.size(0), 0.0);
    each([&](int64_t xi, int64_t wi, int64_t yi, int64_t) {
      gx[xi] += double(gv[yi]) * wv[wi];
      gw[wi] += double(gv[yi]) * xv[xi];
    });
    const Shape s = out_shape();
    for (size_t i = 0; i < gv.size(); ++i) gb[(i / (s[2] * s[3])) % s[1]] += gv[i];
    auto f = [](const std::vector<double>& v, const Shape& sh) {
      return Tensor::from_vector(std::vector<float>(v.begin(), v.end()), sh);
    };
    return {f(gx, x.shape()), f(gw, w.shape()), f(gb, {w.size(0)})};
  }
};

Tensor to_cl(const Tensor& t) { return t.contiguous(MemoryFormat::channels_last); }

// Forward and all three gradients of conv2d against the reference, channels_last input.
void check_conv(const Shape& xs, const Shape& ws, const Conv2dOptions& o, bool bias, uint64_t seed = 1,
                bool channels_last = true) {
  SCOPED_TRACE(::testing::Message() << "x " << shape_str(xs) << " w " << shape_str(ws) << " stride " << o.stride_h
                                    << " pad " << o.pad_h << " dil " << o.dilation_h << " groups " << o.groups);
  RefConv ref{test::randn(xs, seed), test::randn(ws, seed + 1, 0.5f), bias ? test::randn({ws[0]}, seed + 2) : Tensor(),
              o};
  Variable vx = test::param(channels_last ? to_cl(ref.x) : ref.x), vw = test::param(ref.w);
  Variable vb = bias ? test::param(ref.b) : Variable();
  Variable y = conv2d(vx, vw, vb, o);
  EXPECT_TRUE(y.data().is_channels_last());
  ASSERT_TRUE(test::all_close(y.data(), ref.forward(), 1e-4f, 1e-4f));
  Tensor gy = test::randn(y.shape(), seed + 3);
  y.backward(gy);
  RefGrads rg = ref.backward(gy);
  EXPECT_TRUE(test::all_close(vx.grad(), rg.gx, 1e-4f, 1e-4f)) << "dx";
  EXPECT_TRUE(test::all_close(vw.grad(), rg.gw, 2e-4f, 1e-4f)) << "dw";
  if (bias) EXPECT_TRUE(test::all_close(vb.grad(), rg.gb, 2e-4f, 1e-4f)) << "db";
}

}  // namespace

TEST(Conv2d, OutSize) {
  EXPECT_EQ(conv_out_size(14, 3, 2, 1, 1), 7);
  EXPECT_EQ(conv_out_size(7, 5, 1, 2, 1), 7);
  EXPECT_EQ(conv_out_size(9, 3, 1, 2, 2), 9);
  EXPECT_EQ(conv_out_size(2, 5, 1, 0, 1), 0);
}

TEST(Conv2d, Pointwise) {
  check_conv({2, 12, 5, 7}, {10, 12, 1, 1}, Conv2dOptions::make(1, 0), true);
  check_conv({1, 3, 4, 4}, {5, 3, 1, 1}, Conv2dOptions::make(1, 0), false);
}

TEST(Conv2d, PointwiseGrouped) { check_conv({2, 8, 3, 5}, {6, 4, 1, 1}, Conv2dOptions::make(1, 0, 1, 2), true); }

TEST(Conv2d, PointwiseStride2) { check_conv({2, 6, 7, 6}, {4, 6, 1, 1}, Conv2dOptions::make(2, 0), true); }

TEST(Conv2d, PointwiseLargeRowsUseChunks) {
  // Enough rows for several fused GEMM + bias chunks.
  check_conv({3, 20, 30, 31}, {24, 20, 1, 1}, Conv2dOptions::make(1, 0), true);
}

TEST(Conv2d, Depthwise3x3) {
  // 45 channels: a 32-block, an 8-block and a scalar tail.
  check_conv({2, 45, 7, 9}, {45, 1, 3, 3}, Conv2dOptions::make(1, 1, 1, 45), true);
  check_conv({2, 45, 8, 7}, {45, 1, 3, 3}, Conv2dOptions::make(2, 1, 1, 45), false);
}

TEST(Conv2d, Depthwise5x5) {
  check_conv({1, 40, 7, 7}, {40, 1, 5, 5}, Conv2dOptions::make(1, 2, 1, 40), true);
  check_conv({2, 16, 9, 10}, {16, 1, 5, 5}, Conv2dOptions::make(2, 2, 1, 16), true);
}

TEST(Conv2d, DepthwiseDilationAndNoPadding) {
  check_conv({1, 12, 9, 9}, {12, 1, 3, 3}, Conv2dOptions::make(1, 2, 2, 12), true);
  check_conv({2, 9, 8, 9}, {9, 1, 3, 3}, Conv2dOptions::make(2, 0, 1, 9), false);
  check_conv({1, 8, 5, 5}, {8, 1, 3, 3}, Conv2dOptions::make(1, 3, 1, 8), true);  // padding wider than the kernel
  Conv2dOptions asym{1, 2, 2, 1, 1, 1, 10};  // different strides and paddings per axis
  check_conv({1, 10, 6, 9}, {10, 1, 5, 3}, asym, true);
}

TEST(Conv2d, GeneralStemWithOneAndThreeInputChannels) {
  check_conv({2, 1, 9, 8}, {6, 1, 3, 3}, Conv2dOptions::make(1, 1), true);
  check_conv({2, 3, 11, 10}, {8, 3, 3, 3}, Conv2dOptions::make(2, 1), true);
}

TEST(Conv2d, GeneralGroupedAndDilated) {
  check_conv({2, 8, 7, 6}, {6, 4, 3, 3}, Conv2dOptions::make(1, 1, 1, 2), true);
  check_conv({1, 5, 9, 9}, {4, 5, 3, 3}, Conv2dOptions::make(1, 2, 2), false);
  check_conv({2, 4, 8, 7}, {8, 4, 5, 5}, Conv2dOptions::make(2, 2), true);
}

TEST(Conv2d, NchwInputMatchesChannelsLast) {
  check_conv({2, 12, 5, 7}, {10, 12, 1, 1}, Conv2dOptions::make(1, 0), true, 5, /*channels_last=*/false);
  check_conv({2, 24, 6, 6}, {24, 1, 3, 3}, Conv2dOptions::make(1, 1, 1, 24), true, 6, false);
  check_conv({1, 3, 8, 8}, {4, 3, 3, 3}, Conv2dOptions::make(2, 1), true, 7, false);
}

TEST(Conv2d, NoReferenceKernelFromOneDnn) {
  conv_detail::ConvGeom g;
  g.n = 8, g.c_in = 3, g.h = g.w = 32, g.c_out = 16, g.kh = g.kw = 3, g.oh = g.ow = 16, g.sh = g.sw = 2;
  g.ph = g.pw = 1;
  EXPECT_EQ(std::string(conv_detail::dnnl_conv_impl(g, true)).find("ref"), std::string::npos)
      << conv_detail::dnnl_conv_impl(g, true);
}

namespace {

// Output and gradients through a strided weight view must equal those through a dense copy.
void check_view_weight(const Tensor& x, const Tensor& wv, const Conv2dOptions& o) {
  ASSERT_FALSE(wv.is_contiguous());
  Variable x1 = test::param(x), w1 = test::param(wv);
  Variable x2 = test::param(x), w2 = test::param(wv.contiguous());
  Variable y1 = conv2d(x1, w1, Variable(), o), y2 = conv2d(x2, w2, Variable(), o);
  ASSERT_TRUE(test::all_close(y1.data(), y2.data(), 1e-5f, 1e-5f));
  RefConv ref{x, wv.contiguous(), Tensor(), o};
  EXPECT_TRUE(test::all_close(y1.data(), ref.forward(), 1e-4f, 1e-4f));
  Tensor gy = test::randn(y1.shape(), 99);
  y1.backward(gy);
  y2.backward(gy);
  EXPECT_TRUE(test::all_close(x1.grad(), x2.grad(), 1e-5f, 1e-5f));
  ASSERT_EQ(w1.grad().shape(), wv.shape());
  EXPECT_TRUE(test::all_close(w1.grad(), w2.grad(), 1e-5f, 1e-5f));
}

}  // namespace

TEST(Conv2d, StridedViewWeights) {
  // Depthwise: the first 20 channels and the centre 3x3 of a shared [32, 1, 5, 5] weight.
  Tensor dw = test::randn({32, 1, 5, 5}, 30);
  check_view_weight(to_cl(test::randn({2, 20, 6, 7}, 31)), dw.narrow(0, 0, 20).narrow(2, 1, 3).narrow(3, 1, 3),
                    Conv2dOptions::make(1, 1, 1, 20));
  // Pointwise: the first 6 filters over the first 10 input channels of a [16, 24, 1, 1] weight.
  Tensor pw = test::randn({16, 24, 1, 1}, 32);
  check_view_weight(to_cl(test::randn({2, 10, 5, 5}, 33)), pw.narrow(0, 0, 6).narrow(1, 0, 10),
                    Conv2dOptions::make(1, 0));
  check_view_weight(to_cl(test::randn({2, 10, 5, 5}, 33)), pw.narrow(0, 0, 6).narrow(1, 0, 5),
                    Conv2dOptions::make(1, 0, 1, 2));
  // General: the centre 3x3 of a 5x5 stem weight.
  Tensor gw = test::randn({8, 3, 5, 5}, 34);
  check_view_weight(to_cl(test::randn({1, 3, 9, 9}, 35)), gw.narrow(2, 1, 3).narrow(3, 1, 3),
                    Conv2dOptions::make(2, 1));
}

TEST(Conv2d, GradcheckEachKind) {
  auto run = [](const Shape& xs, const Shape& ws, Conv2dOptions o) {
    SCOPED_TRACE(::testing::Message() << "x " << shape_str(xs) << " w " << shape_str(ws));
    auto f = [o](const std::vector<Variable>& v) { return conv2d(v[0], v[1], v[2], o); };
    EXPECT_TRUE(test::grad_ok(f, {test::param(test::randn(xs, 40)), test::param(test::randn(ws, 41)),
                                  test::param(test::randn({ws[0]}, 42))}));
  };
  run({1, 4, 3, 3}, {3, 4, 1, 1}, Conv2dOptions::make(1, 0));        // pointwise
  run({1, 4, 3, 3}, {2, 4, 1, 1}, Conv2dOptions::make(2, 0));        // strided pointwise
  run({2, 3, 4, 4}, {3, 1, 3, 3}, Conv2dOptions::make(2, 1, 1, 3));  // depthwise
  run({1, 2, 4, 3}, {2, 2, 3, 3}, Conv2dOptions::make(1, 1));        // oneDNN
  run({1, 4, 3, 3}, {2, 2, 3, 3}, Conv2dOptions::make(1, 1, 1, 2));  // oneDNN grouped
}

TEST(Conv2d, OnlyRequestedGradients) {
  Variable x(to_cl(test::randn({1, 3, 8, 8}, 50)));  // an image: no gradient wanted
  Variable w = test::param(test::randn({4, 3, 3, 3}, 51));
  Variable y = conv2d(x, w, Variable(), Conv2dOptions::make(2, 1));
  y.backward(Tensor::ones(y.shape()));
  EXPECT_FALSE(x.grad().defined());
  EXPECT_TRUE(w.grad().defined());
}

TEST(Conv2d, ClearErrors) {
  Variable x(Tensor::zeros({1, 6, 5, 5}));
  auto msg = [](auto&& f) {
    try {
      f();
    } catch (const Error& e) {
      return std::string(e.what());
    }
    return std::string("no error");
  };
  const std::string m1 = msg([&] { conv2d(x, Variable(Tensor::zeros({4, 5, 3, 3})), Variable(), {}); });
  EXPECT_NE(m1.find("conv2d"), std::string::npos) << m1;
  EXPECT_NE(m1.find("C_in = 6"), std::string::npos) << m1;
  const std::string m2 = msg([&] {
    conv2d(x, Variable(Tensor::zeros({4, 2, 3, 3})), Variable(), Conv2dOptions::make(1, 0, 1, 4));
  });
  EXPECT_NE(m2.find("groups 4"), std::string::npos) << m2;
  EXPECT_THROW(conv2d(x, Variable(Tensor::zeros({4, 6, 7, 7})), Variable(), {}), Error);  // input too small
  EXPECT_THROW(conv2d(x, Variable(Tensor::zeros({4, 6, 3, 3})), Variable(Tensor::zeros({3})), {}), Error);
  EXPECT_THROW(conv2d(Variable(Tensor::zeros({6, 5, 5})), Variable(Tensor::zeros({4, 6, 3, 3})), Variable(), {}),
               Error);
  EXPECT_THROW(conv2d(x, Variable(Tensor::zeros({4, 6, 1, 1})), Variable(), Conv2dOptions::make(0, 0)), Error);
}

namespace {

float ref_act(Activation a, float v) {
  const auto relu6 = [](float t) { return std::min(std::max(t, 0.f), 6.f); };
  switch (a) {
    case Activation::none:
      return v;
    case Activation::relu:
      return std::max(v, 0.f);
    case Activation::relu6:
      return relu6(v);
    case Activation::hswish:
      return v * relu6(v + 3) / 6;
    case Activation::hsigmoid:
      return relu6(v + 3) / 6;
    case Activation::sigmoid:
      return 1 / (1 + std::exp(-v));
    case Activation::swish:
      return v / (1 + std::exp(-v));
  }
  return v;
}

}  // namespace

TEST(Conv2dInference, MatchesConvPlusBiasActivationAndResidual) {
  struct Case {
    Shape xs, ws;
    Conv2dOptions o;
  };
  const Case cases[] = {
      {{1, 16, 7, 7}, {24, 16, 1, 1}, Conv2dOptions::make(1, 0)},
      {{1, 16, 8, 8}, {24, 16, 1, 1}, Conv2dOptions::make(2, 0)},
      {{1, 40, 9, 9}, {40, 1, 5, 5}, Conv2dOptions::make(2, 2, 1, 40)},
      {{1, 3, 12, 12}, {8, 3, 3, 3}, Conv2dOptions::make(2, 1)},
      {{1, 8, 6, 6}, {8, 8, 3, 3}, Conv2dOptions::make(1, 1)},
  };
  const Activation acts[] = {Activation::none,     Activation::relu,    Activation::relu6, Activation::hswish,
                             Activation::hsigmoid, Activation::sigmoid, Activation::swish};
  uint64_t seed = 60;
  for (const auto& c : cases)
    for (Activation a : acts)
      for (bool with_res : {false, true}) {
        SCOPED_TRACE(::testing::Message() << "x " << shape_str(c.xs) << " w " << shape_str(c.ws) << " act "
                                          << activation_name(a) << " residual " << with_res);
        Tensor x = to_cl(test::randn(c.xs, ++seed)), w = test::randn(c.ws, ++seed, 0.5f),
               b = test::randn({c.ws[0]}, ++seed);
        Tensor plain = conv2d(Variable(x), Variable(w), Variable(b), c.o).data();
        Tensor res = test::randn(plain.shape(), ++seed);
        Tensor y = conv2d_inference(x, w, b, c.o, a, with_res ? &res : nullptr);
        EXPECT_TRUE(y.is_channels_last());
        auto pv = plain.to_vector(), rv = res.to_vector();
        for (size_t i = 0; i < pv.size(); ++i) pv[i] = ref_act(a, pv[i]) + (with_res ? rv[i] : 0.f);
        EXPECT_TRUE(test::all_close(y, Tensor::from_vector(pv, plain.shape()), 1e-4f, 1e-4f));
      }
}

TEST(Conv2dInference, RejectsMismatchedResidual) {
  Tensor x = to_cl(test::randn({1, 4, 5, 5}, 70)), w = test::randn({6, 4, 1, 1}, 71);
  Tensor res = Tensor::zeros({1, 4, 5, 5});
  EXPECT_THROW(conv2d_inference(x, w, Tensor(), Conv2dOptions::make(1, 0), Activation::none, &res), Error);
}
