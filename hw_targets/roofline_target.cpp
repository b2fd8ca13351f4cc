#include "hw_targets/roofline_target.h"

#include "hw_targets/roofline_model.h"

namespace hwnas {

using nlohmann::json;

namespace {

class RooflineTarget : public Target {
 public:
  RooflineTarget(const json& config, const std::string& source)
      : config_(config), device_(roofline_device(config, source)) {}
  std::string name() const override { return config_.value("name", std::string("roofline")); }
  std::string kind() const override { return "roofline"; }
  CostResult cost(const NetworkSpec& net) override {
    const RooflineEstimate e = roofline_estimate(layer_profile(net), device_);
    CostResult r;
    r.method = CostMethod::model;
    r.latency_ms = e.latency_ms;
    r.energy_mj = e.energy_mj;
    r.area_mm2 = e.area_mm2;
    r.memory_bytes = e.onchip_bytes;
    r.details = e.to_json();
    return r;
  }
  json config() const override {
    json c = config_;
    c.update(roofline_device_to_json(device_));
    return c;
  }

 private:
  json config_;
  RooflineDevice device_;
};

}  // namespace

TargetPtr make_roofline_target(const json& config, const std::string& source) {
  return std::make_unique<RooflineTarget>(config, source);
}

}  // namespace hwnas
