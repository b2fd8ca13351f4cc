#pragma once
// The "onnxruntime" measured target: ONNX Runtime on this machine's CPU. cost() exports the
// network (weights from the configured seed, batch norm folded as a deployment would) to a
// temporary .onnx file and times it through tools/ort_run.js (hw_targets/onnxruntime_runner.h):
//   {"name": "...", "kind": "onnxruntime", "threads": 1, "batch": 1, "warmup": 10, "runs": 30,
//    "rounds": runs, "seed": 0}
// Several models costed together (cost_many: one node process) have their runs interleaved in
// `rounds` rounds (see host_cpu_target.h for why).
// latency_ms is the median of the timed runs, spread_pct (p90 - p10) / median * 100; details
// hold p10_ms, p90_ms, runs, threads, batch, warmup and the ONNX Runtime version.
#include <nlohmann/json.hpp>

#include <string>

#include "hw_targets/onnxruntime_runner.h"
#include "hw_targets/target.h"

namespace hwnas {

// Validates the config (unknown keys and bad values throw naming `source` and the key).
TargetPtr make_onnxruntime_target(const nlohmann::json& config, const std::string& source);

}  // namespace hwnas
