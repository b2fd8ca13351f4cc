#pragma once
// `roofline`: the FLASH-style analytical model of roofline_model.h as a Target. Config keys are
// RooflineDevice's fields (peak_gflops, bandwidth_gbs, layer_overhead_us, net_overhead_us,
// batch, bits, energy and area coefficients); the defaults describe this machine's CPU.
// cost() returns method model with latency, energy, on-chip memory and area, and per-layer
// flops / bytes / bound / ms in details.
#include "hw_targets/target.h"

namespace hwnas {

TargetPtr make_roofline_target(const nlohmann::json& config, const std::string& source);

}  // namespace hwnas
