#pragma once
// Builds a lookup table (hw_targets/lut_target.h) for a space on a measured target. Two ways to
// time the distinct layers a space's subnets contain:
//   in-context (default where the target can: host-cpu, onnxruntime): whole subnets chosen so
//     that every layer occurs in several of them are run with each layer timed where it runs;
//     an entry is the median over its occurrences. Measured on fbnet (docs/hw-targets.md), a
//     layer timed alone runs with its weights in cache and sums to 0.7x of the whole net on
//     host-cpu, while each ONNX Runtime call adds a fixed cost a layer inside a net does not pay;
//     neither adds up to a whole subnet within 10%.
//   isolated: each layer timed alone as a one-layer fragment (any measured target).
// The per-network overhead, the part of a run no layer carries, is the median of whole run minus
// summed entries: in-context over the covering subnets' own runs; isolated over a few whole
// subnets measured after the layers.
#include "hw_targets/layer_profile.h"
#include "hw_targets/lut_target.h"

namespace hwnas {

// The distinct layers (by key) of a space's subnets. A layer's input shape can depend on the
// choices before it, so besides the max and min archs and every single-choice change of them,
// `random_archs` seeded random archs are walked.
std::vector<LayerWork> space_layers(const SearchSpace& s, int random_archs = 200, uint64_t seed = 0);

enum class LutMethod { automatic, in_context, isolated };  // automatic: in-context where the target can
LutMethod parse_lut_method(const std::string& name);  // "auto", "in-context", "isolated"; throws naming it
const char* lut_method_name(LutMethod m);

struct LutBuildOptions {
  LutMethod method = LutMethod::automatic;
  int occurrences = 3;        // in-context: each layer timed in at least this many subnets
  int calibration_archs = 5;  // isolated: whole subnets measured for the overhead (max, min, random)
  uint64_t seed = 0;
  bool progress = true;
};

// In-context: subnets that together contain every layer of `layers` at least `occurrences`
// times, picked greedily from seeded random candidates (each pick covers the most layers still
// short); `uncovered` gets the keys no candidate contains.
std::vector<Arch> covering_archs(const SearchSpace& s, const std::vector<LayerWork>& layers, int occurrences,
                                 uint64_t seed, std::vector<std::string>* uncovered = nullptr);
LatencyTable build_latency_table(Target& measured, const SearchSpace& s, const LutBuildOptions& o = {});

}  // namespace hwnas
