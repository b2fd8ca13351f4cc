// The "onnxruntime" target and its runner: config validation, the errors when node, the runner
// or onnxruntime-node is missing or a model is broken, and one short measurement. The tests that
// run ONNX Runtime skip with a message when it is not installed (tools/setup.sh installs it).
#include "hw_targets/onnxruntime_target.h"

#include <gtest/gtest.h>
#include <stdlib.h>

#include <fstream>
#include <optional>

#include "io/onnx_export.h"
#include "nas/builtin_networks.h"
#include "tests/hw_targets/hw_test_util.h"
#include "tests/test_util.h"

using namespace hwnas;
using hwnas::test::contains;
using hwnas::test::error_of;
using nlohmann::json;

namespace {

// Sets an environment variable for the scope, restoring the old value after.
class ScopedEnv {
 public:
  ScopedEnv(const char* key, const char* value) : key_(key) {
    if (const char* old = std::getenv(key)) old_ = old;
    if (value)
      ::setenv(key, value, 1);
    else
      ::unsetenv(key);
  }
  ~ScopedEnv() {
    if (old_)
      ::setenv(key_.c_str(), old_->c_str(), 1);
    else
      ::unsetenv(key_.c_str());
  }

 private:
  std::string key_;
  std::optional<std::string> old_;
};

}  // namespace

TEST(OnnxRuntimeTarget, ConfigDefaultsAndValidation) {
  auto t = make_onnxruntime_target(json{{"kind", "onnxruntime"}}, "onnxruntime");
  EXPECT_EQ(t->kind(), "onnxruntime");
  EXPECT_EQ(t->name(), "onnxruntime");
  const json c = t->config();
  EXPECT_EQ(c.at("threads"), 1);
  EXPECT_EQ(c.at("batch"), 1);
  EXPECT_EQ(c.at("warmup"), 10);
  EXPECT_EQ(c.at("runs"), 30);
  EXPECT_EQ(c.at("seed"), 0);
  auto named = make_onnxruntime_target(json{{"kind", "onnxruntime"}, {"name", "laptop-ort"}, {"threads", 4}}, "x.json");
  EXPECT_EQ(named->name(), "laptop-ort");
  EXPECT_EQ(named->config().at("threads"), 4);
  const std::string typo = error_of([] { make_onnxruntime_target(json{{"kind", "onnxruntime"}, {"thread", 2}}, "t.json"); });
  EXPECT_TRUE(contains(typo, "thread")) << typo;
  const std::string zero = error_of([] { make_onnxruntime_target(json{{"kind", "onnxruntime"}, {"runs", 0}}, "t.json"); });
  EXPECT_TRUE(contains(zero, "runs")) << zero;
}

TEST(OnnxRuntimeRunner, MissingPiecesAreReportedWithHowToFixThem) {
  {
    ScopedEnv runner("HWNAS_ORT_RUNNER", "/nonexistent/ort_run.js");
    std::string why;
    EXPECT_FALSE(onnxruntime_available(&why));
    EXPECT_TRUE(contains(why, "/nonexistent/ort_run.js")) << why;
  }
  {
    ScopedEnv node("HWNAS_NODE", "/nonexistent/node");
    std::string why;
    EXPECT_FALSE(onnxruntime_available(&why));
    EXPECT_TRUE(contains(why, "HWNAS_NODE=/nonexistent/node")) << why;
  }
  {
    // No onnxruntime-node anywhere: node (when there is one) runs the script, which says how to
    // install it.
    ScopedEnv dir("HWNAS_NODE_DIR", "/nonexistent/hwnas-node");
    ScopedEnv path("NODE_PATH", nullptr);
    std::string why;
    // (A global install that node finds next to the script would make it available; then
    // there is no missing piece to report.)
    if (!onnxruntime_available(&why)) EXPECT_TRUE(contains(why, "install")) << why;
  }
  EXPECT_TRUE(contains(error_of([] { time_onnx_models({"/nonexistent/m.onnx"}, {}); }), "/nonexistent/m.onnx"));
  EXPECT_TRUE(contains(error_of([] { time_onnx_models({"/nonexistent/m.onnx"}, {.runs = 0}); }), "runs=0"));
}

