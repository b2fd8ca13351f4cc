#include "nn/split_attention.h"

#include <gtest/gtest.h>

#include <string>

#include "ops/activation.h"
#include "ops/batch_norm.h"
#include "ops/conv.h"
#include "ops/elementwise.h"
#include "ops/pool.h"
#include "ops/reduce.h"
#include "ops/shape_ops.h"
#include "ops/softmax.h"
#include "tests/test_util.h"

using namespace hwnas;
using hwnas::test::all_close;
using hwnas::test::error_of;
using hwnas::test::grad_ok;

namespace {

// Non-trivial BN affine parameters, running statistics and fc biases, so that a wrong slice of
// any of them shows up in the output.
void randomize(SplitAttentionConv& m, uint64_t seed) {
  Generator g(seed);
  for (auto& [name, p] : m.named_parameters()) {
    if (name.find("bn.weight") != std::string::npos) p.data().copy_(Tensor::uniform(p.shape(), g, 0.5f, 1.5f));
    if (name.find("bias") != std::string::npos) p.data().copy_(Tensor::randn(p.shape(), g, 0.f, 0.3f));
    if (name.find("fc") == 0 && name.find("weight") != std::string::npos && p.dim() == 4 && p.size(2) == 1)
      p.data().copy_(Tensor::randn(p.shape(), g, 0.f, 0.3f));
  }
  for (auto& [name, b] : m.named_buffers()) {
    if (name.find("running_mean") != std::string::npos) b.copy_(Tensor::randn(b.shape(), g, 0.f, 0.1f));
    if (name.find("running_var") != std::string::npos) b.copy_(Tensor::uniform(b.shape(), g, 0.5f, 1.5f));
  }
}

// Copies of entries [start, start + len) of a BatchNorm2d: the reference never touches the module.
struct BnCopy {
  Tensor w, b, rm, rv;
  BnCopy(const BatchNorm2d& bn, int64_t start, int64_t len)
      : w(bn.weight.data().narrow(0, start, len).clone()),
        b(bn.bias.data().narrow(0, start, len).clone()),
        rm(bn.running_mean.narrow(0, start, len).clone()),
        rv(bn.running_var.narrow(0, start, len).clone()) {}
  Variable apply(const Variable& x, bool training, Activation act) {
    return activate(batch_norm(x, Variable(w), Variable(b), rm, rv, {training, 0.1f, 1e-5f, Activation::none}), act);
  }
};

struct RefResult {
  Tensor out;
  std::vector<BnCopy> bns;  // split BNs, then fc1's: their running statistics after the forward
};

// The layer from plain ops on explicitly copied weight slices.
RefResult reference(const SplitAttentionConv& mod, const Tensor& x, int64_t c, int64_t k, int64_t r, bool training) {
  const int64_t maxc = mod.max_channels, off = (mod.max_kernel - k) / 2, n = x.size(0);
  RefResult res;
  std::vector<Variable> splits;
  for (int64_t m = 0; m < r; ++m) {
    Tensor w = mod.dw->weight.data().narrow(0, m * maxc, c).narrow(2, off, k).narrow(3, off, k).clone();
    Variable y = conv2d(Variable(x), Variable(w), {}, Conv2dOptions::make(mod.stride, k / 2, 1, c));
    res.bns.emplace_back(*mod.bn, m * maxc, c);
    splits.push_back(res.bns.back().apply(y, training, mod.act));
  }
  if (r == 1) {
    res.out = splits[0].data();
    return res;
  }
  Variable sum = splits[0];
  for (int64_t m = 1; m < r; ++m) sum = add(sum, splits[m]);
  Variable pooled = reshape(global_avg_pool(sum), {n, c, 1, 1});
  const int64_t a = std::max<int64_t>(c * r / 4, 32);
  Tensor w1 = mod.fc1->weight.data().narrow(0, 0, a).narrow(1, 0, c).clone();
  Tensor b1 = mod.fc1->bias.data().narrow(0, 0, a).clone();
  Variable h = conv2d(pooled, Variable(w1), Variable(b1), {});
  res.bns.emplace_back(*mod.fc1_bn, 0, a);
  h = res.bns.back().apply(h, training, Activation::relu);
  // All logits in one [N, r, C] tensor, softmax over dim 1.
  std::vector<Variable> logits;
  for (int64_t m = 0; m < r; ++m) {
    Tensor w2 = mod.fc2->weight.data().narrow(0, m * maxc, c).narrow(1, 0, a).clone();
    Tensor b2 = mod.fc2->bias.data().narrow(0, m * maxc, c).clone();
    logits.push_back(reshape(conv2d(h, Variable(w2), Variable(b2), {}), {n, 1, c}));
  }
  Variable att = softmax(concat(logits, 1), 1);
  Variable out;
  for (int64_t m = 0; m < r; ++m) {
    Variable t = mul(reshape(slice(att, 1, m, m + 1), {n, c, 1, 1}), splits[m]);
    out = m == 0 ? t : add(out, t);
  }
  res.out = out.data();
  return res;
}

struct Cfg {
  int64_t c, k, r;
};

}  // namespace

