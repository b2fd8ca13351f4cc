#pragma once
// FLASH's pieces with their own job (the algorithm itself is flash_algorithm() in flash.cpp):
//  - the accuracy predictor: least squares (with a small ridge) of accuracy on training-free
//    features of a subnet (NN-Degree, log parameters, log multiply-adds), with its
//    leave-one-out quality;
//  - the block-additive model: any per-subnet quantity (NN-Degree, parameters, MACs, a target's
//    latency or energy) written as a constant plus one term per block the depth keeps, the term
//    a table over the block's joint choices, fitted by least squares on sampled subnets. It is
//    exact for quantities that are sums over layers when a block's input shape does not depend
//    on other choices (elastic-mobile, fbnet), and it extends to the continuous relaxation of
//    the choice indices (multilinear interpolation inside a block, a depth gate
//    clamp(depth - index_in_stage, 0, 1)), which is what the SHGO-style optimizer searches.
#include <nlohmann/json.hpp>

#include <string>
#include <vector>

#include "nas/space.h"

namespace hwnas {

// Feature names: nn_degree, log_nn_degree, log_params, log_macs.
const std::vector<std::string>& flash_feature_names();
// The named features from the three additive quantities (params and macs floored at 1).
std::vector<double> flash_features(const std::vector<std::string>& names, double nn_degree, double params,
                                   double macs);

struct FlashPredictor {
  std::vector<std::string> features;
  std::vector<double> mean, scale;  // standardisation of each feature
  std::vector<double> coef;         // intercept, then one per standardised feature
  double predict(const std::vector<double>& f) const;
  nlohmann::json to_json() const;  // intercept and slopes in the features' own units
};

struct FlashPredictorFit {
  FlashPredictor model;
  int64_t n = 0;
  double rmse_train = 0, rmse_loo = 0;  // leave-one-out: exact for a linear (ridge) fit
  double r2_train = 0, q2_loo = 0;      // q2 = 1 - PRESS / total sum of squares
  double spearman_loo = 0;              // rank correlation of the leave-one-out predictions
  nlohmann::json to_json() const;
};

// rows[i] holds flash_features(...) of subnet i; ridge >= 0 on the standardised slopes.
// Throws when there are fewer rows than coefficients + 1.
FlashPredictorFit fit_flash_predictor(const std::vector<std::string>& features,
                                      const std::vector<std::vector<double>>& rows, const std::vector<double>& y,
                                      double ridge);

class BlockAdditiveModel {
 public:
  explicit BlockAdditiveModel(const SearchSpace& s);
  size_t parameters() const { return params_; }  // table entries + the constant
  // Fits `q` quantities at once: values[i][k] of quantity k for choices[i] (arch_choices).
  // Returns each quantity's relative RMS residual on the fitting set.
  std::vector<double> fit(const std::vector<std::vector<size_t>>& choices,
                          const std::vector<std::vector<double>>& values);
  // The quantities at a point x of the relaxation (x[i] in [0, size(dims[i]) - 1]); at integer
  // points it is the fitted model of that subnet.
  void eval(const double* x, double* out) const;
  size_t quantities() const { return q_; }

 private:
  struct Block {
    std::vector<size_t> dims;   // indices into s.dims of its choices
    std::vector<size_t> sizes;  // their choice counts
    size_t offset = 0, combos = 1;
    int depth_dim = -1;         // the stage's depth dimension, or -1 (fixed depth)
    std::vector<double> depth_values;
    size_t index_in_stage = 0;
    bool fixed_present = true;  // for a stage with fixed depth
  };
  void basis(const std::vector<size_t>& c, std::vector<double>& row) const;
  std::vector<Block> blocks_;
  size_t params_ = 1, q_ = 0;
  std::vector<double> w_;  // params_ x q_, row-major
};

}  // namespace hwnas
