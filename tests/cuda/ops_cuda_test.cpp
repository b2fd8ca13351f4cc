// Every op with a CUDA kernel (cuda/op_coverage.cpp) against its CPU implementation, forward
// and backward, on the same inputs copied to the GPU. Skips without a GPU.
#include <gtest/gtest.h>

#include <algorithm>
#include <cstdint>
#include <functional>

#include "cuda/cast.h"
#include "nas/builtin_networks.h"
#include "nn/network.h"
#include "ops/activation.h"
#include "ops/autocast.h"
#include "ops/batch_norm.h"
#include "ops/channel_mask.h"
#include "ops/bypass.h"
#include "ops/conv.h"
#include "ops/dropout.h"
#include "ops/elementwise.h"
#include "ops/fused_kernels.h"
#include "ops/loss.h"
#include "ops/reduce.h"
#include "ops/shape_ops.h"
#include "ops/softmax.h"
#include "ops/split_attention.h"
#include "ops/matmul.h"
#include "ops/mixed_op.h"
#include "ops/ordered_dropout.h"
#include "ops/pool.h"
#include "tests/cuda/cuda_test_util.h"
#include "tests/test_util.h"

namespace hwnas {
namespace {

using OpFn = std::function<Variable(const std::vector<Variable>&)>;

// Runs `f` on CPU leaves and on their GPU copies, backpropagates the same random upstream
// gradient, and compares outputs and the gradients of the first `with_grad` inputs (all by
// default; an op given a plain view of an input, cut from the graph, gives that input none).
void expect_cuda_matches_cpu(const OpFn& f, const std::vector<Tensor>& inputs, float tol = 1e-5f,
                             size_t with_grad = SIZE_MAX) {
  std::vector<Variable> cpu, gpu;
  for (const Tensor& t : inputs) {
    cpu.push_back(test::param(t.clone()));
    gpu.push_back(test::param(t.cuda()));
  }
  Variable yc = f(cpu), yg = f(gpu);
  ASSERT_TRUE(yg.data().is_cuda()) << "the result left the GPU";
  EXPECT_EQ(yg.data().shape(), yc.data().shape());
  EXPECT_TRUE(test::all_close(yg.data().cpu(), yc.data(), tol, tol)) << "forward";
  Tensor gy = test::randn(yc.shape(), 99);
  yc.backward(gy);
  yg.backward(gy.cuda());
  for (size_t i = 0; i < std::min(inputs.size(), with_grad); ++i) {
    ASSERT_TRUE(gpu[i].grad().defined()) << "input " << i << " got no gradient on the GPU";
    EXPECT_TRUE(gpu[i].grad().is_cuda()) << "input " << i << "'s gradient left the GPU";
    EXPECT_TRUE(test::all_close(gpu[i].grad().cpu(), cpu[i].grad(), tol, tol)) << "gradient of input " << i;
  }
}

TEST(OpsCuda, Activations) {
  HWNAS_SKIP_WITHOUT_GPU();
  // Values around every kink (0, 6, +-3) as well as random ones; channels_last kept.
  Tensor x = test::randn({2, 8, 5, 5}, 3, 4.f);
  for (Activation a : {Activation::relu, Activation::relu6, Activation::hswish, Activation::hsigmoid, Activation::sigmoid,
                       Activation::swish}) {
    SCOPED_TRACE(activation_name(a));
    expect_cuda_matches_cpu([a](const auto& v) { return activate(v[0], a); }, {x});
    expect_cuda_matches_cpu([a](const auto& v) { return activate(v[0], a); }, {test::cl(x)});
    expect_cuda_matches_cpu([a](const auto& v) { return activate(v[0], a); },
                            {Tensor::from_vector({-3.f, 0.f, 3.f, 6.f, -1e-3f, 6.001f}, {6})});
  }
}

TEST(OpsCuda, BinaryArithmeticWithBroadcasting) {
  HWNAS_SKIP_WITHOUT_GPU();
  Tensor a = test::randn({2, 8, 4, 4}, 1), b = test::randn({2, 8, 4, 4}, 2);
  Tensor bias = test::randn({8, 1, 1}, 3), row = test::randn({4}, 4);
  for (int op = 0; op < 4; ++op) {
    SCOPED_TRACE(op);
    auto f = [op](const std::vector<Variable>& v) {
      switch (op) {
        case 0: return add(v[0], v[1]);
        case 1: return sub(v[0], v[1]);
        case 2: return mul(v[0], v[1]);
        default: return div(v[0], add_scalar(mul(v[1], v[1]), 0.5f));  // a denominator away from 0
      }
    };
    expect_cuda_matches_cpu(f, {a, b});                    // same layout: the flat kernel
    expect_cuda_matches_cpu(f, {test::cl(a), test::cl(b)});
    expect_cuda_matches_cpu(f, {test::cl(a), b});          // mixed layouts: the strided kernel
    expect_cuda_matches_cpu(f, {a, bias});                 // per-channel broadcast, reduced back
    expect_cuda_matches_cpu(f, {row, a});
    expect_cuda_matches_cpu(f, {a.narrow(3, 1, 2), b.narrow(3, 0, 2)});  // views
  }
}

TEST(OpsCuda, ScalarOpsAndACpuScalarOperand) {
  HWNAS_SKIP_WITHOUT_GPU();
  Tensor a = test::randn({3, 7}, 6);
  expect_cuda_matches_cpu([](const auto& v) { return add_scalar(v[0], 1.5f); }, {a});
  expect_cuda_matches_cpu([](const auto& v) { return mul_scalar(v[0], -2.f); }, {a});
  expect_cuda_matches_cpu([](const auto& v) { return neg(v[0]); }, {a});
  // A one-element CPU tensor follows the GPU operand, as PyTorch's CPU scalars do.
  Variable g(a.cuda());
  Tensor r = mul(g, Variable(Tensor::scalar(3.f))).data();
  EXPECT_TRUE(r.is_cuda());
  EXPECT_TRUE(test::all_close(r.cpu(), scale_tensor(a, 3.f), 1e-6f, 1e-6f));
  // Anything larger on the wrong device is an error naming both devices.
  EXPECT_TRUE(test::contains(test::error_of([&] { add(g, Variable(a)); }), "different devices"));
}

TEST(OpsCuda, MatmulAndLinearOnCublas) {
  HWNAS_SKIP_WITHOUT_GPU();
  Tensor a = test::randn({5, 7}, 7), b = test::randn({7, 3}, 8), bt = test::randn({3, 7}, 9);
  auto mm = [](const auto& v) { return matmul(v[0], v[1]); };
  expect_cuda_matches_cpu(mm, {a, b}, 1e-4f);
  expect_cuda_matches_cpu([](const auto& v) { return matmul(v[0], Variable(v[1].data().transpose(0, 1))); },
                          {a, bt}, 1e-4f, 1);  // a transposed operand, passed without a copy
  expect_cuda_matches_cpu(mm, {test::randn({4, 5, 6}, 10), test::randn({4, 6, 2}, 11)}, 1e-4f);  // batched
  // linear: bias, 3-D input, and the weight as a slice of a larger shared weight (a supernet's).
  Tensor x = test::randn({6, 16}, 12), w = test::randn({10, 16}, 13), bias = test::randn({10}, 14);
  auto lin = [](const auto& v) { return linear(v[0], v[1], v[2]); };
  expect_cuda_matches_cpu(lin, {x, w, bias}, 1e-4f);
  expect_cuda_matches_cpu(lin, {test::randn({2, 3, 16}, 15), w, bias}, 1e-4f);
  expect_cuda_matches_cpu(
      [](const auto& v) { return linear(v[0], Variable(v[1].data().narrow(0, 0, 6).narrow(1, 0, 12)), Variable()); },
      {test::randn({6, 12}, 16), w}, 1e-4f, 1);
}

// bf16 autocast (ops/autocast.h): what the GPU computes is the f32 op on bf16-rounded operands
// (and upstream gradients), with the convolution's result rounded to bf16 too; the CPU reference
// below does exactly that in f32, so the two differ by accumulation order, which can move a bf16
// result by an ulp (2^-8 relative): hence the 2e-2 tolerances. The backward runs after the scope
// has closed and must still use the forward's precision.
Tensor rounded_to_bf16(const Tensor& t) {
  std::vector<float> v = t.to_vector();
  for (float& f : v) f = cuda::bf16_round(f);
  return Tensor::from_vector(v, t.shape());
}

TEST(OpsCuda, Bf16AutocastConvAndLinearComputeOnRoundedOperands) {
  HWNAS_SKIP_WITHOUT_GPU();
  struct Case {
    Tensor x, w, b, gy;
    std::function<Variable(const Variable&, const Variable&, const Variable&)> f;
    bool rounds_output;  // cuDNN's bf16 conv writes bf16; cuBLAS's FAST_16BF writes f32
  };
  const Conv2dOptions co = Conv2dOptions::make(1, 1);
  std::vector<Case> cases;
  cases.push_back({test::randn({4, 16, 8, 8}, 40), test::randn({32, 16, 3, 3}, 41, 0.3f), test::randn({32}, 42),
                   test::randn({4, 32, 8, 8}, 43),
                   [co](const Variable& x, const Variable& w, const Variable& b) { return conv2d(x, w, b, co); }, true});
  cases.push_back({test::randn({16, 64}, 44), test::randn({32, 64}, 45, 0.3f), test::randn({32}, 46),
                   test::randn({16, 32}, 47),
                   [](const Variable& x, const Variable& w, const Variable& b) { return linear(x, w, b); }, false});
  for (size_t ci = 0; ci < cases.size(); ++ci) {
    SCOPED_TRACE(ci == 0 ? "conv2d" : "linear");
    const Case& c = cases[ci];
    Variable xg = test::param(c.x.cuda()), wg = test::param(c.w.cuda()), bg = test::param(c.b.cuda());
    Variable yg;
    {
      AutocastScope bf16(DType::bf16);
      yg = c.f(xg, wg, bg);
    }
    yg.backward(c.gy.cuda());
    // The reference: f32 math on rounded operands; the bias is added in f32 after the rounding.
    Variable xr = test::param(rounded_to_bf16(c.x)), wr = test::param(rounded_to_bf16(c.w));
    Variable yr = c.f(xr, wr, Variable());
    yr.backward(rounded_to_bf16(c.gy));
    Tensor y_ref = c.rounds_output ? rounded_to_bf16(yr.data()) : yr.data();
    y_ref = add(Variable(y_ref), Variable(ci == 0 ? c.b.reshape({1, 32, 1, 1}) : c.b)).data();
    const Tensor gx_ref = c.rounds_output ? rounded_to_bf16(xr.grad()) : xr.grad();
    const Tensor gw_ref = c.rounds_output ? rounded_to_bf16(wr.grad()) : wr.grad();
    EXPECT_TRUE(test::all_close(yg.data().cpu(), y_ref, 2e-2f, 2e-2f)) << "forward";
    EXPECT_TRUE(test::all_close(xg.grad().cpu(), gx_ref, 2e-2f, 2e-2f)) << "input gradient";
    EXPECT_TRUE(test::all_close(wg.grad().cpu(), gw_ref, 2e-2f, 2e-2f)) << "weight gradient";
    if (c.rounds_output) {  // the result is bf16 rounded: not the f32 convolution
      const Tensor y32 = c.f(Variable(c.x.cuda()), Variable(c.w.cuda()), Variable(c.b.cuda())).data().cpu();
      EXPECT_FALSE(test::all_close(yg.data().cpu(), y32, 1e-6f, 1e-6f)) << "autocast changed nothing";
    }
  }
}

TEST(OpsCuda, CrossEntropyWithLabelSmoothing) {
  HWNAS_SKIP_WITHOUT_GPU();
  Tensor x = test::randn({33, 10}, 17, 3.f);
  std::vector<int64_t> y(33);
  for (size_t i = 0; i < y.size(); ++i) y[i] = static_cast<int64_t>((i * 7) % 10);
  Tensor labels = Tensor::from_vector_i64(y, {33});
  for (float eps : {0.f, 0.1f}) {
    expect_cuda_matches_cpu([&](const auto& v) { return cross_entropy(v[0], labels, eps); }, {x}, 1e-5f);
    expect_cuda_matches_cpu([&](const auto& v) { return cross_entropy(v[0], labels.cuda(), eps); }, {x}, 1e-5f);
  }
  // Distillation's soft targets (composed on the GPU).
  Tensor soft = softmax(Variable(test::randn({33, 10}, 19)), 1).data();
  expect_cuda_matches_cpu([&](const auto& v) { return soft_cross_entropy(v[0], soft); }, {x}, 1e-5f);
  // A bad label on the GPU is still named.
  Tensor bad = Tensor::from_vector_i64(std::vector<int64_t>(33, 10), {33}).cuda();
  EXPECT_TRUE(test::contains(test::error_of([&] { cross_entropy(Variable(x.cuda()), bad); }), "label 10 at index 0"));
}

TEST(OpsCuda, SoftmaxAndLogSoftmaxAlongAnyDim) {
  HWNAS_SKIP_WITHOUT_GPU();
  Tensor x = test::randn({3, 4, 5, 2}, 18, 2.f);
  for (int64_t dim : {0, 1, 3, -1})
    for (bool log : {false, true}) {
      SCOPED_TRACE(dim);
      auto f = [dim, log](const auto& v) { return log ? log_softmax(v[0], dim) : softmax(v[0], dim); };
      expect_cuda_matches_cpu(f, {x});
      expect_cuda_matches_cpu(f, {test::cl(x)});  // channels_last: softmax over C has inner 1
    }
}

TEST(OpsCuda, SumAndMean) {
  HWNAS_SKIP_WITHOUT_GPU();
  Tensor x = test::randn({4, 6, 5, 3}, 19);
  expect_cuda_matches_cpu([](const auto& v) { return sum(v[0]); }, {x}, 1e-4f);
  expect_cuda_matches_cpu([](const auto& v) { return mean(v[0]); }, {x}, 1e-5f);
  expect_cuda_matches_cpu([](const auto& v) { return mean(v[0], {2, 3}); }, {test::cl(x)}, 1e-5f);
  expect_cuda_matches_cpu([](const auto& v) { return sum(v[0], {0, 2}, true); }, {x}, 1e-4f);
  // Many terms per output: the block-per-output kernel.
  expect_cuda_matches_cpu([](const auto& v) { return sum(v[0], {0}); }, {test::randn({5000, 3}, 20)}, 1e-3f);
}

TEST(OpsCuda, BatchNormTrainingAndEvalWithFusedActivation) {
  HWNAS_SKIP_WITHOUT_GPU();
  Tensor x = test::randn({4, 12, 5, 5}, 24, 2.f), gamma = test::randn({12}, 25), beta = test::randn({12}, 26);
  for (bool training : {true, false})
    for (Activation act : {Activation::none, Activation::relu, Activation::hswish}) {
      SCOPED_TRACE(std::string(activation_name(act)) + (training ? " training" : " eval"));
      // Running statistics as strided slices of larger buffers (a supernet's BN), on each device.
      Tensor rm_c = Tensor::full({20}, 0.2f), rv_c = Tensor::full({20}, 1.5f);
      Tensor rm_g = rm_c.cuda(), rv_g = rv_c.cuda();
      BatchNormOptions o;
      o.training = training;
      o.act = act;
      auto f = [&](const std::vector<Variable>& v) {
        const bool gpu = v[0].data().is_cuda();
        Tensor rm = (gpu ? rm_g : rm_c).slice(0, 0, 24, 2), rv = (gpu ? rv_g : rv_c).slice(0, 0, 24, 2);
        return batch_norm(v[0], v[1], v[2], rm, rv, o);
      };
      expect_cuda_matches_cpu(f, {test::cl(x), gamma, beta}, 1e-4f);
      expect_cuda_matches_cpu(f, {x, gamma, beta}, 1e-4f);  // NCHW input: the GPU path goes through NHWC
      EXPECT_TRUE(test::all_close(rm_g.cpu(), rm_c, 1e-5f, 1e-5f)) << "running mean";
      EXPECT_TRUE(test::all_close(rv_g.cpu(), rv_c, 1e-4f, 1e-4f)) << "running var";
    }
  expect_cuda_matches_cpu(  // [N, C] input (the linear head's BN)
      [](const auto& v) { return batch_norm(v[0], v[1], v[2], Tensor(), Tensor(), BatchNormOptions{}); },
      {test::randn({16, 12}, 27), gamma, beta}, 1e-4f);
}

TEST(OpsCuda, Conv2dEveryKind) {
  HWNAS_SKIP_WITHOUT_GPU();
  struct Case {
    const char* name;
    int64_t c_in, c_out, k, stride, pad, dilation, groups;
  };
  for (const Case& c : {Case{"dense 3x3", 6, 10, 3, 1, 1, 1, 1}, Case{"dense 3x3 stride 2", 6, 10, 3, 2, 1, 1, 1},
                        Case{"pointwise", 12, 8, 1, 1, 0, 1, 1}, Case{"pointwise stride 2", 12, 8, 1, 2, 0, 1, 1},
                        Case{"grouped", 8, 12, 3, 1, 1, 1, 2}, Case{"depthwise 3x3", 16, 16, 3, 1, 1, 1, 16},
                        Case{"depthwise 5x5 stride 2", 16, 16, 5, 2, 2, 1, 16},
                        Case{"depthwise dilated", 16, 16, 3, 1, 2, 2, 16}}) {
    SCOPED_TRACE(c.name);
    Tensor x = test::randn({3, c.c_in, 9, 9}, 30), w = test::randn({c.c_out, c.c_in / c.groups, c.k, c.k}, 31, 0.3f);
    Tensor bias = test::randn({c.c_out}, 32);
    const auto o = Conv2dOptions::make(c.stride, c.pad, c.dilation, c.groups);
    expect_cuda_matches_cpu([o](const auto& v) { return conv2d(v[0], v[1], v[2], o); }, {test::cl(x), w, bias}, 1e-4f);
    expect_cuda_matches_cpu([o](const auto& v) { return conv2d(v[0], v[1], Variable(), o); }, {x, w}, 1e-4f);
  }
  // An elastic kernel: the centre 3x3 of a 5x5 depthwise weight, as a strided view (autograd's
  // narrow, as the supernet slices it), read in place (fused) and packed first (composed).
  Tensor w5 = test::randn({16, 1, 5, 5}, 33, 0.3f);
  for (bool fused : {true, false}) {
    SCOPED_TRACE(fused ? "elastic centre in place" : "elastic centre packed");
    FusedKernelsScope scope(fused);
    expect_cuda_matches_cpu(
        [](const auto& v) {
          return conv2d(v[0], narrow(narrow(v[1], 2, 1, 3), 3, 1, 3), v[2], Conv2dOptions::make(1, 1, 1, 16));
        },
        {test::cl(test::randn({2, 16, 7, 7}, 34)), w5, test::randn({16}, 35)}, 1e-4f);
  }
}

// Inference with batch norm folded: bias, activation and residual in the conv kernels'
// epilogue (cuDNN's fused call for ReLU/ReLU6, the depthwise kernel's own), against the CPU.
TEST(OpsCuda, Conv2dInferenceEpilogue) {
  HWNAS_SKIP_WITHOUT_GPU();
  struct Case {
    const char* name;
    int64_t c_in, c_out, k, stride, pad, groups;
  };
  for (const Case& c : {Case{"pointwise", 16, 24, 1, 1, 0, 1}, Case{"dense 3x3", 8, 16, 3, 1, 1, 1},
                        Case{"depthwise 3x3 stride 2", 16, 16, 3, 2, 1, 16}, Case{"depthwise 5x5", 16, 16, 5, 1, 2, 16}})
    for (Activation act : {Activation::none, Activation::relu, Activation::relu6, Activation::hswish})
      for (bool with_residual : {false, true}) {
        SCOPED_TRACE(testing::Message() << c.name << " " << activation_name(act) << (with_residual ? " + residual" : ""));
        const Tensor x = test::cl(test::randn({2, c.c_in, 9, 9}, 36, 2.f));
        const Tensor w = test::randn({c.c_out, c.c_in / c.groups, c.k, c.k}, 37, 0.3f), b = test::randn({c.c_out}, 38);
        const auto o = Conv2dOptions::make(c.stride, c.pad, 1, c.groups);
        const Tensor y_cpu = conv2d_inference(x, w, b, o, act);
        const Tensor res = test::cl(test::randn(y_cpu.shape(), 39));
        const Tensor expect = with_residual ? conv2d_inference(x, w, b, o, act, &res) : y_cpu;
        const Tensor res_gpu = res.cuda();
        const Tensor got = conv2d_inference(x.cuda(), w.cuda(), b.cuda(), o, act, with_residual ? &res_gpu : nullptr);
        ASSERT_TRUE(got.is_cuda());
        EXPECT_TRUE(test::all_close(got.cpu(), expect, 1e-4f, 1e-4f));
      }
}

// A network moved to the GPU, in eval mode with batch norm folded there, gives the CPU's output.
TEST(OpsCuda, FoldedInferenceOfAWholeNetwork) {
  HWNAS_SKIP_WITHOUT_GPU();
  for (const char* name : {"elastic-mobile:max", "fbnet:0"}) {
    SCOPED_TRACE(name);
    const NetworkSpec spec = resolve_network(name);
    auto cpu = build_network(spec, 5), gpu = build_network(spec, 5);
    gpu->to(Device{DeviceType::cuda, 0});
    for (auto* net : {cpu.get(), gpu.get()}) {
      net->eval();
      net->prepare_inference();
    }
    Shape in{2};
    in.insert(in.end(), spec.input.begin(), spec.input.end());
    const Tensor x = test::cl(test::randn(in, 40));
    NoGradGuard ng;
    const Tensor yc = cpu->forward(Variable(x)).data(), yg = gpu->forward(Variable(x.cuda())).data();
    ASSERT_TRUE(yg.is_cuda());
    EXPECT_TRUE(test::all_close(yg.cpu(), yc, 1e-3f, 1e-3f));
  }
}

TEST(OpsCuda, OrderedDropoutAndChannelBypass) {
  HWNAS_SKIP_WITHOUT_GPU();
  Tensor x = test::randn({6, 8, 3, 3}, 35), y = test::randn({6, 5, 3, 3}, 36);
  const std::vector<int64_t> widths = {8, 8, 3, 3, 0, 5};
  for (bool cl : {false, true}) {
    SCOPED_TRACE(cl);
    for (bool fused : {true, false}) {  // the one-launch kernel and the composed copies
      FusedKernelsScope scope(fused);
      expect_cuda_matches_cpu([&](const auto& v) { return ordered_dropout(v[0], widths); }, {cl ? test::cl(x) : x});
    }
    expect_cuda_matches_cpu([](const auto& v) { return channel_bypass(v[0], v[1], 5); },
                            {cl ? test::cl(y) : y, cl ? test::cl(x) : x});
  }
}

TEST(OpsCuda, MixedOpWeightedSumAndGumbelSoftmax) {
  HWNAS_SKIP_WITHOUT_GPU();
  Tensor a = test::randn({2, 4, 3, 3}, 37), b = test::randn({2, 4, 3, 3}, 38), c = test::randn({2, 4, 3, 3}, 39);
  // Architecture weights on the host, as DNAS keeps them, and on the GPU.
  Variable w_cpu(Tensor::from_vector({0.2f, 0.5f, 0.3f}, {3}), true), w_gpu(w_cpu.data().cuda(), true);
  std::vector<Variable> gx = {test::param(a.cuda()), test::param(test::cl(b).cuda()), test::param(c.cuda())};
  std::vector<Variable> cx = {test::param(a), test::param(test::cl(b)), test::param(c)};
  Tensor gy = test::randn({2, 4, 3, 3}, 40);
  Variable yc = weighted_sum(cx, w_cpu);
  yc.backward(gy);
  for (bool fused : {true, false}) {
    for (Variable* w : {&w_cpu, &w_gpu}) {
      SCOPED_TRACE(::testing::Message() << "fused " << fused << ", weights on " << w->data().device().str());
      FusedKernelsScope scope(fused);
      Variable wg(w->data(), true);
      Variable yg = weighted_sum(gx, wg);
      EXPECT_TRUE(yg.data().is_cuda());
      EXPECT_TRUE(test::all_close(yg.data().cpu(), yc.data(), 1e-5f, 1e-5f));
      yg.backward(gy.cuda());
      EXPECT_EQ(wg.grad().device(), w->data().device());
      EXPECT_TRUE(test::all_close(wg.grad().cpu(), w_cpu.grad(), 1e-4f, 1e-4f)) << "weights' gradient";
      for (size_t i = 0; i < 3; ++i) {
        EXPECT_TRUE(test::all_close(gx[i].grad().cpu(), cx[i].grad(), 1e-5f, 1e-5f)) << "candidate " << i;
        gx[i].zero_grad();
      }
    }
  }
  // Gumbel-softmax on GPU logits draws the same noise as on the host (one generator).
  Generator g1(5), g2(5);
  Tensor logits = Tensor::from_vector({0.1f, -0.4f, 0.9f}, {3});
  for (bool hard : {false, true}) {
    Tensor sc = gumbel_softmax(Variable(logits), 0.5f, g1, hard).data();
    Tensor sg = gumbel_softmax(Variable(logits.cuda()), 0.5f, g2, hard).data();
    EXPECT_TRUE(sg.is_cuda());
    EXPECT_TRUE(test::all_close(sg.cpu(), sc, 1e-6f, 1e-6f));
  }
}

TEST(OpsCuda, ChannelMask) {
  HWNAS_SKIP_WITHOUT_GPU();
  Tensor x = test::randn({3, 8, 4, 4}, 41), g = Tensor::from_vector({0.3f, 0.5f, 0.2f}, {3});
  for (bool cl : {false, true})
    expect_cuda_matches_cpu([](const auto& v) { return channel_mask(v[0], v[1], {2, 5, 8}); },
                            {cl ? test::cl(x) : x, g}, 1e-4f);
}

TEST(OpsCuda, SplitAttentionCombine) {
  HWNAS_SKIP_WITHOUT_GPU();
  // Both layouts (a thread per plane in channels_last, a warp per plane in contiguous, planes of
  // more and fewer pixels than a warp), both logit shapes, fused and composed, and a radix
  // beyond one fused launch's kMaxRadix (composed).
  for (int64_t r : {1, 2, 4, 9})
    for (bool cl : {true, false})
      for (int64_t hw : {4, 7})
        for (bool fused : {true, false}) {
          SCOPED_TRACE(::testing::Message() << "radix " << r << ", channels_last " << cl << ", " << hw << "x" << hw
                                            << ", fused " << fused);
          FusedKernelsScope scope(fused);
          std::vector<Tensor> in;
          for (int64_t m = 0; m < r; ++m) {
            Tensor s = test::randn({2, 6, hw, hw}, 42 + m);
            in.push_back(cl ? test::cl(s) : s);
          }
          for (int64_t m = 0; m < r; ++m)
            in.push_back(cl ? test::randn({2, 6}, 50 + m, 2.f) : test::randn({2, 6, 1, 1}, 50 + m, 2.f));
          expect_cuda_matches_cpu(
              [r](const auto& v) {
                return split_attention_combine({v.begin(), v.begin() + r}, {v.begin() + r, v.end()});
              },
              in, 1e-4f);
        }
}

TEST(OpsCuda, SplitAttentionPoolFusedAndComposed) {
  HWNAS_SKIP_WITHOUT_GPU();
  for (bool fused : {true, false})
    for (bool cl : {false, true})
      for (int r : {2, 4}) {
        SCOPED_TRACE(testing::Message() << (fused ? "fused" : "composed") << " cl " << cl << " radix " << r);
        FusedKernelsScope scope(fused);
        std::vector<Tensor> in;
        for (int m = 0; m < r; ++m) in.push_back(cl ? test::cl(test::randn({3, 40, 7, 7}, 26 + m)) : test::randn({3, 40, 7, 7}, 26 + m));
        expect_cuda_matches_cpu([](const auto& v) { return split_attention_pool(v); }, in, 1e-5f);
      }
}

TEST(OpsCuda, GlobalAveragePooling) {
  HWNAS_SKIP_WITHOUT_GPU();
  Tensor x = test::randn({3, 16, 7, 7}, 23);
  expect_cuda_matches_cpu([](const auto& v) { return global_avg_pool(v[0]); }, {x});
  expect_cuda_matches_cpu([](const auto& v) { return global_avg_pool(v[0]); }, {test::cl(x)});
}

TEST(OpsCuda, MaxAndAveragePooling) {
  HWNAS_SKIP_WITHOUT_GPU();
  Tensor x = test::randn({3, 16, 9, 7}, 24);
  for (const Pool2dOptions& o : {Pool2dOptions{2, 2, 0}, Pool2dOptions{3, 2, 1}, Pool2dOptions{3, 1, 1, false}})
    for (bool cl : {false, true}) {
      SCOPED_TRACE(testing::Message() << "k" << o.kernel << " s" << o.stride << " p" << o.padding << " cl " << cl);
      expect_cuda_matches_cpu([o](const auto& v) { return max_pool2d(v[0], o); }, {cl ? test::cl(x) : x});
      expect_cuda_matches_cpu([o](const auto& v) { return avg_pool2d(v[0], o); }, {cl ? test::cl(x) : x});
    }
}

TEST(OpsCuda, DropoutDropsTheSameElementsAsTheCpu) {
  HWNAS_SKIP_WITHOUT_GPU();
  Tensor x = test::randn({4, 16, 5, 5}, 25);
  for (float p : {0.2f, 0.5f, 1.f})
    for (bool cl : {false, true}) {
      SCOPED_TRACE(testing::Message() << "p " << p << " cl " << cl);
      // A fresh generator per call: the CPU and GPU runs draw the same seed.
      expect_cuda_matches_cpu(
          [p](const auto& v) {
            Generator g(11);
            return dropout(v[0], p, true, g);
          },
          {cl ? test::cl(x) : x});
    }
}

TEST(OpsCuda, ShapeOps) {
  HWNAS_SKIP_WITHOUT_GPU();
  Tensor x = test::randn({2, 8, 3, 3}, 21), y = test::randn({2, 4, 3, 3}, 22);
  for (bool cl : {false, true}) {
    SCOPED_TRACE(cl);
    Tensor a = cl ? test::cl(x) : x, b = cl ? test::cl(y) : y;
    expect_cuda_matches_cpu([](const auto& v) { return concat({v[0], v[1]}, 1); }, {a, b});
    expect_cuda_matches_cpu([](const auto& v) { return mul(split(v[0], {3, 5}, 1)[1], split(v[0], {3, 5}, 1)[1]); },
                            {a});
    expect_cuda_matches_cpu([](const auto& v) { return slice(v[0], 1, 1, 7, 2); }, {a});
    expect_cuda_matches_cpu([](const auto& v) { return reshape(v[0], {2, -1}); }, {a});
    expect_cuda_matches_cpu([](const auto& v) { return permute(v[0], {0, 2, 3, 1}); }, {a});
    expect_cuda_matches_cpu([](const auto& v) { return channel_shuffle(v[0], 2); }, {a});
    expect_cuda_matches_cpu([](const auto& v) { return channel_shuffle(v[0], 4); }, {a});
  }
}

}  // namespace
}  // namespace hwnas
