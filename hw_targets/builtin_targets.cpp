#include "hw_targets/builtin_targets.h"

#include "hw_targets/cuda_target.h"
#include "hw_targets/fpga_target.h"
#include "hw_targets/host_cpu_target.h"
#include "hw_targets/lut_target.h"
#include "hw_targets/onnxruntime_target.h"
#include "hw_targets/roofline_target.h"

namespace hwnas {

void register_builtin_targets() {
  register_target_kind("host-cpu", [](const nlohmann::json& c) { return make_host_cpu_target(c, c.value("source", "host-cpu")); });
  register_target_kind("cuda", [](const nlohmann::json& c) { return make_cuda_target(c, c.value("source", "cuda")); });
  register_target_kind("lut", [](const nlohmann::json& c) { return make_lut_target(c, c.value("source", "lut")); });
  register_target_kind("onnxruntime", [](const nlohmann::json& c) { return make_onnxruntime_target(c, c.value("source", "onnxruntime")); });
  register_target_kind("roofline", [](const nlohmann::json& c) { return make_roofline_target(c, c.value("source", "roofline")); });
  register_target_kind("fpga", [](const nlohmann::json& c) { return make_fpga_target(c, c.value("source", "fpga")); });
}

}  // namespace hwnas
