// Lookup tables: the sum of per-layer entries plus the overhead, file round trip, clear errors,
// and a build on a target whose cost is known exactly.
#include <gtest/gtest.h>

#include <filesystem>
#include <fstream>
#include <map>
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

// A fake target whose layers cost more inside a network than alone (as weights that stayed in
// cache when timed alone must stream in a network): a table timed in context reproduces it, one
// timed alone does not.
class ContextTarget : public AdditiveTarget {
 public:
  static double in_context_ms(const LayerWork& w) { return layer_ms(w) + 1e-6 * w.weight_bytes; }
  CostResult cost(const NetworkSpec& net) override {
    if (net.classes == 0) return AdditiveTarget::cost(net);  // a fragment: timed alone
    CostResult r;
    for (const LayerWork& w : layer_profile(net))
      if (w.type != "flatten") r.latency_ms += in_context_ms(w);
    r.latency_ms += 0.25;
    return r;
  }
  bool times_layers_in_context() const override { return true; }
  std::vector<LayerTimings> time_layers_in_context(const std::vector<NetworkSpec>& nets) override {
    std::vector<LayerTimings> r;
    for (const NetworkSpec& n : nets) {
      ++context_calls;
      LayerTimings t;
      t.layer_ms.assign(n.layers.size(), 0.0);
      for (const LayerWork& w : layer_profile(n))
        if (w.type != "flatten") t.layer_ms[w.index] = in_context_ms(w);
      t.whole_ms = cost(n).latency_ms;
      r.push_back(t);
    }
    return r;
  }
  int context_calls = 0;
};

TEST(LutTest, InContextTableReproducesLayersThatCostMoreInsideANetwork) {
  const SearchSpace& s = fbnet_space();
  ContextTarget target;
  LutBuildOptions o;
  o.progress = false;
  o.calibration_archs = 3;
  const LatencyTable t = build_latency_table(target, s, o);
  EXPECT_EQ(t.meta.at("method"), "in-context");
  EXPECT_EQ(t.meta.at("timed_alone"), 0);
  EXPECT_GT(target.context_calls, 0);
  EXPECT_NEAR(t.overhead_ms, 0.25, 1e-9);
  o.method = LutMethod::isolated;
  const LatencyTable alone = build_latency_table(target, s, o);
  EXPECT_EQ(alone.meta.at("method"), "isolated");
  Generator gen(5);
  double worst_alone = 0;
  for (int i = 0; i < 20; ++i) {
    const NetworkSpec net = arch_network(s, sample_arch(s, gen));
    const double truth = target.cost(net).latency_ms;
    EXPECT_NEAR(table_cost(t, net, "t").latency_ms, truth, 1e-9);
    worst_alone = std::max(worst_alone, std::abs(table_cost(alone, net, "t").latency_ms - truth) / truth);
  }
  EXPECT_GT(worst_alone, 0.01);  // the alone table's single overhead cannot absorb the difference
}

TEST(LutTest, CoveringArchsContainEveryLayerTheRequestedNumberOfTimes) {
  const SearchSpace& s = fbnet_space();
  const std::vector<LayerWork> layers = space_layers(s, 50, 0);
  std::vector<std::string> uncovered;
  const std::vector<Arch> archs = covering_archs(s, layers, 2, 0, &uncovered);
  EXPECT_TRUE(uncovered.empty());
  std::map<std::string, int> seen;
  for (const Arch& a : archs)
    for (const LayerWork& w : layer_profile(arch_network(s, a))) ++seen[w.key];
  for (const LayerWork& w : layers) EXPECT_GE(seen[w.key], 2) << w.key;
  EXPECT_LT(archs.size(), layers.size());  // several layers per subnet, not one subnet each
  AdditiveTarget plain;
  LutBuildOptions o;
  o.method = LutMethod::in_context;
  EXPECT_THROW(build_latency_table(plain, s, o), std::exception);
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
