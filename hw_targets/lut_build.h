#pragma once
// Builds a lookup table (hw_targets/lut_target.h) for a space on a measured target: every
// distinct layer the space's subnets contain is timed alone (as a one-layer fragment), then a
// few whole subnets are measured to set the per-network overhead, the part of a run that no
// single layer carries (median of measured minus summed layers).
#include "hw_targets/layer_profile.h"
#include "hw_targets/lut_target.h"

namespace hwnas {

// The distinct layers (by key) of a space's subnets. A layer's input shape can depend on the
// choices before it, so besides the max and min archs and every single-choice change of them,
// `random_archs` seeded random archs are walked.
std::vector<LayerWork> space_layers(const SearchSpace& s, int random_archs = 200, uint64_t seed = 0);

struct LutBuildOptions {
  int calibration_archs = 5;  // whole subnets measured for the overhead: max, min, then random
  uint64_t seed = 0;
  bool progress = true;
};
LatencyTable build_latency_table(Target& measured, const SearchSpace& s, const LutBuildOptions& o = {});

}  // namespace hwnas
