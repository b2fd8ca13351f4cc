// The per-element bodies of the CUDA depthwise convolution (cuda/conv_depthwise.h), run on the
// host over every index the way the kernels run them, against the CPU convolution: forward,
// input gradient, and the weight and bias gradients as the kernel splits them over row lanes
// and pixel splits. The weight is read in place in PyTorch's layout (also an elastic kernel's
// centre, straight from the larger weight) and packed tap-major. Runs without a GPU.
#include <gtest/gtest.h>

#include <vector>

#include "cuda/conv_depthwise.h"
#include "ops/conv.h"
#include "tests/test_util.h"

namespace hwnas {
namespace {

struct Case {
  const char* name;
  int64_t k, stride, pad, dilation;
  bool centre_of_5x5;  // the weight is the centre k x k of a 5x5 weight, read in place
};

// [C, 1, k, k] -> [k, k, C] (tap-major, channel fastest), as the composed path packs it.
std::vector<float> packed(const Tensor& w) {
  const Tensor p = w.permute({2, 3, 0, 1}).contiguous();
  return p.to_vector();
}

TEST(DepthwiseBodies, ForwardAndGradientsMatchTheCpuConvolution) {
  const int64_t n = 2, c = 6, h = 9, wd = 8;
  for (const Case& cs : {Case{"3x3", 3, 1, 1, 1, false}, Case{"5x5 stride 2", 5, 2, 2, 1, false},
                         Case{"3x3 dilated", 3, 1, 2, 2, false}, Case{"centre 3x3 of 5x5", 3, 1, 1, 1, true},
                         Case{"centre 3x3 of 5x5, stride 2", 3, 2, 1, 1, true}}) {
    for (bool in_place : {true, false}) {
      SCOPED_TRACE(testing::Message() << cs.name << (in_place ? " in place" : " packed"));
      Tensor x = test::cl(test::randn({n, c, h, wd}, 70));
      Tensor w5 = test::randn({c, 1, 5, 5}, 71, 0.3f);
      Tensor w = cs.centre_of_5x5 ? w5.narrow(2, 1, 3).narrow(3, 1, 3) : test::randn({c, 1, cs.k, cs.k}, 72, 0.3f);
      Tensor bias = test::randn({c}, 73);
      Variable xv = test::param(x.clone()), wv = test::param(w.contiguous()), bv = test::param(bias.clone());
      Variable y = conv2d(xv, wv, bv, Conv2dOptions::make(cs.stride, cs.pad, cs.dilation, c));
      Tensor gy = test::cl(test::randn(y.shape(), 74));
      y.backward(gy);

      cuda::DepthwiseGeom g{n, c, h, wd, y.size(2), y.size(3), cs.k, cs.k, cs.stride, cs.stride,
                            cs.pad, cs.pad, cs.dilation, cs.dilation};
      const std::vector<float> wpack = packed(w);
      const float* pw = in_place ? w.data<float>() : wpack.data();  // the view's first element
      const cuda::DepthwiseWeightLayout wl =
          in_place ? cuda::DepthwiseWeightLayout{w.stride(0), w.stride(2), w.stride(3)} : cuda::DepthwiseWeightLayout::packed(g);
      const Tensor yc = y.data().contiguous(MemoryFormat::channels_last);
      const Tensor gxc = xv.grad().contiguous(MemoryFormat::channels_last);
      const float* px = x.data<float>();
      const float* pgy = gy.data<float>();
      for (int64_t i = 0; i < y.numel(); ++i)
        ASSERT_NEAR(cuda::depthwise_forward_at(g, px, pw, wl, bias.data<float>(), i), yc.data<float>()[i], 1e-4f)
            << "output " << i;
      for (int64_t i = 0; i < x.numel(); ++i)
        ASSERT_NEAR(cuda::depthwise_backward_data_at(g, pgy, pw, wl, i), gxc.data<float>()[i], 1e-4f)
            << "input gradient " << i;

      // The weight kernel: 8 row lanes x `splits` pixel splits, each a part; then the sums,
      // written through the gradient's layout (PyTorch's in place, tap-major packed).
      const int64_t lanes = 8, splits = 3, taps = cs.k * cs.k;
      const cuda::DepthwiseWeightLayout gl = in_place ? cuda::DepthwiseWeightLayout::pytorch(g) : cuda::DepthwiseWeightLayout::packed(g);
      std::vector<float> gw(static_cast<size_t>(taps * c)), gb(static_cast<size_t>(c));
      for (int64_t tap = 0; tap <= taps; ++tap)
        for (int64_t ch = 0; ch < c; ++ch) {
          float sum = 0.f;
          for (int64_t z = 0; z < splits; ++z)
            for (int64_t lane = 0; lane < lanes; ++lane)
              sum += cuda::depthwise_weight_grad_part(g, pgy, px, tap, ch, z * lanes + lane, splits * lanes);
          if (tap == taps)
            gb[static_cast<size_t>(ch)] = sum;
          else
            gw[static_cast<size_t>(ch * gl.c_stride + (tap / cs.k) * gl.ky_stride + (tap % cs.k) * gl.kx_stride)] = sum;
        }
      const std::vector<float> gw_ref = in_place ? wv.grad().to_vector() : packed(wv.grad());
      const std::vector<float> gb_ref = bv.grad().to_vector();
      for (size_t i = 0; i < gw.size(); ++i) ASSERT_NEAR(gw[i], gw_ref[i], 1e-3f) << "weight gradient " << i;
      for (size_t i = 0; i < gb.size(); ++i) ASSERT_NEAR(gb[i], gb_ref[i], 1e-3f) << "bias gradient " << i;
    }
  }
}

}  // namespace
}  // namespace hwnas
