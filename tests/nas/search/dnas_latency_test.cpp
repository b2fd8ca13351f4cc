// The DNAS latency term (nas/dnas_latency.h), its use in supernet training and the dnas search.
#include "nas/dnas_latency.h"

#include <gtest/gtest.h>

#include <unistd.h>

#include <cmath>
#include <filesystem>
#include <fstream>

#include "autograd/gradcheck.h"
#include "hw_targets/lut_build.h"
#include "hw_targets/predictor_mlp.h"
#include "io/checkpoint.h"
#include "io/dataloader.h"
#include "io/idx.h"
#include "nas/builtin_spaces.h"
#include "nas/dnas.h"
#include "nas/search/algorithms.h"
#include "nas/supernet_train.h"
#include "ops/elementwise.h"
#include "ops/reduce.h"
#include "ops/softmax.h"
#include "tests/test_util.h"

using namespace hwnas;
using nlohmann::json;
namespace fs = std::filesystem;

namespace {

using test::have_fashion_mnist;

// A made-up table for elastic-mobile: every layer key of its subnets, cost ~ multiply-adds plus
// a per-key offset, so kernel and expand choices differ in cost.
LatencyTable synthetic_table() {
  LatencyTable t;
  t.name = "synthetic";
  t.overhead_ms = 0.05;
  size_t i = 0;
  for (const LayerWork& w : space_layers(elastic_mobile_space(), 50, 0))
    t.entries[w.key] = 1e-6 * double(w.macs) + 0.002 * double(i++ % 7) + 0.01;
  return t;
}

DnasLatencyPtr synthetic_model() {
  static const DnasLatencyPtr m = dnas_latency_from_table(elastic_mobile_space(), synthetic_table());
  return m;
}

std::vector<Variable> random_logits(const SearchSpace& s, uint64_t seed) {
  Generator g(seed);
  std::vector<Variable> l;
  for (const Dimension& d : s.dims) l.emplace_back(Tensor::randn({int64_t(d.size())}, g, 0.f, 1.f), true);
  return l;
}

std::vector<Variable> softmaxes(const std::vector<Variable>& logits) {
  std::vector<Variable> p;
  for (const Variable& l : logits) p.push_back(softmax(l, 0));
  return p;
}

std::vector<Variable> one_hot(const SearchSpace& s, const Arch& a) {
  const std::vector<size_t> c = arch_choices(s, a);
  std::vector<Variable> p;
  for (size_t i = 0; i < s.dims.size(); ++i) {
    std::vector<float> v(s.dims[i].size(), 0.f);
    v[c[i]] = 1.f;
    p.emplace_back(Tensor::from_vector(v, {int64_t(v.size())}));
  }
  return p;
}

void expect_gradient_matches(const DnasLatencyModel& m, uint64_t seed) {
  const SearchSpace& s = elastic_mobile_space();
  const std::vector<Variable> logits = random_logits(s, seed);
  GradcheckOptions o;
  o.eps = 1e-2f;
  o.atol = 1e-3f;
  o.rtol = 2e-2f;
  // Scaled to the max arch's latency (x10) so the tolerances mean the same on every target.
  const float scale = float(10.0 / m.norm_ms());
  const GradcheckResult r = gradcheck(
      [&](const std::vector<Variable>& in) { return mul_scalar(m.expected_ms(softmaxes(in)), scale); }, logits, o);
  EXPECT_TRUE(r.ok) << m.source() << ": " << r.message;
}

SupernetTrainConfig tiny_dnas(const std::string& out) {
  SupernetTrainConfig c;
  c.sampler = "dnas";
  c.epochs = 2;
  c.batch = 16;
  c.train_limit = 96;
  c.test_limit = 32;
  c.recal_batches = 1;
  c.holdout = 0.34f;
  c.arch_warmup_epochs = 0;
  c.eval_archs = {};
  c.out_dir = out;
  c.progress = false;
  return c;
}

class FakeOracle : public AccuracyOracle {
 public:
  double accuracy(const Arch& a) override {
    double s = 0;
    for (int64_t k : a.kernel) s += double(k);
    return s / 100.0;
  }
  json config() const override { return {{"kind", "fake"}}; }
};

}  // namespace

