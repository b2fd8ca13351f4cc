// FLASH's accuracy predictor and the block-additive model of subnet quantities (flash.h).
#include <Eigen/Dense>

#include <algorithm>
#include <cmath>
#include <numeric>

#include "nas/search/flash.h"
#include "tensor/error.h"

namespace hwnas {

using nlohmann::json;

const std::vector<std::string>& flash_feature_names() {
  static const std::vector<std::string> n = {"nn_degree", "log_nn_degree", "log_params", "log_macs"};
  return n;
}

std::vector<double> flash_features(const std::vector<std::string>& names, double nn_degree, double params,
                                   double macs) {
  std::vector<double> f;
  f.reserve(names.size());
  for (const std::string& n : names) {
    if (n == "nn_degree") f.push_back(nn_degree);
    else if (n == "log_nn_degree") f.push_back(std::log(std::max(nn_degree, 1e-9)));
    else if (n == "log_params") f.push_back(std::log(std::max(params, 1.0)));
    else if (n == "log_macs") f.push_back(std::log(std::max(macs, 1.0)));
    else fail("flash: unknown feature \"{}\" (known: nn_degree, log_nn_degree, log_params, log_macs)", n);
  }
  return f;
}

double FlashPredictor::predict(const std::vector<double>& f) const {
  double y = coef.at(0);
  for (size_t j = 0; j < f.size(); ++j) y += coef[j + 1] * (f[j] - mean[j]) / scale[j];
  return y;
}

json FlashPredictor::to_json() const {
  json slopes = json::object();
  double intercept = coef.at(0);
  for (size_t j = 0; j < features.size(); ++j) {
    slopes[features[j]] = coef[j + 1] / scale[j];
    intercept -= coef[j + 1] * mean[j] / scale[j];
  }
  return {{"intercept", intercept}, {"slopes", slopes}};
}

json FlashPredictorFit::to_json() const {
  return {{"model", model.to_json()}, {"features", model.features}, {"n", n},
          {"rmse_train", rmse_train}, {"rmse_loo", rmse_loo}, {"r2_train", r2_train},
          {"q2_loo", q2_loo}, {"spearman_loo", spearman_loo}};
}

namespace {

std::vector<double> ranks(const std::vector<double>& v) {
  std::vector<size_t> o(v.size());
  std::iota(o.begin(), o.end(), 0);
  std::sort(o.begin(), o.end(), [&](size_t a, size_t b) { return v[a] < v[b]; });
  std::vector<double> r(v.size());
  for (size_t i = 0; i < o.size();) {
    size_t j = i;
    while (j + 1 < o.size() && v[o[j + 1]] == v[o[i]]) ++j;
    for (size_t k = i; k <= j; ++k) r[o[k]] = 0.5 * static_cast<double>(i + j);  // ties: mean rank
    i = j + 1;
  }
  return r;
}

double pearson(const std::vector<double>& a, const std::vector<double>& b) {
  const double n = static_cast<double>(a.size());
  const double ma = std::accumulate(a.begin(), a.end(), 0.0) / n, mb = std::accumulate(b.begin(), b.end(), 0.0) / n;
  double sab = 0, saa = 0, sbb = 0;
  for (size_t i = 0; i < a.size(); ++i) {
    sab += (a[i] - ma) * (b[i] - mb);
    saa += (a[i] - ma) * (a[i] - ma);
    sbb += (b[i] - mb) * (b[i] - mb);
  }
  return saa > 0 && sbb > 0 ? sab / std::sqrt(saa * sbb) : 0.0;
}

}  // namespace

FlashPredictorFit fit_flash_predictor(const std::vector<std::string>& features, const std::vector<std::vector<double>>& rows,
                                      const std::vector<double>& y, double ridge) {
  const size_t n = rows.size(), p = features.size();
  if (n != y.size()) fail("flash predictor: {} feature rows but {} accuracies", n, y.size());
  if (n < p + 2) fail("flash predictor: {} subnets cannot fit {} coefficients and leave one out", n, p + 1);
  if (ridge < 0) fail("flash predictor: ridge must be >= 0, got {}", ridge);
  FlashPredictorFit fit;
  FlashPredictor& m = fit.model;
  m.features = features;
  m.mean.assign(p, 0.0);
  m.scale.assign(p, 1.0);
  for (size_t j = 0; j < p; ++j) {
    double s = 0, ss = 0;
    for (const auto& r : rows) s += r.at(j);
    m.mean[j] = s / static_cast<double>(n);
    for (const auto& r : rows) ss += (r[j] - m.mean[j]) * (r[j] - m.mean[j]);
    const double sd = std::sqrt(ss / static_cast<double>(n));
    m.scale[j] = sd > 1e-12 * std::max(1.0, std::abs(m.mean[j])) ? sd : 1.0;  // constant feature
  }
  Eigen::MatrixXd X(n, p + 1);
  Eigen::VectorXd Y(n);
  for (size_t i = 0; i < n; ++i) {
    X(i, 0) = 1;
    for (size_t j = 0; j < p; ++j) X(i, j + 1) = (rows[i][j] - m.mean[j]) / m.scale[j];
    Y(i) = y[i];
  }
  // (X'X + ridge diag(0, 1, ..., 1)) b = X'y; the pseudo-inverse keeps collinear features finite.
  Eigen::MatrixXd A = X.transpose() * X;
  for (size_t j = 1; j <= p; ++j) A(j, j) += ridge;
  Eigen::CompleteOrthogonalDecomposition<Eigen::MatrixXd> cod(A);
  const Eigen::VectorXd b = cod.solve(X.transpose() * Y);
  const Eigen::MatrixXd AinvXt = cod.solve(X.transpose());  // (p+1) x n
  m.coef.assign(b.data(), b.data() + b.size());

  const double ybar = Y.mean();
  double sse = 0, press = 0, sst = 0;
  std::vector<double> loo(n), yv(y);
  for (size_t i = 0; i < n; ++i) {
    const double pred = X.row(i).dot(b), e = y[i] - pred;
    const double h = X.row(i).dot(AinvXt.col(i));  // leverage
    const double e_loo = h < 1 - 1e-12 ? e / (1 - h) : e;
    loo[i] = y[i] - e_loo;
    sse += e * e;
    press += e_loo * e_loo;
    sst += (y[i] - ybar) * (y[i] - ybar);
  }
  fit.n = static_cast<int64_t>(n);
  fit.rmse_train = std::sqrt(sse / static_cast<double>(n));
  fit.rmse_loo = std::sqrt(press / static_cast<double>(n));
  fit.r2_train = sst > 0 ? 1 - sse / sst : 0.0;
  fit.q2_loo = sst > 0 ? 1 - press / sst : 0.0;
  fit.spearman_loo = pearson(ranks(loo), ranks(yv));
  return fit;
}

BlockAdditiveModel::BlockAdditiveModel(const SearchSpace& s) {
  std::vector<int> stage_depth_dim(s.stages.size(), -1);
  for (size_t i = 0; i < s.dims.size(); ++i)
    if (s.dims[i].kind == DimKind::depth) stage_depth_dim[s.dims[i].stage] = static_cast<int>(i);
  blocks_.resize(s.blocks.size());
  for (size_t i = 0; i < s.dims.size(); ++i) {
    const Dimension& d = s.dims[i];
    if (d.kind == DimKind::depth) continue;
    blocks_[d.block].dims.push_back(i);
    blocks_[d.block].sizes.push_back(d.size());
  }
  for (size_t b = 0; b < s.blocks.size(); ++b) {
    Block& k = blocks_[b];
    const size_t st = s.blocks[b].stage;
    k.index_in_stage = s.blocks[b].index_in_stage;
    k.depth_dim = stage_depth_dim[st];
    if (k.depth_dim >= 0)
      for (int64_t v : s.dims[static_cast<size_t>(k.depth_dim)].values) k.depth_values.push_back(static_cast<double>(v));
    else
      k.fixed_present = static_cast<int64_t>(k.index_in_stage) < s.stages[st].depth.back();
    for (size_t z : k.sizes) k.combos *= z;
    // A block that is always there and has no choices only adds to the constant.
    const bool contributes = k.fixed_present && (k.depth_dim >= 0 || !k.dims.empty());
    if (!contributes) {
      k.combos = 0;
      continue;
    }
    k.offset = params_;
    params_ += k.combos;
  }
}

void BlockAdditiveModel::basis(const std::vector<size_t>& c, std::vector<double>& row) const {
  row.assign(params_, 0.0);
  row[0] = 1;
  for (const Block& k : blocks_) {
    if (k.combos == 0) continue;
    if (k.depth_dim >= 0 && k.depth_values[c[static_cast<size_t>(k.depth_dim)]] <= static_cast<double>(k.index_in_stage))
      continue;
    size_t combo = 0;
    for (size_t j = 0; j < k.dims.size(); ++j) combo = combo * k.sizes[j] + c[k.dims[j]];
    row[k.offset + combo] = 1;
  }
}

std::vector<double> BlockAdditiveModel::fit(const std::vector<std::vector<size_t>>& choices,
                                            const std::vector<std::vector<double>>& values) {
  const size_t n = choices.size();
  if (n == 0 || values.size() != n) fail("flash: the block-additive model needs matching, non-empty samples");
  q_ = values[0].size();
  Eigen::MatrixXd X(n, params_);
  Eigen::MatrixXd Y(n, q_);
  std::vector<double> row;
  for (size_t i = 0; i < n; ++i) {
    basis(choices[i], row);
    for (size_t j = 0; j < params_; ++j) X(i, j) = row[j];
    for (size_t k = 0; k < q_; ++k) Y(i, k) = values[i].at(k);
  }
  // Always-present blocks make their one-hots sum to the constant's column: the minimum-norm
  // solution picks one of the equivalent tables; predictions at any subnet are the same.
  Eigen::CompleteOrthogonalDecomposition<Eigen::MatrixXd> cod(X);
  const Eigen::MatrixXd W = cod.solve(Y);
  w_.resize(params_ * q_);
  for (size_t j = 0; j < params_; ++j)
    for (size_t k = 0; k < q_; ++k) w_[j * q_ + k] = W(j, k);
  const Eigen::MatrixXd R = X * W - Y;
  std::vector<double> rel(q_);
  for (size_t k = 0; k < q_; ++k) {
    const double rms = std::sqrt(R.col(k).squaredNorm() / static_cast<double>(n));
    const double scale = std::sqrt(Y.col(k).squaredNorm() / static_cast<double>(n));
    rel[k] = scale > 0 ? rms / scale : rms;
  }
  return rel;
}

void BlockAdditiveModel::eval(const double* x, double* out) const {
  for (size_t k = 0; k < q_; ++k) out[k] = w_[k];
  for (const Block& b : blocks_) {
    if (b.combos == 0) continue;
    double gate = 1;
    if (b.depth_dim >= 0) {
      // Depth at a fractional choice index: linear between the neighbouring choices.
      const std::vector<double>& v = b.depth_values;
      const double t = std::clamp(x[b.depth_dim], 0.0, static_cast<double>(v.size() - 1));
      const size_t lo = std::min(static_cast<size_t>(t), v.size() - 1);
      const double depth = lo + 1 < v.size() ? v[lo] + (t - static_cast<double>(lo)) * (v[lo + 1] - v[lo]) : v[lo];
      gate = std::clamp(depth - static_cast<double>(b.index_in_stage), 0.0, 1.0);
      if (gate <= 0) continue;
    }
    // Multilinear interpolation over the block's own dimensions (at most a few: 2^m corners).
    const size_t m = b.dims.size();
    size_t lo[8];
    double fr[8];
    if (m > 8) fail("flash: a block with more than 8 choice dimensions is not supported");
    for (size_t j = 0; j < m; ++j) {
      const double hi = static_cast<double>(b.sizes[j] - 1);
      const double t = std::clamp(x[b.dims[j]], 0.0, hi);
      lo[j] = b.sizes[j] > 1 ? std::min(static_cast<size_t>(t), b.sizes[j] - 2) : 0;
      fr[j] = b.sizes[j] > 1 ? t - static_cast<double>(lo[j]) : 0.0;
    }
    for (size_t corner = 0; corner < (size_t{1} << m); ++corner) {
      double w = gate;
      size_t combo = 0;
      for (size_t j = 0; j < m; ++j) {
        const bool up = (corner >> j) & 1;
        if (up && b.sizes[j] == 1) {
          w = 0;
          break;
        }
        w *= up ? fr[j] : 1 - fr[j];
        combo = combo * b.sizes[j] + lo[j] + (up ? 1 : 0);
      }
      if (w == 0) continue;
      const double* row = &w_[(b.offset + combo) * q_];
      for (size_t k = 0; k < q_; ++k) out[k] += w * row[k];
    }
  }
}

}  // namespace hwnas
