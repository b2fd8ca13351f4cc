// The supernet-level forms of ordered dropout and DNAS mixing, checked against the plain
// single-subnet forward.
#include <gtest/gtest.h>

#include "nas/builtin_spaces.h"
#include "nas/elastic_supernet.h"
#include "ops/elementwise.h"
#include "ops/loss.h"
#include "ops/shape_ops.h"
#include "tests/test_util.h"

using namespace hwnas;

namespace {

const SearchSpace& space() { return elastic_mobile_space(); }

std::map<std::string, Tensor> grads_of(const Module& m) {
  std::map<std::string, Tensor> g;
  for (auto& [n, p] : m.named_parameters())
    g[n] = p.grad().defined() ? p.grad().contiguous().clone() : Tensor::zeros(p.shape());
  return g;
}

void zero_grads(Module& m) {
  for (auto& [n, p] : m.named_parameters()) const_cast<Variable&>(p).zero_grad();
}

}  // namespace

// The mixed-width test of ordered dropout: one pass with four subnets on four slices of the
// batch gives the gradient of four separate passes summed (the loss is a sum over samples).
// Both with batch statistics (per group) and with running statistics.
TEST(OrderedDropoutSupernetTest, MixedWidthGradientEqualsSumOfSeparatePasses) {
  for (bool training : {true, false}) {
  SCOPED_TRACE(training ? "training" : "eval");
  ElasticMobileSupernet net(3);
  net.train(training);
  Generator gen(5);
  const int64_t n = 8;
  Tensor x = Tensor::randn({n, 1, 28, 28}, gen).contiguous(MemoryFormat::channels_last);
  Tensor y = Tensor::from_vector_i64(std::vector<int64_t>{0, 1, 2, 3, 4, 5, 6, 7}, {n});
  std::vector<ArchGroup> groups = {{max_arch(space()), 0, 2}, {min_arch(space()), 2, 4},
                                   {sample_arch(space(), gen), 4, 6}, {sample_arch(space(), gen), 6, 8}};

  // Sum of per-sample losses: cross_entropy averages, so scale by the group size.
  auto loss_sum = [&](const Variable& logits, const Tensor& labels) {
    return mul_scalar(cross_entropy(logits, labels), static_cast<float>(labels.size(0)));
  };
  zero_grads(net);
  Variable out = net.forward_groups(Variable(x), groups);
  loss_sum(out, y).backward();
  auto mixed = grads_of(net);
  Tensor mixed_out = out.data().contiguous();

  zero_grads(net);
  std::vector<Tensor> outs;
  for (const auto& g : groups) {
    Variable o = net.forward(Variable(x.narrow(0, g.begin, g.end - g.begin)), g.arch);
    loss_sum(o, y.narrow(0, g.begin, g.end - g.begin)).backward();
    outs.push_back(o.data());
  }
  auto separate = grads_of(net);
  for (size_t i = 0; i < groups.size(); ++i)
    EXPECT_TRUE(test::all_close(mixed_out.narrow(0, groups[i].begin, 2), outs[i], 1e-4f, 1e-4f)) << "group " << i;
  for (auto& [name, g] : mixed) EXPECT_TRUE(test::all_close(g, separate[name], 2e-4f, 2e-3f)) << name;
  }
}

TEST(OrderedDropoutSupernetTest, GroupsMustCoverTheBatch) {
  ElasticMobileSupernet net(0);
  Variable x(Tensor::zeros({4, 1, 28, 28}));
  EXPECT_NE(test::error_of([&] { net.forward_groups(x, {{max_arch(space()), 0, 3}}); }).find("groups cover 3 samples but the batch has 4"),
            std::string::npos);
  EXPECT_NE(test::error_of([&] { net.forward_groups(x, {{max_arch(space()), 1, 4}}); }).find("must start at 0"),
            std::string::npos);
}

// DNAS mixing with one-hot weights is the plain subnet: masked channels, the chosen kernel's
// depthwise output and the chosen depth's stage output.
TEST(DnasSupernetTest, OneHotWeightsGiveTheSubnet) {
  ElasticMobileSupernet net(7);
  Generator gen(11);
  Tensor x = Tensor::randn({4, 1, 28, 28}, gen).contiguous(MemoryFormat::channels_last);
  for (bool training : {false, true}) {
    net.train(training);
    for (int trial = 0; trial < 3; ++trial) {
      const Arch a = trial == 0 ? min_arch(space()) : sample_arch(space(), gen);
      const auto choices = arch_choices(space(), a);
      ArchWeights w;
      for (size_t d = 0; d < space().dims.size(); ++d) {
        std::vector<float> v(space().dims[d].size(), 0.f);
        v[choices[d]] = 1.f;
        w.w.emplace_back(Tensor::from_vector(v, {static_cast<int64_t>(v.size())}), true);
      }
      Tensor mixed = net.forward_weighted(Variable(x), w).data();
      Tensor plain = net.forward(Variable(x), a).data();
      EXPECT_TRUE(test::all_close(mixed, plain, 1e-4f, 1e-4f)) << "trial " << trial << " training " << training;
    }
  }
}

// The architecture logits get a gradient through the Gumbel-softmax weights.
TEST(DnasSupernetTest, LogitsReceiveGradients) {
  ElasticMobileSupernet net(1);
  net.train();
  DnasState dn(space(), 0.01f);
  Generator gen(2);
  Tensor x = Tensor::randn({4, 1, 28, 28}, gen).contiguous(MemoryFormat::channels_last);
  Tensor y = Tensor::from_vector_i64(std::vector<int64_t>{1, 2, 3, 4}, {4});
  cross_entropy(net.forward_weighted(Variable(x), dn.sample_weights(1.f, gen)), y).backward();
  for (size_t d = 0; d < dn.logits().size(); ++d) {
    ASSERT_TRUE(dn.logits()[d].grad().defined()) << "dimension " << d;
    const auto g = dn.logits()[d].grad().to_vector();
    double s = 0;
    for (float v : g) s += std::abs(v);
    EXPECT_GT(s, 0.0) << "dimension " << d;
  }
  const Arch before = dn.derived_arch();
  validate_arch(space(), before);
}