// The lut model reproduces the table exactly at every one-hot encoding (checked inside on the
// min arch and random archs; here on others), and is the expectation under the categorical
// distribution: a Monte Carlo mean of sampled archs' table latencies agrees.
TEST(DnasLatencyTest, LutModelIsExactAndIsTheExpectation) {
  const SearchSpace& s = elastic_mobile_space();
  const LatencyTable t = synthetic_table();
  const DnasLatencyPtr m = synthetic_model();
  Generator g(7);
  for (int i = 0; i < 10; ++i) {
    const Arch a = sample_arch(s, g);
    const double want = table_cost(t, arch_network(s, a), "t").latency_ms;
    EXPECT_NEAR(m->latency_ms(a), want, 1e-9);
    EXPECT_NEAR(m->expected_ms(one_hot(s, a)).item(), want, 1e-4 * want);
  }
  EXPECT_NEAR(m->norm_ms(), table_cost(t, arch_network(s, max_arch(s)), "t").latency_ms, 1e-9);
  // Monte Carlo: archs drawn from the softmax of random logits.
  const std::vector<Variable> logits = random_logits(s, 3);
  std::vector<std::vector<float>> p;
  for (const Variable& v : softmaxes(logits)) p.push_back(v.data().to_vector());
  double mc = 0;
  const int n = 20000;
  for (int k = 0; k < n; ++k) {
    std::vector<size_t> c;
    for (const auto& pi : p) {
      double u = g.uniform(), acc = 0;
      size_t j = 0;
      for (; j + 1 < pi.size(); ++j) {
        acc += pi[j];
        if (u < acc) break;
      }
      c.push_back(j);
    }
    mc += m->latency_ms(arch_from_choices(s, c));
  }
  mc /= n;
  EXPECT_NEAR(expected_latency_ms(*m, logits), mc, 0.01 * mc);
}

TEST(DnasLatencyTest, LutGradientMatchesFiniteDifferences) {
  expect_gradient_matches(*synthetic_model(), 11);
  // Through the loss term with a budget below E[lat] (the hinge active), scaled by coef / norm.
  const SearchSpace& s = elastic_mobile_space();
  const DnasLatencyPtr m = synthetic_model();
  const std::vector<Variable> logits = random_logits(s, 5);
  const double e = expected_latency_ms(*m, logits);
  const float coef = 2.f;
  EXPECT_NEAR(dnas_latency_loss(*m, softmaxes(logits), coef, float(0.5 * e)).item(), coef * 0.5 * e / m->norm_ms(), 1e-4);
  EXPECT_NEAR(dnas_latency_loss(*m, softmaxes(logits), coef, float(2 * e)).item(), 0.0, 1e-9);
  const GradcheckResult r = gradcheck(
      [&](const std::vector<Variable>& in) { return dnas_latency_loss(*m, softmaxes(in), coef, float(0.5 * e)); },
      logits);
  EXPECT_TRUE(r.ok) << r.message;
}

// The swap model on a modeled target: exact at the max arch and at every single swap of it.
TEST(DnasLatencyTest, SwapModelOnRooflineTarget) {
  const SearchSpace& s = elastic_mobile_space();
  TargetPtr t = make_target("roofline");
  const DnasLatencyPtr m = dnas_latency_from_swaps(s, *t);
  EXPECT_EQ(m->source(), "swap");
  const Arch mx = max_arch(s);
  EXPECT_NEAR(m->latency_ms(mx), subnet_cost_on(*t, s, mx).latency_ms, 1e-9);
  std::vector<size_t> c = arch_choices(s, mx);
  c[5] = 0;  // one kernel or expand choice of a block
  const Arch a = arch_from_choices(s, c);
  EXPECT_NEAR(m->latency_ms(a), subnet_cost_on(*t, s, a).latency_ms, 1e-6);
  EXPECT_LT(m->latency_ms(min_arch(s)), m->latency_ms(mx));
  expect_gradient_matches(*m, 12);
  // JSON round trip gives the same numbers.
  const DnasLatencyPtr back = dnas_latency_from_json(s, m->to_json(), "test");
  EXPECT_NEAR(back->latency_ms(a), m->latency_ms(a), 1e-12);
  EXPECT_EQ(back->describe(), m->describe());
}

// The MLP predictor on the soft encoding: its one-hot case is predict(), the gradient is right.
TEST(DnasLatencyTest, MlpPredictorOnSoftFeatures) {
  const SearchSpace& s = elastic_mobile_space();
  const DnasLatencyPtr lut = synthetic_model();
  Generator g(1);
  std::vector<Arch> archs;
  std::vector<double> lat;
  for (int i = 0; i < 150; ++i) {
    archs.push_back(sample_arch(s, g));
    lat.push_back(lut->latency_ms(archs.back()));
  }
  MlpOptions o;
  o.steps = 150;
  o.hidden = 16;
  std::shared_ptr<const LatencyPredictor> p(MlpPredictor::fit(s, archs, lat, o));
  const DnasLatencyPtr m = dnas_latency_from_predictor(s, p);
  EXPECT_EQ(m->source(), "predictor");
  for (int i = 0; i < 3; ++i)
    EXPECT_NEAR(m->expected_ms(one_hot(s, archs[size_t(i)])).item(), p->predict(archs[size_t(i)]), 1e-3);
  expect_gradient_matches(*m, 13);
  const DnasLatencyPtr back = dnas_latency_from_json(s, m->to_json(), "test");
  EXPECT_NEAR(back->latency_ms(archs[0]), m->latency_ms(archs[0]), 1e-6);
}

