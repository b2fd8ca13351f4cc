#pragma once
// `fpga`: the HAO-style FPGA accelerator model of fpga_model.h as a Target. Config keys: dsp
// (2520), bram18k (912), bandwidth_gbs (19.2), clock_mhz (200), bits (16; 8 or 16), pipeline
// ("stream" | "frame"), max_unroll (128), lanes (16), power_w (0: no energy estimate), search
// ("bisection" | "milp": how the stream bottleneck is minimised, fpga_ilp.h).
// cost() designs the accelerator for the network (GLPK integer program) and returns method
// model with latency, on-chip memory (BRAM used), energy when power_w is set, and the design in
// details: resources used vs budget, per-stage parallelism, weight placement and latency.
#include "hw_targets/target.h"

namespace hwnas {

TargetPtr make_fpga_target(const nlohmann::json& config, const std::string& source);

}  // namespace hwnas
