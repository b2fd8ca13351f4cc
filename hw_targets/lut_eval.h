#pragma once
// How well a lookup table predicts a measured target: seeded random subnets of a space are
// measured whole and looked up in the table, and the two are compared (predictor_metrics.h).
#include <vector>

#include "hw_targets/lut_target.h"
#include "hw_targets/predictor_metrics.h"
#include "nas/space.h"

namespace hwnas {

struct LutEvalOptions {
  int archs = 100;
  uint64_t seed = 1;  // not the build's default seed 0, so the calibration subnets are not reused
  bool progress = true;
};

struct LutEvalSample {
  Arch arch;
  double measured_ms = 0, table_ms = 0, spread_pct = 0;
};

struct LutEvalResult {
  PredictorMetrics metrics;
  std::vector<LutEvalSample> samples;
};

// `source` names the table in errors (its file).
LutEvalResult evaluate_latency_table(const LatencyTable& table, Target& measured, const SearchSpace& s,
                                     const LutEvalOptions& o = {}, const std::string& source = "");

}  // namespace hwnas