// On a synthetic accuracy loss that prefers bigger choices, logits trained with a large latency
// coefficient end at a cheaper arg-max than with none, and a middle one in between.
TEST(DnasLatencyTest, LargerCoefficientGivesCheaperArch) {
  const SearchSpace& s = elastic_mobile_space();
  const DnasLatencyPtr m = synthetic_model();
  auto derived_latency = [&](float coef) {
    DnasState st(s, 0.05f);
    for (int step = 0; step < 150; ++step) {
      st.zero_grad();
      const ArchWeights w = st.mean_weights();
      // "Accuracy" rises with the choice index (bigger kernels, expands, depths) with
      // diminishing returns: loss = -sum_dims sum_c p_c * sqrt(c) * 0.05.
      Variable loss;
      for (const Variable& p : w.w) {
        std::vector<float> gain;
        for (int64_t c = 0; c < p.numel(); ++c) gain.push_back(-0.05f * std::sqrt(float(c)));
        Variable l = sum(mul(p, Variable(Tensor::from_vector(gain, {p.numel()}))));
        loss = loss.defined() ? add(loss, l) : l;
      }
      if (coef > 0) loss = add(loss, dnas_latency_loss(*m, w.w, coef));
      loss.backward();
      st.step();
    }
    return m->latency_ms(st.derived_arch());
  };
  const double l0 = derived_latency(0.f), lmid = derived_latency(0.3f), lbig = derived_latency(5.f);
  EXPECT_NEAR(l0, m->latency_ms(max_arch(s)), 1e-9);  // no latency term: the biggest wins
  EXPECT_LT(lbig, l0);
  EXPECT_LE(lbig, lmid);
  EXPECT_LE(lmid, l0);
  // Closer to the min arch than to the max.
  EXPECT_LT(lbig - m->latency_ms(min_arch(s)), 0.5 * (l0 - m->latency_ms(min_arch(s))))
      << "coef 0: " << l0 << " ms, 0.3: " << lmid << " ms, 5: " << lbig << " ms";
}

TEST(DnasLatencyTest, ClearErrors) {
  SupernetTrainConfig c;
  c.sampler = "uniform";
  c.latency_coef = 1.f;
  try {
    train_supernet(c);
    FAIL() << "expected a throw";
  } catch (const std::exception& e) {
    EXPECT_TRUE(test::contains(e.what(), "--latency-coef needs --sampler dnas")) << e.what();
  }
  c.sampler = "dnas";
  c.latency_source = "magic";
  try {
    train_supernet(c);
    FAIL() << "expected a throw";
  } catch (const std::exception& e) {
    EXPECT_TRUE(test::contains(e.what(), "unknown --latency-source")) << e.what();
  }
  try {
    make_dnas_latency(elastic_mobile_space(), "predictor", "", false);
    FAIL() << "expected a throw";
  } catch (const std::exception& e) {
    EXPECT_TRUE(test::contains(e.what(), "predictor file")) << e.what();
  }
}

