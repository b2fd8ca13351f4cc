#include <gtest/gtest.h>

#include <cmath>

#include "hw_targets/predictor_features.h"
#include "hw_targets/predictor_metrics.h"
#include "hw_targets/predictor_transfer.h"
#include "nas/builtin_spaces.h"
#include "tests/test_util.h"

using namespace hwnas;
using test::contains;
using test::error_of;

namespace {

// Synthetic devices that share structure: each device's per-op costs are a non-negative mix of
// the analytic layer features (its own speed per MAC, per byte, per launch) plus a small
// device-specific per-op deviation; measurements carry 1% noise.
struct Device {
  std::vector<double> coef;
  double bias = 0;
};
Device make_device(uint64_t seed) {
  static const LayerOpFeatures f = layer_op_features(fbnet_space());
  Generator g(seed);
  Device d;
  d.coef.assign(198, 0.0);
  for (Eigen::Index k = 0; k < f.values.cols(); ++k) {
    if (g.uniform() < 0.5) continue;
    const double w = std::exp(g.normal()) / f.values.col(k).cwiseAbs().maxCoeff();
    for (int j = 0; j < 198; ++j) d.coef[j] += w * f.values(j, k);
  }
  double mean = 0;
  for (double c : d.coef) mean += c / 198;
  for (double& c : d.coef) c += 0.05 * mean * g.normal();
  d.bias = 20 * mean;
  return d;
}
LatencyData measure(const Device& d, size_t n, uint64_t seed, const std::string& name) {
  const ArchEncoding enc(fbnet_space());
  Generator g(seed);
  LatencyData out;
  out.device = name;
  for (size_t i = 0; i < n; ++i) {
    out.archs.push_back(sample_arch(fbnet_space(), g));
    out.ids.push_back(int64_t(i));
    double v = d.bias;
    for (size_t j : enc.active(out.archs.back())) v += d.coef[j];
    out.latency_ms.push_back(v * (1 + 0.01 * g.normal()));
  }
  return out;
}

struct Scenario {
  Device target;
  std::vector<TransferSource> sources;
  LatencyData few, test;
};
Scenario scenario(size_t n) {
  Scenario s;
  for (int j = 0; j < 6; ++j)
    s.sources.push_back(make_transfer_source(fbnet_space(), measure(make_device(100 + j), 400, 200 + j, "src")));
  const Device target = make_device(7);
  s.target = target;
  s.few = measure(target, n, 300, "target");
  s.test = measure(target, 500, 301, "target");
  return s;
}

}  // namespace

TEST(TransferPredictor, BeatsRidgeAloneWithTwentySamples) {
  const Scenario s = scenario(20);
  const auto ridge = fit_additive(fbnet_space(), s.few.archs, s.few.latency_ms);
  const auto tr = fit_transfer(fbnet_space(), s.sources, s.few.archs, s.few.latency_ms);
  const double tau_ridge = kendall_tau(ridge->predict(s.test.archs), s.test.latency_ms);
  const double tau_tr = kendall_tau(tr->predict(s.test.archs), s.test.latency_ms);
  // The ceiling: the device's true costs (what a perfect fit would recover).
  std::vector<double> truth;
  const ArchEncoding enc(fbnet_space());
  for (const Arch& a : s.test.archs) {
    double v = s.target.bias;
    for (size_t j : enc.active(a)) v += s.target.coef[j];
    truth.push_back(v);
  }
  const double tau_oracle = kendall_tau(truth, s.test.latency_ms);
  EXPECT_GT(tau_tr, tau_oracle - 0.1) << "true costs " << tau_oracle;
  EXPECT_GT(tau_tr, tau_ridge + 0.3) << "ridge alone " << tau_ridge;
  EXPECT_GT(within_pct(tr->predict(s.test.archs), s.test.latency_ms), 0.95);
  EXPECT_EQ(tr->kind(), "transfer");
}

TEST(TransferPredictor, AnOutlyingSampleIsDownweighted) {
  Scenario s = scenario(20);
  const auto clean = fit_transfer(fbnet_space(), s.sources, s.few.archs, s.few.latency_ms);
  s.few.latency_ms[3] *= 3;  // one measurement taken under load
  TransferOptions gaussian;
  gaussian.student_t_nu = 1e9;
  const auto robust = fit_transfer(fbnet_space(), s.sources, s.few.archs, s.few.latency_ms);
  const auto plain = fit_transfer(fbnet_space(), s.sources, s.few.archs, s.few.latency_ms, gaussian);
  auto tau = [&](const AdditivePredictor& p) { return kendall_tau(p.predict(s.test.archs), s.test.latency_ms); };
  EXPECT_GT(tau(*robust), tau(*plain) + 0.3) << "gaussian noise " << tau(*plain);
  EXPECT_GT(tau(*robust), tau(*clean) - 0.1) << "without the outlier " << tau(*clean);
  EXPECT_LT(robust->info().at("min_sample_weight").get<double>(), 0.01);
}

TEST(TransferPredictor, ErrorsNameTheProblem) {
  const Scenario s = scenario(20);
  const std::vector<Arch> two(s.few.archs.begin(), s.few.archs.begin() + 2);
  EXPECT_TRUE(contains(error_of([&] { fit_transfer(fbnet_space(), s.sources, two, {1.0, 2.0}); }), "at least 3"));
  EXPECT_TRUE(contains(error_of([&] { fit_transfer(fbnet_space(), {}, s.few.archs, s.few.latency_ms); }),
                       "no source device"));
}

TEST(LayerOpFeatures, PartsAddUpToTheLayerAndMatchHandCounts) {
  const SearchSpace& s = fbnet_space();
  const LayerOpFeatures f = layer_op_features(s);
  const ArchEncoding enc(s);
  auto col = [&](const std::string& name) {
    const auto it = std::find(f.names.begin(), f.names.end(), name);
    EXPECT_NE(it, f.names.end()) << name;
    return Eigen::Index(it - f.names.begin());
  };
  // Layer 0: 16 -> 16 channels at 32x32, stride 1; k3_e6 has 96 hidden channels.
  Arch a = min_arch(s);
  a.ops[0] = "k3_e6";
  const size_t e = enc.active(a)[0];
  EXPECT_EQ(f.values(e, col("expand_1x1.macs")), 32.0 * 32 * 16 * 96);
  EXPECT_EQ(f.values(e, col("depthwise_k3.macs")), 32.0 * 32 * 96 * 9);
  EXPECT_EQ(f.values(e, col("project_1x1.macs")), 32.0 * 32 * 96 * 16);
  EXPECT_EQ(f.values(e, col("residual_add.count")), 1.0);
  EXPECT_EQ(f.values(e, col("depthwise_k5.count")), 0.0);
  // Every entry: the parts' multiply-adds and parameters add up to the whole layer's, as the
  // space's cost model counts them for the arch with that op.
  const Eigen::Index macs[] = {col("expand_1x1.macs"), col("depthwise_k3.macs"), col("depthwise_k5.macs"),
                               col("project_1x1.macs"), col("conv_k1.macs")};
  for (size_t d = 0; d < enc.dims(); ++d)
    for (size_t c = 0; c < enc.choices(d); ++c) {
      Arch x = min_arch(s), base = min_arch(s);
      x.ops[d] = s.dims[d].names[c];
      const double want = double(subnet_cost(s, x).macs - subnet_cost(s, base).macs);
      double got = 0, got_base = 0;
      for (Eigen::Index k : macs) got += f.values(enc.offset(d) + c, k), got_base += f.values(enc.active(base)[d], k);
      EXPECT_EQ(got - got_base, want) << "layer " << d << " op " << x.ops[d];
    }
}
