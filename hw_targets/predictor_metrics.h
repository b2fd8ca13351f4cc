#pragma once
// How well predicted latencies match measured ones: relative error (MAPE, the fraction within
// 10%) and rank agreement (Kendall tau-b, Spearman rho), the latter being what a search needs.
#include <nlohmann/json.hpp>

#include <vector>

namespace hwnas {

// Mean of |pred - true| / true, in percent. Throws on empty or mismatched inputs or true <= 0.
double mape(const std::vector<double>& pred, const std::vector<double>& truth);
// Fraction (0..1) of samples with |pred - true| / true <= tol.
double within_pct(const std::vector<double>& pred, const std::vector<double>& truth, double tol = 0.10);
// Kendall tau-b (ties in either variable handled), O(n log n) (Knight's algorithm). 0 when
// either input is constant.
double kendall_tau(const std::vector<double>& a, const std::vector<double>& b);
// Pearson correlation of the ranks (ties get their average rank). 0 when either is constant.
double spearman(const std::vector<double>& a, const std::vector<double>& b);

struct PredictorMetrics {
  double mape = 0, within_10pct = 0, kendall_tau = 0, spearman = 0;
  size_t n = 0;
};
PredictorMetrics predictor_metrics(const std::vector<double>& pred, const std::vector<double>& truth);
nlohmann::json metrics_to_json(const PredictorMetrics& m);

}  // namespace hwnas