// Training with the latency term: a large coefficient gives a cheaper derived arch than none on
// a tiny Fashion-MNIST run; the model built from --latency-target is kept beside the checkpoint;
// stop + resume gives the same logits as one run; a checkpoint without the latency keys (older
// runs) resumes with the defaults, and a changed coefficient is refused.
TEST(DnasLatencyTest, TrainingWithLatencyTermAndResume) {
  if (!have_fashion_mnist()) GTEST_SKIP() << "Fashion-MNIST not installed at " << kFashionMnistDir;
  test::TempDir dir("hwnas_dnaslat");
  const std::string table = dir / "table.json";
  save_latency_table(synthetic_table(), table);
  const SearchSpace& s = elastic_mobile_space();
  const DnasLatencyPtr m = synthetic_model();

  SupernetTrainConfig c0 = tiny_dnas(dir / "c0");
  c0.arch_lr = 0.5f;
  const SupernetTrainResult r0 = train_supernet(c0);
  EXPECT_TRUE(std::isnan(r0.expected_latency_ms));
  SupernetTrainConfig cb = tiny_dnas(dir / "big");
  cb.arch_lr = 0.5f;
  cb.latency_coef = 50.f;
  cb.latency_source = "lut";
  cb.latency_target = table;
  const SupernetTrainResult rb = train_supernet(cb);
  EXPECT_TRUE(fs::exists(dir / "big/latency_model.json"));
  const double l0 = m->latency_ms(arch_from_json(s, r0.derived_arch)), lb = m->latency_ms(arch_from_json(s, rb.derived_arch));
  EXPECT_LT(lb, l0);
  EXPECT_NEAR(rb.derived_latency_ms, lb, 1e-6);
  EXPECT_LT(rb.expected_latency_ms, m->norm_ms());
  EXPECT_GE(rb.entropy, 0.0);

  // Split run: 1 epoch, then resume (the model is loaded from latency_model.json).
  SupernetTrainConfig part = cb;
  part.out_dir = dir / "split";
  part.stop_after_epochs = 1;
  train_supernet(part);
  part.stop_after_epochs = 0;
  part.resume = true;
  const SupernetTrainResult rs = train_supernet(part);
  EXPECT_EQ(rs.derived_arch, rb.derived_arch);
  const Checkpoint a = load_checkpoint(dir / "big/checkpoint.hwnas"), b = load_checkpoint(dir / "split/checkpoint.hwnas");
  ASSERT_EQ(a.tensors.size(), b.tensors.size());
  for (size_t i = 0; i < a.tensors.size(); ++i)
    if (a.tensors[i].first.starts_with("arch.")) {
      EXPECT_TRUE(a.tensors[i].second.to_vector() == b.tensors[i].second.to_vector()) << a.tensors[i].first;
    }

  // A changed coefficient cannot resume.
  SupernetTrainConfig other = part;
  other.latency_coef = 1.f;
  try {
    train_supernet(other);
    FAIL() << "expected a throw";
  } catch (const std::exception& e) {
    EXPECT_TRUE(test::contains(e.what(), "latency_coef")) << e.what();
  }

  // An older checkpoint (no latency keys in its config) resumes under the defaults (coef 0).
  const std::string old_ck = dir / "c0/checkpoint.hwnas";
  Checkpoint ck = load_checkpoint(old_ck);
  json cfg = ck.metadata.at("config");
  for (const char* k : {"latency_coef", "latency_source", "latency_target", "latency_budget_ms", "latency_model"}) {
    ASSERT_TRUE(cfg.contains(k)) << k;
    cfg.erase(k);
  }
  ck.metadata["config"] = cfg;
  ck.metadata["epochs_done"] = 1;
  save_checkpoint(old_ck, ck.tensors, ck.metadata);
  SupernetTrainConfig resume0 = c0;
  resume0.resume = true;
  const SupernetTrainResult r0b = train_supernet(resume0);
  EXPECT_FALSE(r0b.derived_arch.is_null());
}

// The search algorithm: DNAS from a supernet checkpoint with the latency of the search's
// target; a rerun on the same folder resumes (no training left) and gives the same answer.
TEST(DnasLatencyTest, SearchAlgorithmReturnsDerivedArch) {
  if (!have_fashion_mnist()) GTEST_SKIP() << "Fashion-MNIST not installed at " << kFashionMnistDir;
  test::TempDir dir("hwnas_dnassearch");
  SupernetTrainConfig sc = tiny_dnas(dir / "sn");
  sc.sampler = "uniform";
  sc.epochs = 1;
  train_supernet(sc);
  const SearchSpace& s = elastic_mobile_space();
  TargetPtr target = make_target("roofline");
  FakeOracle oracle;
  const AlgorithmInfo algo = dnas_algorithm();
  EXPECT_TRUE(algo.needs_supernet);
  auto run = [&] {
    Evaluator ev(s, &oracle, target.get());
    SearchConfig cfg;
    cfg.algo = "dnas";
    cfg.progress = false;
    cfg.out_dir = dir / "search";
    cfg.options = {{"epochs", 1}, {"train_limit", 96}, {"test_limit", 32}, {"batch", 16}, {"holdout", 0.34},
                   {"recal_batches", 1}, {"latency_coef", 10}, {"arch_lr", 0.5}, {"latency_source", "swap"}};
    Generator gen(0);
    SearchContext ctx{s, ev, cfg, gen, nullptr, dir / "sn/checkpoint.hwnas"};
    return algo.run(ctx);
  };
  const SearchOutcome o = run();
  ASSERT_TRUE(o.chosen.has_value());
  EXPECT_EQ(o.info.at("latency_coef").get<double>(), 10.0);
  EXPECT_TRUE(o.info.contains("expected_latency_ms"));
  EXPECT_TRUE(o.info.contains("arch_entropy"));
  EXPECT_TRUE(fs::exists(dir / "search/dnas/latency_model.json"));
  const SearchOutcome again = run();
  ASSERT_TRUE(again.chosen.has_value());
  EXPECT_EQ(*again.chosen, *o.chosen);
}
