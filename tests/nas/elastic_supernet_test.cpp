#include "nas/elastic_supernet.h"

#include <gtest/gtest.h>

#include <cmath>
#include <map>

#include "nas/builtin_spaces.h"
#include "ops/loss.h"
#include "tests/test_util.h"

using namespace hwnas;

namespace {

const SearchSpace& space() { return elastic_mobile_space(); }

// Non-trivial BN affine parameters and running statistics, so that copying the wrong slice of
// them shows in the outputs (the defaults 1, 0, 0, 1 are the same in every channel).
void randomize_bn(Module& m, uint64_t seed) {
  Generator g(seed);
  for (auto& [name, p] : m.named_parameters()) {
    auto ends = [&](const std::string& s) {
      return name.size() >= s.size() && name.compare(name.size() - s.size(), s.size(), s) == 0;
    };
    if (p.dim() != 1 || ends("fc.bias")) continue;
    Tensor r = Tensor::randn(p.shape(), g, 0.f, 0.2f);
    Tensor d = p.data();
    auto v = r.to_vector();
    for (auto& x : v) x += ends("weight") ? 1.f : 0.f;
    d.copy_(Tensor::from_vector(v, p.shape()));
  }
  for (auto& [name, t] : m.named_buffers()) {
    auto v = Tensor::randn(t.shape(), g, 0.f, 0.3f).to_vector();
    if (name.find("running_var") != std::string::npos)
      for (auto& x : v) x = 0.5f + x * x;
    t.copy_(Tensor::from_vector(v, t.shape()));
  }
}

std::vector<Arch> test_archs() {
  Generator g(7);
  return {max_arch(space()), min_arch(space()), sample_arch(space(), g), sample_arch(space(), g)};
}

std::map<std::string, std::vector<float>> grads_of(const Module& m) {
  std::map<std::string, std::vector<float>> out;
  for (auto& [name, p] : m.named_parameters())
    if (p.grad().defined()) out[name] = p.grad().to_vector();
  return out;
}

void zero_grads(Module& m) {
  for (auto p : m.parameters()) p.zero_grad();
}

Tensor labels(int64_t n) {
  Tensor y = Tensor::empty({n}, DType::i64);
  for (int64_t i = 0; i < n; ++i) y.data<int64_t>()[i] = i % 10;
  return y;
}

}  // namespace

TEST(ElasticSupernet, ParameterShapesAreMaxSize) {
  ElasticMobileSupernet net(0);
  ASSERT_EQ(net.blocks.size(), 10u);
  const auto& b = *net.blocks[2];  // first block of stage 2: 24 -> 40, stride 2
  EXPECT_EQ(b.pw.shape(), (Shape{144, 24, 1, 1}));
  EXPECT_EQ(b.dw.shape(), (Shape{144, 1, 5, 5}));
  EXPECT_EQ(b.pj.shape(), (Shape{40, 144, 1, 1}));
  EXPECT_EQ(b.bn1->running_mean.shape(), (Shape{144}));
  EXPECT_FALSE(b.residual);
  EXPECT_TRUE(net.blocks[3]->residual);
  EXPECT_EQ(net.fc->weight.shape(), (Shape{10, 256}));
}

TEST(ElasticSupernet, ExtractedSubnetMatchesInEvalAndTrainMode) {
  ElasticMobileSupernet net(3);
  randomize_bn(net, 11);
  const Variable x(test::randn({3, 1, 28, 28}, 5));
  for (const Arch& a : test_archs()) {
    SCOPED_TRACE(arch_to_json(space(), a).dump());
    {
      net.eval();
      auto fixed = extract_subnet(net, a);
      fixed->eval();
      NoGradGuard ng;
      EXPECT_TRUE(test::all_close(net.forward(x, a).data(), fixed->forward(x).data(), 1e-5f, 1e-5f));
    }
    net.train();
    auto fixed = extract_subnet(net, a);
    EXPECT_TRUE(fixed->is_training());
    EXPECT_TRUE(test::all_close(net.forward(x, a).data(), fixed->forward(x).data(), 1e-5f, 1e-5f));
    // Both updated their running statistics the same way (the supernet's in place, in its slices).
    auto after = extract_subnet(net, a);
    for (auto& [name, t] : fixed->named_buffers()) {
      bool found = false;
      for (auto& [n2, t2] : after->named_buffers())
        if (n2 == name) {
          found = true;
          EXPECT_TRUE(test::all_close(t, t2, 1e-6f, 1e-5f)) << name;
        }
      EXPECT_TRUE(found) << name;
    }
  }
}

