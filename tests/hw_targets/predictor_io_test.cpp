#include <gtest/gtest.h>

#include <fstream>

#include "hw_targets/latency_predictor.h"
#include "hw_targets/predictor_additive.h"
#include "hw_targets/predictor_mlp.h"
#include "hw_targets/predictor_transfer.h"
#include "nas/builtin_spaces.h"
#include "tests/test_util.h"

using namespace hwnas;
using test::contains;
using test::error_of;

namespace {
void data(size_t n, uint64_t seed, std::vector<Arch>& archs, std::vector<double>& y) {
  const ArchEncoding enc(fbnet_space());
  Generator g(seed);
  for (size_t i = 0; i < n; ++i) {
    archs.push_back(sample_arch(fbnet_space(), g));
    double v = 3;
    for (size_t j : enc.active(archs.back())) v += 0.1 + 0.01 * double(j % 9) + 0.001 * g.normal();
    y.push_back(v);
  }
}
void expect_same_predictions(const LatencyPredictor& a, const LatencyPredictor& b) {
  Generator g(77);
  for (int i = 0; i < 20; ++i) {
    const Arch x = sample_arch(fbnet_space(), g);
    EXPECT_EQ(a.predict(x), b.predict(x));
  }
}
}  // namespace

TEST(PredictorIo, SaveLoadRoundTripGivesIdenticalPredictions) {
  test::TempDir dir;
  std::vector<Arch> archs;
  std::vector<double> y;
  data(120, 1, archs, y);
  const auto add = fit_additive(fbnet_space(), archs, y);
  MlpOptions mo;
  mo.hidden = 8;
  mo.steps = 50;
  const auto mlp = MlpPredictor::fit(fbnet_space(), archs, y, mo);
  TransferSource src = make_transfer_source(fbnet_space(), [&] {
    LatencyData d;
    d.device = "src";
    d.archs = archs;
    d.latency_ms = y;
    return d;
  }());
  const std::vector<Arch> few(archs.begin(), archs.begin() + 10);
  const std::vector<double> few_y(y.begin(), y.begin() + 10);
  const auto tr = fit_transfer(fbnet_space(), {src}, few, few_y);
  const nlohmann::json fit = {{"arch_ids", {4, 5, 6}}, {"samples", 3}};
  for (const LatencyPredictor* p : std::vector<const LatencyPredictor*>{add.get(), mlp.get(), tr.get()}) {
    const std::string path = dir / (p->kind() + ".json");
    save_predictor(path, *p, fit);
    const PredictorFile f = load_predictor(path);
    EXPECT_EQ(f.model->kind(), p->kind());
    EXPECT_EQ(f.fit_ids(), (std::vector<int64_t>{4, 5, 6}));
    expect_same_predictions(*p, *f.model);
  }
  EXPECT_EQ(dir.entries(), 3u);  // no temporaries left behind
}

TEST(PredictorIo, BadFilesAreNamed) {
  test::TempDir dir;
  std::ofstream(dir / "bad.json") << "{not json";
  EXPECT_TRUE(contains(error_of([&] { load_predictor(dir / "bad.json"); }), "bad.json: invalid JSON"));
  std::ofstream(dir / "other.json") << R"({"format": "something-else"})";
  EXPECT_TRUE(contains(error_of([&] { load_predictor(dir / "other.json"); }), "not a latency predictor file"));
  std::ofstream(dir / "kind.json") << R"({"format": "hwnas-latency-predictor", "kind": "svm", "space": "fbnet", "model": {}})";
  EXPECT_TRUE(contains(error_of([&] { load_predictor(dir / "kind.json"); }), "unknown predictor kind \"svm\""));
  std::ofstream(dir / "short.json")
      << R"({"format": "hwnas-latency-predictor", "kind": "additive", "space": "fbnet", "model": {"bias_ms": 1, "coef_ms": [1, 2]}})";
  const std::string e = error_of([&] { load_predictor(dir / "short.json"); });
  EXPECT_TRUE(contains(e, "short.json") && contains(e, "2 coefficients") && contains(e, "198")) << e;
  EXPECT_TRUE(contains(error_of([&] { load_predictor(dir / "missing.json"); }), "missing.json"));
}

TEST(PredictorIo, SampleRowsIsASeededSubset) {
  std::vector<size_t> rest;
  const auto a = sample_rows(50, 10, 3, &rest), b = sample_rows(50, 10, 3);
  EXPECT_EQ(a, b);
  EXPECT_EQ(rest.size(), 40u);
  std::vector<int> seen(50, 0);
  for (size_t r : a) ++seen[r];
  for (size_t r : rest) ++seen[r];
  EXPECT_EQ(std::count(seen.begin(), seen.end(), 1), 50);
  EXPECT_NE(sample_rows(50, 10, 4), a);
  EXPECT_TRUE(contains(error_of([] { sample_rows(5, 6, 0); }), "sampling 6"));
}
