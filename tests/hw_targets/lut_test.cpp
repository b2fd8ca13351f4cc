// Lookup tables: the sum of per-layer entries plus the overhead, file round trip, clear errors,
// and a build on a target whose cost is known exactly.
#include <gtest/gtest.h>

#include <filesystem>
#include <fstream>
#include <set>

#include "hw_targets/lut_build.h"
#include "hw_targets/lut_eval.h"
#include "hw_targets/target.h"
#include "nas/builtin_spaces.h"
#include "tests/test_util.h"

namespace hwnas {
namespace {

using nlohmann::json;

// A fake measured target: each layer costs a known function of its work, and a whole network
// (one with classes) costs its layers plus a fixed 0.25 ms run overhead. A table built on it
// must reproduce it exactly.
class AdditiveTarget : public Target {
 public:
  static double layer_ms(const LayerWork& w) { return 1e-6 * double(w.macs) + 1e-7 * w.output_bytes + 0.01; }
  std::string name() const override { return "additive"; }
  std::string kind() const override { return "test"; }
  CostResult cost(const NetworkSpec& net) override {
    ++calls;
    CostResult r;
    for (const LayerWork& w : layer_profile(net))
      if (w.type != "flatten") r.latency_ms += layer_ms(w);
    if (net.classes > 0) r.latency_ms += 0.25;
    return r;
  }
  json config() const override { return json{{"kind", "test"}}; }
  int calls = 0;
};

TEST(LutTest, BuiltTableReproducesAnAdditiveTargetAndItsOverhead) {
  const SearchSpace& s = elastic_mobile_space();
  AdditiveTarget target;
  LutBuildOptions o;
  o.progress = false;
  o.calibration_archs = 3;
  const LatencyTable t = build_latency_table(target, s, o);
  EXPECT_NEAR(t.overhead_ms, 0.25, 1e-9);
  Generator gen(3);
  for (int i = 0; i < 20; ++i) {
    const NetworkSpec net = arch_network(s, sample_arch(s, gen));
    EXPECT_NEAR(table_cost(t, net, "t").latency_ms, target.cost(net).latency_ms, 1e-9);
  }
}

TEST(LutTest, EvaluationComparesTableAndMeasurementPerSubnet) {
  const SearchSpace& s = elastic_mobile_space();
  AdditiveTarget target;
  LutBuildOptions bo;
  bo.progress = false;
  bo.calibration_archs = 2;
  LatencyTable t = build_latency_table(target, s, bo);
  LutEvalOptions eo;
  eo.progress = false;
  eo.archs = 12;
  const LutEvalResult exact = evaluate_latency_table(t, target, s, eo);
  ASSERT_EQ(exact.samples.size(), 12u);
  EXPECT_NEAR(exact.metrics.mape, 0.0, 1e-6);
  EXPECT_DOUBLE_EQ(exact.metrics.within_10pct, 1.0);
  EXPECT_NEAR(exact.metrics.kendall_tau, 1.0, 1e-12);
  for (const LutEvalSample& smp : exact.samples) EXPECT_NEAR(smp.table_ms, smp.measured_ms, 1e-9);
  // A table that doubles every layer is off by far more than 10% on every subnet.
  for (auto& [key, ms] : t.entries) ms *= 2;
  const LutEvalResult off = evaluate_latency_table(t, target, s, eo);
  EXPECT_DOUBLE_EQ(off.metrics.within_10pct, 0.0);
  EXPECT_GT(off.metrics.mape, 50.0);
  eo.archs = 1;
  EXPECT_THROW(evaluate_latency_table(t, target, s, eo), std::exception);
}

TEST(LutTest, SpaceLayersCoverEveryLayerOfRandomSubnets) {
  const SearchSpace& s = fbnet_space();
  const std::vector<LayerWork> layers = space_layers(s, 0, 0);  // only max/min and single changes
  std::set<std::string> keys;
  for (const LayerWork& w : layers) keys.insert(w.key);
  EXPECT_EQ(keys.size(), layers.size());
  Generator gen(11);
  for (int i = 0; i < 50; ++i)
    for (const LayerWork& w : layer_profile(arch_network(s, sample_arch(s, gen))))
      EXPECT_TRUE(keys.count(w.key)) << w.key;
}

TEST(LutTest, CostIsTheSumOfEntriesPlusOverheadAndNamesAMissingKey) {
  NetworkSpec net;
  net.name = "tiny";
  net.input = {3, 8, 8};
  net.classes = 4;
  net.layers = json::array({json{{"type", "conv_bn_act"}, {"out", 8}, {"kernel", 3}, {"stride", 2}, {"act", "relu"}},
                            json{{"type", "global_avg_pool"}}, json{{"type", "dropout"}, {"p", 0.1}},
                            json{{"type", "linear"}, {"out", 4}}});
  const auto prof = layer_profile(net);
  ASSERT_EQ(prof.size(), 4u);
  EXPECT_EQ(prof[0].key, "conv_bn_act in=3x8x8 act=relu kernel=3 out=8 stride=2");
  EXPECT_EQ(prof[3].key, "linear in=8x1x1 out=4");
  json j{{"kind", "lut"}, {"overhead_ms", 0.5},
         {"entries", {{prof[0].key, 1.0}, {prof[1].key, 0.25}, {prof[3].key, 0.125}}}};
  TargetPtr t = make_target_from_config(j, "inline");
  const CostResult r = t->cost(net);
  EXPECT_DOUBLE_EQ(r.latency_ms, 0.5 + 1.0 + 0.25 + 0.125);  // dropout costs nothing
  EXPECT_EQ(r.method, CostMethod::table);
  j["entries"].erase(prof[1].key);
  TargetPtr partial = make_target_from_config(j, "inline");
  try {
    partial->cost(net);
    FAIL() << "expected an error";
  } catch (const std::exception& e) {
    EXPECT_TRUE(test::contains(e.what(), "global_avg_pool in=8x4x4")) << e.what();
    EXPECT_TRUE(test::contains(e.what(), "layer 1")) << e.what();
  }
}

TEST(LutTest, FileRoundTripAndBadFiles) {
  LatencyTable t;
  t.name = "x";
  t.overhead_ms = 0.1;
  t.entries = {{"identity in=1x1x1", 0.0}, {"conv in=1x2x2 kernel=1 out=1", 0.03125}};
  const auto dir = std::filesystem::temp_directory_path() / "hwnas_lut_test";
  std::filesystem::create_directories(dir);
  const std::string path = (dir / "t.json").string();
  save_latency_table(t, path);
  const LatencyTable back = load_latency_table(path);
  EXPECT_EQ(back.entries, t.entries);
  EXPECT_DOUBLE_EQ(back.overhead_ms, t.overhead_ms);
  // A config file naming the table by a relative path.
  {
    std::ofstream f(dir / "target.json");
    f << R"({"kind": "lut", "name": "mine", "table": "t.json"})";
  }
  EXPECT_EQ(make_target((dir / "target.json").string())->name(), "mine");
  EXPECT_THROW(latency_table_from_json(json{{"entries", {{"k", -1}}}}, "f"), Error);
  EXPECT_THROW(latency_table_from_json(json{{"entries", json::object()}}, "f"), Error);
  EXPECT_THROW(load_latency_table((dir / "missing.json").string()), Error);
  std::filesystem::remove_all(dir);
}

}  // namespace
}  // namespace hwnas