TEST(ElasticSupernet, ExtractedWeightsAreTheFirstChannelsAndKernelCentre) {
  ElasticMobileSupernet net(5);
  auto fixed = extract_subnet(net, min_arch(space()));
  auto mb = std::dynamic_pointer_cast<MBConv>(fixed->layers()[1]);  // block 0: 16 -> 24, k3, e2
  ASSERT_TRUE(mb);
  const auto w = mb->dw_conv->conv->weight.data().contiguous().to_vector();  // [32, 1, 3, 3]
  const auto big = net.blocks[0]->dw.data().contiguous().to_vector();         // [96, 1, 5, 5]
  ASSERT_EQ(w.size(), 32u * 9);
  for (int64_t c = 0; c < 32; ++c)
    for (int64_t i = 0; i < 3; ++i)
      for (int64_t j = 0; j < 3; ++j) ASSERT_EQ(w[(c * 3 + i) * 3 + j], big[(c * 5 + i + 1) * 5 + j + 1]);
  const auto pj = mb->project_conv->conv->weight.data().contiguous().to_vector();  // [24, 32, 1, 1]
  const auto pjb = net.blocks[0]->pj.data().contiguous().to_vector();              // [24, 96, 1, 1]
  for (int64_t o = 0; o < 24; ++o)
    for (int64_t h = 0; h < 32; ++h) ASSERT_EQ(pj[o * 32 + h], pjb[o * 96 + h]);
}

TEST(ElasticSupernet, MinArchGradientsLandInTheSlice) {
  ElasticMobileSupernet net(1);
  net.train();
  const Variable x(test::randn({4, 1, 28, 28}, 2));
  cross_entropy(net.forward(x, min_arch(space())), labels(4)).backward();
  // Block 0 (16 -> 24, e2: 32 of 96 hidden channels, k3: the centre of the 5x5).
  const auto& b = *net.blocks[0];
  ASSERT_TRUE(b.pw.grad().defined());
  const auto gpw = b.pw.grad().contiguous().to_vector();  // [96, 16, 1, 1]
  for (int64_t r = 0; r < 96; ++r) {
    double s = 0;
    for (int64_t c = 0; c < 16; ++c) s += std::fabs(gpw[r * 16 + c]);
    if (r < 32)
      EXPECT_GT(s, 0) << "pw row " << r;
    else
      EXPECT_EQ(s, 0) << "pw row " << r;
  }
  const auto gdw = b.dw.grad().contiguous().to_vector();  // [96, 1, 5, 5]
  double inside = 0;
  for (int64_t r = 0; r < 96; ++r)
    for (int64_t i = 0; i < 5; ++i)
      for (int64_t j = 0; j < 5; ++j) {
        const float g = gdw[(r * 5 + i) * 5 + j];
        if (r < 32 && i >= 1 && i <= 3 && j >= 1 && j <= 3)
          inside += std::fabs(g);
        else
          EXPECT_EQ(g, 0.f) << "dw " << r << "," << i << "," << j;
      }
  EXPECT_GT(inside, 0);
  const auto gpj = b.pj.grad().contiguous().to_vector();  // [24, 96, 1, 1]
  for (int64_t o = 0; o < 24; ++o)
    for (int64_t h = 32; h < 96; ++h) EXPECT_EQ(gpj[o * 96 + h], 0.f);
  const auto gbn = b.bn1->weight.grad().to_vector();
  for (int64_t h = 32; h < 96; ++h) EXPECT_EQ(gbn[h], 0.f);
  // Depth 1: the stage's second block did not run.
  EXPECT_FALSE(net.blocks[1]->pw.grad().defined());
}

