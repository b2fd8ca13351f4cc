#include "hw_targets/onnxruntime_target.h"

#include <stdlib.h>

#include <cerrno>
#include <cstring>
#include <filesystem>

#include <fmt/format.h>

#include "io/onnx_export.h"

namespace hwnas {

namespace fs = std::filesystem;
using nlohmann::json;

namespace {

class OnnxRuntimeTarget : public Target {
 public:
  OnnxRuntimeTarget(const json& config, const std::string& source) {
    TargetConfigReader r{config, source};
    r.only({"name", "kind", "threads", "batch", "warmup", "runs", "seed"});
    name_ = r.string("name", "onnxruntime");
    opts_.threads = static_cast<int>(r.integer("threads", 1, 1));
    opts_.batch = r.integer("batch", 1, 1);
    opts_.warmup = static_cast<int>(r.integer("warmup", 10, 0));
    opts_.runs = static_cast<int>(r.integer("runs", 30, 1));
    seed_ = static_cast<uint64_t>(r.integer("seed", 0, 0));
  }

  std::string name() const override { return name_; }
  std::string kind() const override { return "onnxruntime"; }

  json config() const override {
    return {{"name", name_},          {"kind", "onnxruntime"}, {"threads", opts_.threads}, {"batch", opts_.batch},
            {"warmup", opts_.warmup}, {"runs", opts_.runs},    {"seed", seed_}};
  }

  CostResult cost(const NetworkSpec& spec) override { return cost_many({spec}).at(0); }

  // One node process for all of them: starting node and loading onnxruntime costs ~0.2 s, more
  // than timing a small fragment, and a LUT build times hundreds of fragments.
  std::vector<CostResult> cost_many(const std::vector<NetworkSpec>& specs) override {
    std::string t = (fs::temp_directory_path() / "hwnas_ortcost_XXXXXX").string();
    if (!mkdtemp(t.data())) fail("{}: cannot create a temporary directory {}: {}", name_, t, std::strerror(errno));
    struct Cleanup {
      fs::path p;
      ~Cleanup() {
        std::error_code ec;
        fs::remove_all(p, ec);
      }
    } cleanup{t};
    std::vector<std::string> models;
    OnnxExportOptions eo;
    eo.fold_bn = true;  // what a deployment would run
    for (size_t i = 0; i < specs.size(); ++i) {
      models.push_back((fs::path(t) / fmt::format("model{}.onnx", i)).string());
      export_network_onnx(specs[i], seed_, models.back(), eo);
    }
    const std::vector<OrtTiming> timings = time_onnx_models(models, opts_);
    std::vector<CostResult> out;
    for (const OrtTiming& r : timings) {
      CostResult c;
      c.method = CostMethod::measured;
      c.latency_ms = r.median_ms;
      c.spread_pct = r.median_ms > 0 ? (r.p90_ms - r.p10_ms) / r.median_ms * 100.0 : 0.0;
      c.details = {{"median_ms", r.median_ms}, {"p10_ms", r.p10_ms},       {"p90_ms", r.p90_ms},
                   {"runs", r.runs},           {"threads", opts_.threads}, {"batch", opts_.batch},
                   {"warmup", opts_.warmup},   {"onnxruntime_version", r.ort_version}};
      out.push_back(std::move(c));
    }
    return out;
  }

 private:
  std::string name_;
  OrtTimingOptions opts_;
  uint64_t seed_ = 0;
};

}  // namespace

TargetPtr make_onnxruntime_target(const json& config, const std::string& source) {
  return std::make_unique<OnnxRuntimeTarget>(config, source);
}

}  // namespace hwnas