TEST(SplitAttentionConv, SliceMatchesReferenceOnCopiedWeights) {
  Generator gen(7);
  // max attention width 40: the (36, 5, 4) choice uses a proper slice of fc1/fc2's attention dim.
  SplitAttentionConv mod(40, 5, 4, 2, Activation::relu6, gen);
  randomize(mod, 8);
  const Cfg cfgs[] = {{40, 5, 4}, {36, 5, 4}, {24, 3, 3}, {7, 1, 2}, {40, 3, 1}, {5, 5, 1}};
  for (bool training : {false, true}) {
    mod.train(training);
    for (const Cfg& cfg : cfgs) {
      const std::string what = (training ? "train " : "eval ") + std::to_string(cfg.c) + "/" +
                               std::to_string(cfg.k) + "/" + std::to_string(cfg.r);
      Tensor x = test::randn({3, cfg.c, 7, 7}, 100 + cfg.c, 2.f).contiguous(MemoryFormat::channels_last);
      RefResult ref = reference(mod, x, cfg.c, cfg.k, cfg.r, training);
      const std::vector<std::pair<std::string, Tensor>> before = mod.named_buffers();
      std::vector<Tensor> snapshot;
      for (const auto& [_, b] : before) snapshot.push_back(b.clone());
      Tensor y = mod.forward(Variable(x), cfg.c, cfg.k, cfg.r).data();
      EXPECT_EQ(y.shape(), (Shape{3, cfg.c, 4, 4})) << what;
      EXPECT_TRUE(all_close(y, ref.out, 1e-5f, 1e-4f)) << what;
      if (!training) continue;
      // Running statistics: the used entries moved exactly as the reference's copies did, all
      // other entries are untouched.
      for (int64_t m = 0; m < cfg.r; ++m) {
        EXPECT_TRUE(all_close(mod.bn->running_mean.narrow(0, m * 40, cfg.c), ref.bns[m].rm, 1e-6f, 1e-5f)) << what;
        EXPECT_TRUE(all_close(mod.bn->running_var.narrow(0, m * 40, cfg.c), ref.bns[m].rv, 1e-6f, 1e-5f)) << what;
      }
      const int64_t a = SplitAttentionConv::attention_width(cfg.c, cfg.r);
      if (cfg.r > 1) {
        EXPECT_TRUE(all_close(mod.fc1_bn->running_mean.narrow(0, 0, a), ref.bns.back().rm, 1e-6f, 1e-5f)) << what;
        EXPECT_TRUE(all_close(mod.fc1_bn->running_var.narrow(0, 0, a), ref.bns.back().rv, 1e-6f, 1e-5f)) << what;
      }
      for (size_t i = 0; i < before.size(); ++i) {
        const bool fc = before[i].first.rfind("fc1_bn.", 0) == 0;
        const auto now = before[i].second.to_vector(), old = snapshot[i].to_vector();
        for (int64_t j = 0; j < static_cast<int64_t>(now.size()); ++j) {
          const bool used = fc ? (cfg.r > 1 && j < a) : (j / 40 < cfg.r && j % 40 < cfg.c);
          if (!used) EXPECT_EQ(now[j], old[j]) << what << " " << before[i].first << "[" << j << "]";
        }
      }
    }
  }
}

TEST(SplitAttentionConv, DefaultForwardIsTheLargestConfiguration) {
  Generator gen(1);
  SplitAttentionConv mod(6, 3, 2, 1, Activation::relu, gen);
  randomize(mod, 2);
  mod.eval();
  Variable x(test::randn({2, 6, 5, 5}, 3));
  EXPECT_TRUE(all_close(mod.forward(x).data(), mod.forward(x, 6, 3, 2).data(), 0.f, 0.f));
}