TEST(ElasticSupernet, GradientsAccumulateOverSubnets) {
  ElasticMobileSupernet net(4);
  net.train();
  const Variable x(test::randn({2, 1, 28, 28}, 3));
  const Tensor y = labels(2);
  Generator g(9);
  const Arch archs[] = {max_arch(space()), min_arch(space()), sample_arch(space(), g)};
  std::map<std::string, std::vector<float>> expected;
  for (const Arch& a : archs) {
    zero_grads(net);
    cross_entropy(net.forward(x, a), y).backward();
    for (auto& [name, v] : grads_of(net)) {
      auto& e = expected[name];
      if (e.empty()) e.assign(v.size(), 0.f);
      for (size_t i = 0; i < v.size(); ++i) e[i] += v[i];
    }
  }
  zero_grads(net);
  for (const Arch& a : archs) cross_entropy(net.forward(x, a), y).backward();
  const auto got = grads_of(net);
  ASSERT_EQ(got.size(), expected.size());
  for (auto& [name, e] : expected) {
    const auto& v = got.at(name);
    ASSERT_EQ(v.size(), e.size()) << name;
    for (size_t i = 0; i < v.size(); ++i)
      ASSERT_NEAR(v[i], e[i], 1e-5f + 1e-4f * std::fabs(e[i])) << name << " element " << i;
  }
}

namespace {
// Gradcheck of one block on a sub-size choice, w.r.t. the input and max-size weights (whose
// elements outside the slice must get exactly zero). BN gamma 0.3 and beta 3 keep the ReLU6
// inputs inside (0, 6), away from the kinks the finite differences would trip over.
void check_block_grad(int64_t in, int64_t out, int64_t stride, int64_t k, int64_t e) {
  Generator gen(21);
  ElasticMBConv block(in, out, stride, gen);
  block.train();
  for (auto* bn : {block.bn1.get(), block.bn2.get()}) {
    bn->weight.data().fill_(0.3f);
    bn->bias.data().fill_(3.f);
  }
  const Variable x = test::param(test::randn({2, in, 5, 5}, 4));
  auto f = [&](const std::vector<Variable>& v) {
    block.pw = v[1];
    block.dw = v[2];
    block.pj = v[3];
    return block.forward(v[0], k, e);
  };
  // Unit-scale weights: batch norm makes the output invariant to a weight's scale, so its
  // curvature grows as 1/|w|^2 and the fan-out init (std 0.08 for the depthwise weights) would
  // make the finite-difference step too coarse.
  EXPECT_TRUE(test::grad_ok(f, {x, test::param(test::randn(block.pw.shape(), 5)),
                                test::param(test::randn(block.dw.shape(), 6)),
                                test::param(test::randn(block.pj.shape(), 7))}));
}
}  // namespace

TEST(ElasticSupernet, BlockGradcheckOnSubChoice) {
  check_block_grad(2, 2, 1, 3, 2);  // residual, centre 3x3, 4 of 12 hidden channels
  check_block_grad(2, 3, 2, 5, 4);  // stride 2, no residual, 8 of 12
}

TEST(ElasticSupernet, MaxArchIsTheDefaultForward) {
  ElasticMobileSupernet net(2);
  net.eval();
  NoGradGuard ng;
  const Variable x(test::randn({1, 1, 28, 28}, 6));
  EXPECT_TRUE(test::all_close(net.forward(x).data(), net.forward(x, max_arch(space())).data(), 0.f, 0.f));
  EXPECT_EQ(net.forward(x).shape(), (Shape{1, 10}));
}

TEST(ElasticSupernet, RejectsBadArchs) {
  ElasticMobileSupernet net(0);
  const Variable x(test::randn({1, 1, 28, 28}, 6));
  Arch a = max_arch(space());
  a.kernel[9] = 7;
  EXPECT_NE(test::error_of([&] { net.forward(x, a); }).find("kernel[9] = 7"), std::string::npos);
  Generator gen(0);
  ElasticMBConv block(2, 2, 1, gen);
  EXPECT_NE(test::error_of([&] { block.forward(Variable(test::randn({1, 2, 4, 4})), 3, 7); }).find("expand 7"),
            std::string::npos);
}

TEST(ElasticSupernet, MeasureSandwichRuns) {
  auto m = measure_sandwich(2, 0, 1, 0);
  ASSERT_EQ(m.step_ms.size(), 1u);
  EXPECT_GT(m.images_per_s, 0);
}
