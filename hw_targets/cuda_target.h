#pragma once
// `cuda`: our engine on an NVIDIA GPU, measured. The network is built with random weights, moved
// to the GPU and run in eval mode without autograd, batch norm folded into the convs (bias and
// activation in the conv kernels' epilogue); each timed run is one forward of a batch,
// from launch to the device being idle (host clock around a stream synchronisation), and the
// latency is the median. Config: device (0), batch (1), warmup (10), runs (30), seed (0),
// autocast ("off"; "bf16" measures with bf16 autocast, ops/autocast.h).
#include "hw_targets/target.h"

namespace hwnas {

// Whether the cuda target can run here; `why` says what is missing when it cannot.
bool cuda_target_available(std::string* why);
TargetPtr make_cuda_target(const nlohmann::json& config, const std::string& source);

}  // namespace hwnas
