// The target registry and configs: kinds by name, files, typos and bad values named.
#include <gtest/gtest.h>

#include <filesystem>
#include <fstream>

#include "hw_targets/cuda_target.h"
#include "hw_targets/target.h"
#include "tests/test_util.h"

namespace hwnas {
namespace {

using nlohmann::json;

NetworkSpec tiny_net() {
  NetworkSpec net;
  net.name = "tiny";
  net.input = {3, 8, 8};
  net.classes = 4;
  net.layers = json::array({json{{"type", "conv_bn_act"}, {"out", 8}, {"kernel", 3}, {"stride", 1}},
                            json{{"type", "global_avg_pool"}}, json{{"type", "linear"}, {"out", 4}}});
  return net;
}

std::string error_of(const std::function<void()>& f) {
  try {
    f();
  } catch (const std::exception& e) {
    return e.what();
  }
  return "";
}

TEST(TargetTest, BuiltinKindsAreRegistered) {
  const auto kinds = target_kinds();
  for (const char* k : {"host-cpu", "lut", "cuda"})
    EXPECT_NE(std::find(kinds.begin(), kinds.end(), k), kinds.end()) << k;
}

TEST(TargetTest, HostCpuMeasuresWithItsConfiguredRuns) {
  TargetPtr t = make_target("host-cpu", json{{"runs", 5}, {"warmup", 1}});
  EXPECT_EQ(t->kind(), "host-cpu");
  const CostResult r = t->cost(tiny_net());
  EXPECT_GT(r.latency_ms, 0);
  EXPECT_EQ(r.method, CostMethod::measured);
  ASSERT_TRUE(r.spread_pct.has_value());
  EXPECT_GE(*r.spread_pct, 0);
  EXPECT_EQ(r.details.at("runs"), 5);
  EXPECT_EQ(t->config().at("threads"), 1);  // the default
  const json j = cost_to_json(r);
  EXPECT_EQ(j.at("method"), "measured");
}

TEST(TargetTest, ErrorsNameTheTargetKeyAndValue) {
  EXPECT_TRUE(test::contains(error_of([] { make_target("nonexistent-device"); }), "not a built-in kind"));
  EXPECT_TRUE(test::contains(error_of([] { make_target("host-cpu", json{{"thread", 2}}); }), "unknown key \"thread\""));
  const std::string bad_runs = error_of([] { make_target("host-cpu", json{{"runs", 0}}); });
  EXPECT_TRUE(test::contains(bad_runs, "\"runs\" must be an integer >= 1, got 0")) << bad_runs;
  EXPECT_TRUE(test::contains(error_of([] { make_target_from_config(json{{"kind", "tpu"}}, "f.json"); }),
                             "unknown kind \"tpu\""));
  EXPECT_TRUE(test::contains(error_of([] { make_target_from_config(json{{"name", "x"}}, "f.json"); }), "\"kind\""));
}

TEST(TargetTest, ConfigFileNamesTheTarget) {
  const auto dir = std::filesystem::temp_directory_path() / "hwnas_target_test";
  std::filesystem::create_directories(dir);
  {
    std::ofstream f(dir / "laptop.json");
    f << R"({"kind": "host-cpu", "name": "my-laptop", "runs": 3, "warmup": 0})";
  }
  {
    std::ofstream f(dir / "broken.json");
    f << "{\"kind\": ";
  }
  TargetPtr t = make_target((dir / "laptop.json").string());
  EXPECT_EQ(t->name(), "my-laptop");
  EXPECT_EQ(t->config().at("runs"), 3);
  EXPECT_TRUE(test::contains(error_of([&] { make_target((dir / "broken.json").string()); }), "not valid JSON"));
  std::filesystem::remove_all(dir);
}

// A network measured against itself as the reference has paired ratios near 1, so its latency
// comes out near reference_ms whatever the machine's speed; the raw median stays in the details.
TEST(TargetTest, HostCpuReferenceScalesLatencyToTheReferenceMs) {
  const auto dir = std::filesystem::temp_directory_path() / "hwnas_target_reference_test";
  std::filesystem::create_directories(dir);
  const std::string ref = (dir / "tiny.json").string();
  {
    std::ofstream f(ref);
    f << network_spec_to_json(tiny_net()).dump();
  }
  TargetPtr t = make_target("host-cpu", json{{"runs", 9}, {"warmup", 1}, {"reference", ref}, {"reference_ms", 100.0}});
  const CostResult r = t->cost(tiny_net());
  EXPECT_GT(r.latency_ms, 25.0);  // near 100 (a ratio near 1), never the raw ~0.01 ms
  EXPECT_LT(r.latency_ms, 400.0);
  EXPECT_LT(r.details.at("raw_median_ms").get<double>(), 25.0);
  EXPECT_EQ(r.details.at("reference"), ref);
  EXPECT_EQ(t->config().at("reference_ms"), 100.0);
  EXPECT_EQ(t->config().at("rounds"), 9);  // one run of each per round
  const LayerTimings layers = t->time_layers_in_context({tiny_net()}).at(0);
  EXPECT_GT(layers.whole_ms, 25.0);  // scaled like cost()
  EXPECT_LT(layers.whole_ms, 400.0);

  const std::string no_ms = error_of([&] { make_target("host-cpu", json{{"reference", ref}}); });
  EXPECT_TRUE(test::contains(no_ms, "needs \"reference_ms\" > 0")) << no_ms;
  EXPECT_TRUE(test::contains(error_of([] { make_target("host-cpu", json{{"reference_ms", 1.0}}); }),
                             "needs a \"reference\" network"));
  const std::string rounds = error_of([&] {
    make_target("host-cpu", json{{"reference", ref}, {"reference_ms", 1.0}, {"runs", 10}, {"rounds", 2}});
  });
  EXPECT_TRUE(test::contains(rounds, "\"rounds\" cannot differ")) << rounds;
  const std::string bad_ref =
      error_of([] { make_target("host-cpu", json{{"reference", "no-such-net"}, {"reference_ms", 1.0}}); });
  EXPECT_TRUE(test::contains(bad_ref, "\"reference\": network \"no-such-net\"")) << bad_ref;
  std::filesystem::remove_all(dir);
}

TEST(TargetTest, CudaTargetSaysWhyItCannotRun) {
  std::string why;
  if (cuda_target_available(&why)) GTEST_SKIP() << "a GPU is available; this checks the message without one";
  EXPECT_FALSE(why.empty());
  const std::string e = error_of([] { make_target("cuda"); });
  EXPECT_TRUE(test::contains(e, "cannot measure on a GPU")) << e;
}

// The cuda target's keys and values are checked before it looks for a GPU, so a bad config
// fails with the same message on every machine.
TEST(TargetTest, CudaTargetChecksItsConfigFirst) {
  const std::string bad = error_of([] { make_target("cuda", {{"autocast", "fp8"}}); });
  EXPECT_TRUE(test::contains(bad, "autocast")) << bad;
  EXPECT_TRUE(test::contains(bad, "fp8")) << bad;
  const std::string typo = error_of([] { make_target("cuda", {{"batchsize", 4}}); });
  EXPECT_TRUE(test::contains(typo, "batchsize")) << typo;
}

}  // namespace
}  // namespace hwnas
