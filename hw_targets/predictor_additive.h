#pragma once
// The additive latency model: latency = bias + sum over dimensions of the cost of the chosen
// (layer, op). Fit by ridge regression with the intercept unpenalized and lambda chosen by
// generalized cross-validation on the fit samples only (no test data).
#include <Eigen/Dense>

#include <vector>

#include "hw_targets/latency_predictor.h"

namespace hwnas {

// One-hot design matrix [n, width] of archs.
Eigen::MatrixXd design_matrix(const ArchEncoding& enc, const std::vector<Arch>& archs);

struct RidgeFit {
  double bias = 0;
  Eigen::VectorXd coef;  // one per encoding entry
  double lambda = 0, gcv = 0, dof = 0;
};
// Ridge on X [n, p] (intercept free) with lambda the GCV minimizer over `lambdas` (empty: a log
// grid 1e-6..1e4). GCV = (RSS / n) / (1 - (dof + 1) / n)^2, dof = trace of the hat matrix.
RidgeFit fit_ridge_gcv(const Eigen::MatrixXd& x, const Eigen::VectorXd& y, std::vector<double> lambdas = {});

class AdditivePredictor : public LatencyPredictor {
 public:
  // `kind` lets the transfer predictor (an additive model with a learned prior) share this;
  // `info` is kept in the model JSON (fit diagnostics).
  AdditivePredictor(const SearchSpace& s, double bias, std::vector<double> coef, std::string kind = "additive",
                    nlohmann::json info = nlohmann::json::object());
  std::string kind() const override { return kind_; }
  using LatencyPredictor::predict;
  double predict(const Arch& a) const override;
  Variable predict_soft(const Variable& probs) const override;
  nlohmann::json model_json() const override;
  double bias() const { return bias_; }
  const std::vector<double>& coef() const { return coef_; }
  const nlohmann::json& info() const { return info_; }

  static std::unique_ptr<AdditivePredictor> from_json(const SearchSpace& s, const nlohmann::json& model,
                                                      const std::string& kind, const std::string& source);

 private:
  double bias_;
  std::vector<double> coef_;
  std::string kind_;
  nlohmann::json info_;
};

// Ridge/GCV fit of the additive model on samples.
std::unique_ptr<AdditivePredictor> fit_additive(const SearchSpace& s, const std::vector<Arch>& archs,
                                                const std::vector<double>& latency_ms);

}  // namespace hwnas
