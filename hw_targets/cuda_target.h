#pragma once
// `cuda`: our engine on an NVIDIA GPU. This build has no CUDA backend yet (cuda/ is the subject
// of its own issue), so making the target fails with a message saying so; a test skips on it.
#include "hw_targets/target.h"

namespace hwnas {

// Whether the cuda target can run here; `why` says what is missing when it cannot.
bool cuda_target_available(std::string* why);
TargetPtr make_cuda_target(const nlohmann::json& config, const std::string& source);

}  // namespace hwnas
