#pragma once
// Analytic features of every (layer, op) entry of an arch encoding, from the space's own layer
// shapes (nas/ arch_layers and layers_cost): an op is split into the parts a runtime executes
// (expand 1x1, channel shuffle, depthwise kxk, project 1x1, residual add, plain conv), and each
// part gives its multiply-adds, input and output bytes, parameters and a count (one kernel
// launch). The transfer predictor uses them as a basis for a new device's per-op costs:
// time ~ sum of parts, each roughly linear in its work and its memory traffic.
#include <Eigen/Dense>

#include <string>
#include <vector>

#include "nas/space.h"

namespace hwnas {

struct LayerOpFeatures {
  Eigen::MatrixXd values;          // [encoding width, features]; all-zero features dropped
  std::vector<std::string> names;  // "depthwise_k5.macs", ...
};

// Needs a space whose only dimensions are ops (each layer's input shape then does not depend on
// the other layers' choices); throws naming the space otherwise.
LayerOpFeatures layer_op_features(const SearchSpace& s);

}  // namespace hwnas
