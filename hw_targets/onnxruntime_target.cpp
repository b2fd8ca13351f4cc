#include "hw_targets/onnxruntime_target.h"

#include <stdlib.h>

#include <cerrno>
#include <cstring>
#include <filesystem>

#include <fmt/format.h>

#include "io/onnx_export.h"
#include "io/temp_dir.h"

namespace hwnas {

namespace fs = std::filesystem;
using nlohmann::json;

namespace {

class OnnxRuntimeTarget : public Target {
 public:
  OnnxRuntimeTarget(const json& config, const std::string& source) {
    TargetConfigReader r{config, source};
    r.only({"name", "kind", "threads", "batch", "warmup", "runs", "rounds", "seed"});
    name_ = r.string("name", "onnxruntime");
    opts_.threads = static_cast<int>(r.integer("threads", 1, 1));
    opts_.batch = r.integer("batch", 1, 1);
    opts_.warmup = static_cast<int>(r.integer("warmup", 10, 0));
    opts_.runs = static_cast<int>(r.integer("runs", 30, 1));
    opts_.rounds = static_cast<int>(r.integer("rounds", opts_.runs, 1));
    seed_ = static_cast<uint64_t>(r.integer("seed", 0, 0));
  }

  std::string name() const override { return name_; }
  std::string kind() const override { return "onnxruntime"; }

  json config() const override {
    return {{"name", name_},          {"kind", "onnxruntime"}, {"threads", opts_.threads}, {"batch", opts_.batch},
            {"warmup", opts_.warmup}, {"runs", opts_.runs}, {"rounds", opts_.rounds},    {"seed", seed_}};
  }

  CostResult cost(const NetworkSpec& spec) override { return cost_many({spec}).at(0); }

  std::vector<std::string> export_all(const std::vector<NetworkSpec>& specs, const std::string& dir) const {
    std::vector<std::string> models;
    OnnxExportOptions eo;
    eo.fold_bn = true;  // what a deployment would run
    for (size_t i = 0; i < specs.size(); ++i) {
      models.push_back((fs::path(dir) / fmt::format("model{}.onnx", i)).string());
      export_network_onnx(specs[i], seed_, models.back(), eo);
    }
    return models;
  }

  // One node process for all of them: starting node and loading onnxruntime costs ~0.2 s, more
  // than timing a small fragment, and a LUT build times hundreds of fragments.
  std::vector<CostResult> cost_many(const std::vector<NetworkSpec>& specs) override {
    const TempDir dir("hwnas_ortcost");
    const std::vector<OrtTiming> timings = time_onnx_models(export_all(specs, dir.path().string()), opts_);
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

  // From ONNX Runtime's profiler: the exporter names every node "layerI/...", so the node times
  // of a run add up per layer.
  bool times_layers_in_context() const override { return true; }
  std::vector<LayerTimings> time_layers_in_context(const std::vector<NetworkSpec>& specs) override {
    const TempDir dir("hwnas_ortcost");
    OrtTimingOptions o = opts_;
    o.profile_dir = (dir.path() / "profiles").string();
    fs::create_directory(o.profile_dir);
    const std::vector<OrtTiming> timings = time_onnx_models(export_all(specs, dir.path().string()), o);
    std::vector<LayerTimings> out;
    for (size_t i = 0; i < specs.size(); ++i) {
      LayerTimings lt;
      lt.layer_ms.assign(specs[i].layers.size(), 0.0);
      for (const auto& [layer, ms] : timings[i].layers_ms) {
        if (layer < 0 || size_t(layer) >= lt.layer_ms.size())
          fail("{}: the profile of {} names layer {}, but it has {} layers", name_, specs[i].name, layer, lt.layer_ms.size());
        lt.layer_ms[size_t(layer)] = ms;
      }
      // The profiler slows nodes down; the whole run comes from a twin session without it
      // (tools/ort_run.js), so the overhead matches what cost() reports.
      lt.whole_ms = timings[i].median_ms;
      out.push_back(std::move(lt));
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