TEST(OnnxRuntimeRunner, RunProcessCapturesOutputAndStatus) {
  const ProcessResult r = run_process({"/bin/sh", "-c", "echo out; echo err >&2; exit 3"}, {"PATH=/bin:/usr/bin"});
  EXPECT_EQ(r.out, "out\n");
  EXPECT_EQ(r.err, "err\n");
  EXPECT_EQ(r.exit_status, 3);
  const ProcessResult slow = run_process({"/bin/sh", "-c", "exec sleep 5"}, {}, 0.2);
  EXPECT_TRUE(slow.timed_out);
  EXPECT_EQ(slow.exit_status, 128 + 9);
  EXPECT_THROW(run_process({"/nonexistent/binary"}, {}), Error);
}

TEST(OnnxRuntimeRunner, BrokenModelFailsWithTheRunnersMessage) {
  SKIP_WITHOUT_ORT();
  test::TempDir dir("ort_broken");
  const std::string path = dir / "broken.onnx";
  std::ofstream(path) << "not a model";
  const std::string e = error_of([&] { time_onnx_models({path}, {.warmup = 0, .runs = 1}); });
  EXPECT_TRUE(contains(e, "exit status 1")) << e;
  EXPECT_TRUE(contains(e, path)) << e;
}

// The lookup-table path: several models timed by one node process, results in order.
TEST(OnnxRuntimeRunner, TimesSeveralModelsInOneCall) {
  SKIP_WITHOUT_ORT();
  test::TempDir dir("ort_time");
  const std::string a = dir / "min.onnx", b = dir / "tiny.onnx";
  export_network_onnx(resolve_network("elastic-mobile:min"), 0, a);
  export_network_onnx(parse_network_spec(json::parse(R"({"input": [2, 4, 4], "classes": 3, "layers": [
      {"type": "conv_bn_act", "out": 4, "kernel": 1}, {"type": "global_avg_pool"}, {"type": "linear", "out": 3}]})"),
                                         "tiny"),
                      0, b);
  const auto r = time_onnx_models({a, b}, {.batch = 2, .warmup = 1, .runs = 5});
  ASSERT_EQ(r.size(), 2u);
  EXPECT_EQ(r[0].model, a);
  EXPECT_EQ(r[1].model, b);
  for (const auto& t : r) {
    EXPECT_EQ(t.runs, 5);
    EXPECT_GT(t.median_ms, 0);
    EXPECT_LE(t.p10_ms, t.median_ms);
    EXPECT_LE(t.median_ms, t.p90_ms);
    EXPECT_FALSE(t.ort_version.empty());
  }
}

TEST(OnnxRuntimeTarget, CostIsAMeasurementOfTheExportedNetwork) {
  SKIP_WITHOUT_ORT();
  auto t = make_onnxruntime_target(json{{"kind", "onnxruntime"}, {"warmup", 1}, {"runs", 5}}, "test");
  const CostResult c = t->cost(resolve_network("elastic-mobile:min"));
  EXPECT_EQ(c.method, CostMethod::measured);
  EXPECT_GT(c.latency_ms, 0);
  ASSERT_TRUE(c.spread_pct.has_value());
  EXPECT_GE(*c.spread_pct, 0);
  EXPECT_EQ(c.details.at("runs"), 5);
  EXPECT_EQ(c.details.at("median_ms").get<double>(), c.latency_ms);
  EXPECT_NEAR(*c.spread_pct,
              (c.details.at("p90_ms").get<double>() - c.details.at("p10_ms").get<double>()) / c.latency_ms * 100, 1e-9);
}
