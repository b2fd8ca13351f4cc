#pragma once
// Runs ONNX Runtime through node and our runner script tools/ort_run.js (onnxruntime-node, as
// installed by tools/setup.sh): timing of .onnx files and single inference runs for agreement
// tests. ONNX Runtime has no Debian package, and its node binding is the one prebuilt CPU build
// that installs without downloads beyond npm, so we drive it as a child process.
//
// Where things are found:
//   node     $HWNAS_NODE (a path), else `node` or `nodejs` on PATH
//   script   $HWNAS_ORT_RUNNER, else HWNAS_SOURCE_DIR/tools/ort_run.js
//   modules  NODE_PATH as set, with ${HWNAS_NODE_DIR:-$HOME/.cache/hwnas/node}/node_modules added
#include <map>
#include <string>
#include <vector>

#include "tensor/tensor.h"

namespace hwnas {

struct OrtTimingOptions {
  int threads = 1;          // intraOpNumThreads (interOpNumThreads is 1, execution sequential)
  int64_t batch = 1;        // replaces the models' (symbolic) batch dim
  int warmup = 10;
  int runs = 30;
  int rounds = 1;           // several models: their timed runs interleaved in this many rounds
  double timeout_s = 0;     // for the whole call; 0: no limit
  // When set (an existing folder), ONNX Runtime's profiler runs and its files go here; the
  // timings then carry per-layer medians (nodes named "layerI/...", as io/onnx_export names them).
  std::string profile_dir;
};

struct OrtTiming {
  std::string model;
  double median_ms = 0, p10_ms = 0, p90_ms = 0;
  int runs = 0;
  std::string ort_version;
  // With profile_dir: median per run of the nodes of each layer index, of the nodes of no layer
  // (layout reorders ONNX Runtime inserts), and of the whole run as the profiler saw it.
  std::map<int, double> layers_ms;
  double other_ms = 0, profiled_run_ms = 0;
};

// Times every model in one node process (a node start costs ~0.2 s), in order.
std::vector<OrtTiming> time_onnx_models(const std::vector<std::string>& paths, const OrtTimingOptions& opts);

// Runs `model` once on `input` (float32, any layout; its shape is the model input's) and returns
// the first output, contiguous, with the shape ONNX Runtime reports.
Tensor run_onnx_model(const std::string& model, const Tensor& input);

// Whether node, the runner script and onnxruntime-node are all there; when not, `why` says what
// is missing and how to install it. Cached per (node, script, module path) after the first call.
bool onnxruntime_available(std::string* why = nullptr);

// The pieces, for messages and the tests. Each throws naming what it looked for when missing.
std::string ort_node_executable();
std::string ort_runner_script();
std::string ort_node_dir();     // ${HWNAS_NODE_DIR:-$HOME/.cache/hwnas/node}
std::string ort_node_path();    // the NODE_PATH handed to node

// The result of running a child process to the end.
struct ProcessResult {
  int exit_status = 0;  // the exit code, or 128 + signal number when killed
  std::string out, err;
  bool timed_out = false;
};
// Runs argv[0] (a path) with argv and `env` (full "KEY=VALUE" entries), capturing stdout and
// stderr; kills it after timeout_s seconds when > 0. Throws when it cannot be started.
ProcessResult run_process(const std::vector<std::string>& argv, const std::vector<std::string>& env,
                          double timeout_s = 0);

}  // namespace hwnas