TEST(SplitAttentionConv, GradientsLandOnlyInUsedSlices) {
  Generator gen(3);
  const int64_t maxc = 64, c = 48, k = 3, r = 3;
  SplitAttentionConv mod(maxc, 5, 4, 1, Activation::relu6, gen);  // max attention 64
  randomize(mod, 4);
  const int64_t a = SplitAttentionConv::attention_width(c, r);
  ASSERT_EQ(a, 36);
  Variable y = mod.forward(Variable(test::randn({2, c, 5, 5}, 5)), c, k, r);
  sum(mul(y, Variable(test::randn(y.shape(), 6)))).backward();

  // used(index along each dim of the parameter) for every parameter; its gradient must be zero
  // elsewhere and not all zero inside.
  auto split_row = [&](int64_t i) { return i / maxc < r && i % maxc < c; };
  auto check = [&](const Variable& p, const char* name, auto used) {
    ASSERT_TRUE(p.grad().defined()) << name;
    ASSERT_EQ(p.grad().shape(), p.shape()) << name;
    const Tensor g = p.grad().contiguous();
    const auto v = g.to_vector();
    const Shape& s = p.shape();
    int64_t nonzero_used = 0;
    for (int64_t i = 0; i < static_cast<int64_t>(v.size()); ++i) {
      std::vector<int64_t> idx(s.size());
      for (int64_t d = static_cast<int64_t>(s.size()) - 1, rest = i; d >= 0; --d) {
        idx[d] = rest % s[d];
        rest /= s[d];
      }
      if (used(idx)) {
        nonzero_used += v[i] != 0.f;
      } else {
        ASSERT_EQ(v[i], 0.f) << name << " element " << i;
      }
    }
    EXPECT_GT(nonzero_used, 0) << name;
  };
  check(mod.dw->weight, "dw", [&](const std::vector<int64_t>& i) {
    return split_row(i[0]) && i[2] >= 1 && i[2] < 4 && i[3] >= 1 && i[3] < 4;  // centre 3x3 of 5x5
  });
  check(mod.bn->weight, "bn.weight", [&](const std::vector<int64_t>& i) { return split_row(i[0]); });
  check(mod.bn->bias, "bn.bias", [&](const std::vector<int64_t>& i) { return split_row(i[0]); });
  check(mod.fc1->weight, "fc1.weight", [&](const std::vector<int64_t>& i) { return i[0] < a && i[1] < c; });
  check(mod.fc1->bias, "fc1.bias", [&](const std::vector<int64_t>& i) { return i[0] < a; });
  check(mod.fc1_bn->weight, "fc1_bn.weight", [&](const std::vector<int64_t>& i) { return i[0] < a; });
  check(mod.fc1_bn->bias, "fc1_bn.bias", [&](const std::vector<int64_t>& i) { return i[0] < a; });
  check(mod.fc2->weight, "fc2.weight", [&](const std::vector<int64_t>& i) { return split_row(i[0]) && i[1] < a; });
  check(mod.fc2->bias, "fc2.bias", [&](const std::vector<int64_t>& i) { return split_row(i[0]); });
}

TEST(SplitAttentionConv, GradcheckInputEvalAndTrain) {
  Generator gen(11);
  SplitAttentionConv mod(4, 3, 3, 1, Activation::swish, gen);
  randomize(mod, 12);
  // fc1's BN output stays well above ReLU's kink: finite differences never straddle it.
  mod.fc1_bn->weight.data().fill_(1.f);
  mod.fc1_bn->bias.data().fill_(2.f);
  mod.eval();
  auto f = [&](int64_t c, int64_t k, int64_t r) {
    return [&mod, c, k, r](const std::vector<Variable>& v) { return mod.forward(v[0], c, k, r); };
  };
  EXPECT_TRUE(grad_ok(f(3, 3, 2), {test::param(test::randn({2, 3, 3, 3}, 13))}));
  // Training mode: batch statistics of fc1's BN over N = 4 samples (|xhat| <= sqrt(3) < 2).
  mod.train();
  EXPECT_TRUE(grad_ok(f(4, 3, 3), {test::param(test::randn({4, 4, 3, 3}, 14))}));
  EXPECT_TRUE(grad_ok(f(2, 1, 2), {test::param(test::randn({4, 2, 3, 3}, 15))}));
}

TEST(SplitAttentionConv, ClearErrors) {
  Generator gen(1);
  SplitAttentionConv mod(8, 5, 2, 1, Activation::relu, gen);
  Variable x(test::randn({2, 8, 4, 4}, 1));
  EXPECT_NE(error_of([&] { mod.forward(x, 9, 3, 2); }).find("channels 9 is out of range"), std::string::npos);
  EXPECT_NE(error_of([&] { mod.forward(x, 8, 4, 2); }).find("kernel 4 must be odd"), std::string::npos);
  EXPECT_NE(error_of([&] { mod.forward(x, 8, 7, 2); }).find("kernel 7 is out of range"), std::string::npos);
  EXPECT_NE(error_of([&] { mod.forward(x, 8, 3, 3); }).find("radix 3 is out of range"), std::string::npos);
  EXPECT_NE(error_of([&] { mod.forward(x, 8, 3, 0); }).find("radix 0 is out of range"), std::string::npos);
  EXPECT_NE(error_of([&] { mod.forward(x, 6, 3, 2); }).find("expected an input [N, 6, H, W], got [2, 8, 4, 4]"),
            std::string::npos);
  EXPECT_NE(error_of([&] { SplitAttentionConv(8, 4, 2, 1, Activation::relu, gen); }).find("max_kernel 4 must be odd"),
            std::string::npos);
  // Training with one sample: fc1's batch norm has a single value per channel, which batch_norm
  // refuses (documented limitation; eval mode works).
  EXPECT_NE(error_of([&] { mod.forward(Variable(test::randn({1, 8, 4, 4}, 2)), 8, 3, 2); }).find("batch_norm"),
            std::string::npos);
  mod.eval();
  EXPECT_EQ(mod.forward(Variable(test::randn({1, 8, 4, 4}, 2)), 8, 3, 2).shape(), (Shape{1, 8, 4, 4}));
}
