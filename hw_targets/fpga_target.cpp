#include "hw_targets/fpga_target.h"

#include "hw_targets/fpga_model.h"

namespace hwnas {

using nlohmann::json;

namespace {

class FpgaTarget : public Target {
 public:
  FpgaTarget(const json& config, const std::string& source)
      : config_(config), source_(source), board_(fpga_board(config, source)) {}
  std::string name() const override { return config_.value("name", std::string("fpga")); }
  std::string kind() const override { return "fpga"; }
  CostResult cost(const NetworkSpec& net) override {
    const FpgaDesign d = fpga_design(layer_profile(net), board_, "target " + source_);
    CostResult r;
    r.method = CostMethod::model;
    r.latency_ms = d.latency_ms;
    r.memory_bytes = d.bram * 18432.0 / 8.0;
    if (board_.power_w > 0) r.energy_mj = board_.power_w * d.latency_ms;  // W x ms = mJ
    r.details = d.to_json(board_);
    return r;
  }
  json config() const override {
    json c = config_;
    c.update(fpga_board_to_json(board_));
    return c;
  }

 private:
  json config_;
  std::string source_;
  FpgaBoard board_;
};

}  // namespace

TargetPtr make_fpga_target(const json& config, const std::string& source) {
  return std::make_unique<FpgaTarget>(config, source);
}

}  // namespace hwnas
