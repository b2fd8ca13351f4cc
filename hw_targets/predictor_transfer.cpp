#include "hw_targets/predictor_transfer.h"

#include <nlopt.h>

#include <algorithm>
#include <cmath>
#include <limits>

#include "hw_targets/predictor_features.h"

namespace hwnas {

using Eigen::Index;
using Eigen::MatrixXd;
using Eigen::VectorXd;

namespace {

double median_of(std::vector<double> v) {
  HWNAS_CHECK(!v.empty(), "median of no values");
  const size_t m = v.size() / 2;
  std::nth_element(v.begin(), v.begin() + Index(m), v.end());
  const double hi = v[m];
  if (v.size() % 2) return hi;
  return 0.5 * (hi + *std::max_element(v.begin(), v.begin() + Index(m)));
}

// Per-layer costs are only defined up to a constant per layer (it moves into the intercept);
// centering each dimension's block picks one representative so that devices compare.
void center_blocks(const ArchEncoding& enc, Eigen::Ref<VectorXd> v) {
  for (size_t d = 0; d < enc.dims(); ++d) {
    auto seg = v.segment(Index(enc.offset(d)), Index(enc.choices(d)));
    seg.array() -= seg.mean();
  }
}

// The restricted (intercept integrated out) negative log marginal likelihood of r under
// K = sum_i exp(z_i) G_i + diag(exp(z_noise) / w), plus the hyperprior.
struct RemlProblem {
  std::vector<MatrixXd> g;
  VectorXd r, w;
  std::vector<size_t> prior;  // components with the log-normal hyperprior
  double prior_sd = 2;

  MatrixXd kernel(const double* z) const {
    const Index n = r.size();
    MatrixXd k = MatrixXd::Zero(n, n);
    for (size_t i = 0; i < g.size(); ++i) k += std::exp(z[i]) * g[i];
    k.diagonal().array() += std::exp(z[g.size()]) / w.array();
    return k;
  }
  double objective(const double* z) const {
    const MatrixXd k = kernel(z);
    Eigen::LLT<MatrixXd> llt(k);
    if (llt.info() != Eigen::Success) return 1e30;
    const VectorXd one = VectorXd::Ones(r.size());
    const VectorXd ki1 = llt.solve(one), kir = llt.solve(r);
    const double s1 = one.dot(ki1);
    const double rpr = r.dot(kir) - std::pow(one.dot(kir), 2) / s1;
    double logdet = 0;
    for (Index i = 0; i < k.rows(); ++i) logdet += 2 * std::log(llt.matrixL()(i, i));
    double obj = 0.5 * (rpr + logdet + std::log(s1));
    for (size_t i : prior) obj += 0.5 * std::pow(z[i] / prior_sd, 2);
    return std::isfinite(obj) ? obj : 1e30;
  }
};

double nlopt_objective(unsigned, const double* x, double*, void* data) {
  return static_cast<const RemlProblem*>(data)->objective(x);
}

// Nelder-Mead inside the bounds (derivative-free: the objective is cheap, N <= a few hundred).
void minimize(const RemlProblem& p, std::vector<double>& z, const std::vector<double>& lo, const std::vector<double>& hi,
              double step) {
  nlopt_opt opt = nlopt_create(NLOPT_LN_NELDERMEAD, unsigned(z.size()));
  nlopt_set_lower_bounds(opt, lo.data());
  nlopt_set_upper_bounds(opt, hi.data());
  nlopt_set_min_objective(opt, nlopt_objective, const_cast<RemlProblem*>(&p));
  nlopt_set_initial_step1(opt, step);
  nlopt_set_ftol_abs(opt, 1e-8);
  nlopt_set_xtol_abs1(opt, 1e-4);
  nlopt_set_maxeval(opt, 3000);
  for (size_t i = 0; i < z.size(); ++i) z[i] = std::clamp(z[i], lo[i], hi[i]);
  double f = 0;
  const nlopt_result res = nlopt_optimize(opt, z.data(), &f);
  nlopt_destroy(opt);
  // Running out of evaluations still leaves the best point found; only real failures throw.
  if (res < 0 && res != NLOPT_ROUNDOFF_LIMITED) fail("transfer predictor: hyperparameter search failed (nlopt code {})", int(res));
}

// min 0.5 x'Hx - g'x subject to x_j >= 0 for j >= 1 (x_0, the intercept, is free): cyclic
// coordinate descent, exact per coordinate; converges for positive definite H.
VectorXd nonneg_qp(const MatrixXd& h, const VectorXd& g, VectorXd x) {
  const Index q = g.size();
  const double scale = 1.0 + g.cwiseAbs().maxCoeff();
  for (int sweep = 0; sweep < 20000; ++sweep) {
    double moved = 0;
    for (Index j = 0; j < q; ++j) {
      if (h(j, j) <= 0) continue;
      double v = x(j) - (h.row(j).dot(x) - g(j)) / h(j, j);
      if (j > 0) v = std::max(v, 0.0);
      moved = std::max(moved, std::fabs(v - x(j)) * std::sqrt(h(j, j)));
      x(j) = v;
    }
    if (moved < 1e-11 * scale) break;
  }
  return x;
}

}  // namespace

TransferSource make_transfer_source(const SearchSpace& s, const LatencyData& d) {
  auto fit = fit_additive(s, d.archs, d.latency_ms);
  return {d.device, fit->coef(), fit->bias(), median_of(d.latency_ms)};
}

std::unique_ptr<AdditivePredictor> fit_transfer(const SearchSpace& s, const std::vector<TransferSource>& sources,
                                                const std::vector<Arch>& archs, const std::vector<double>& latency_ms,
                                                const TransferOptions& o) {
  const ArchEncoding enc(s);
  const Index p = Index(enc.width()), n = Index(archs.size()), nsrc = Index(sources.size());
  HWNAS_CHECK(archs.size() == latency_ms.size(), "transfer predictor: {} archs and {} latencies", archs.size(),
              latency_ms.size());
  HWNAS_CHECK(n >= 3, "transfer predictor: {} samples of the new device; at least 3 are needed", n);
  HWNAS_CHECK(nsrc >= 1, "transfer predictor: no source device to learn from");
  for (double y : latency_ms) HWNAS_CHECK(y > 0 && std::isfinite(y), "transfer predictor: latency {} is not positive", y);

  // Source cost vectors in units of each source's median latency, per-layer centered.
  MatrixXd cs(p, nsrc);
  for (Index j = 0; j < nsrc; ++j) {
    const TransferSource& src = sources[size_t(j)];
    HWNAS_CHECK(Index(src.coef_ms.size()) == p, "transfer predictor: source {} has {} costs, the {} encoding {}",
                src.name, src.coef_ms.size(), s.name, p);
    HWNAS_CHECK(src.median_ms > 0, "transfer predictor: source {} has median latency {}", src.name, src.median_ms);
    VectorXd c = Eigen::Map<const VectorXd>(src.coef_ms.data(), p) / src.median_ms;
    center_blocks(enc, c);
    cs.col(j) = c;
  }
  const VectorXd mean = o.center_sources ? VectorXd(cs.rowwise().mean()) : VectorXd::Zero(p);
  const MatrixXd cc = cs.colwise() - mean;
  const double scale = cs.colwise().squaredNorm().mean();

  // Analytic features where the space allows them (ops-only spaces), same centering, unit columns.
  MatrixXd fn(p, 0);
  std::vector<std::string> feature_names;
  if (s.count(DimKind::ops) == s.dims.size()) {
    LayerOpFeatures lf = layer_op_features(s);
    std::vector<VectorXd> cols;
    for (Index k = 0; k < lf.values.cols(); ++k) {
      VectorXd v = lf.values.col(k);
      center_blocks(enc, v);
      if (v.norm() > 1e-12 * std::max(1.0, lf.values.col(k).norm())) {
        cols.push_back(v / v.norm());
        feature_names.push_back(lf.names[size_t(k)]);
      }
    }
    fn.resize(p, Index(cols.size()));
    for (size_t k = 0; k < cols.size(); ++k) fn.col(Index(k)) = cols[k];
  }
  const Index nf = fn.cols();

  const MatrixXd x = design_matrix(enc, archs);
  const double y_scale = median_of(latency_ms);
  const VectorXd ys = Eigen::Map<const VectorXd>(latency_ms.data(), n) / y_scale;

  // Components: 0 sources, 1 features (when any), last the per-op residual.
  RemlProblem prob;
  prob.r = ys - x * mean;
  prob.w = VectorXd::Ones(n);
  prob.prior_sd = o.hyper_prior_sd;
  const MatrixXd xcc = x * cc;
  prob.g.push_back(xcc * xcc.transpose() / double(nsrc));
  prob.prior.push_back(0);
  MatrixXd xf;
  if (nf > 0) {
    xf = x * fn;
    prob.g.push_back(scale / double(nf) * xf * xf.transpose());
    prob.prior.push_back(1);
  }
  prob.g.push_back(scale / double(p) * x * x.transpose());
  const size_t ncomp = prob.g.size();
  std::vector<double> z(ncomp + 1, 0.0), lo(ncomp + 1, o.log_h_min), hi(ncomp + 1, o.log_h_max);
  z[ncomp] = std::log(1e-3);
  lo[ncomp] = o.log_noise_min;
  hi[ncomp] = o.log_noise_max;
  int reweights = 0;
  for (int it = 0; it < std::max(1, o.reweight_iters); ++it) {
    minimize(prob, z, lo, hi, it == 0 ? 2.0 : 0.5);
    // Student-t weights from the standardized leave-one-out residuals: a sample the others do
    // not explain (an outlying measurement) counts less in the next fit.
    Eigen::LLT<MatrixXd> llt(prob.kernel(z.data()));
    const MatrixXd ki = llt.solve(MatrixXd::Identity(n, n));
    const VectorXd one = VectorXd::Ones(n);
    const double b = one.dot(ki * prob.r) / one.dot(ki * one);
    const VectorXd a = ki * (prob.r.array() - b).matrix();
    const double noise = std::exp(z[ncomp]);
    double moved = 0;
    for (Index i = 0; i < n; ++i) {
      // The leave-one-out residual and its variance given the other samples: 1 / Ki_ii is the
      // prediction's variance plus sample i's own noise, noise / w_i; standardize by the
      // prediction's variance plus the plain noise, so that a downweighted sample does not
      // look less outlying for having been downweighted.
      const double loo = a(i) / ki(i, i);
      const double var = std::max(1.0 / ki(i, i) - noise / prob.w(i), 0.0) + noise;
      const double w = (o.student_t_nu + 1) / (o.student_t_nu + loo * loo / var);
      moved = std::max(moved, std::fabs(w - prob.w(i)));
      prob.w(i) = w;
    }
    ++reweights;
    if (moved < 1e-3) break;
  }
  const double h_src = std::exp(z[0]), h_feat = nf > 0 ? std::exp(z[1]) : 0.0, h_op = std::exp(z[ncomp - 1]),
               noise = std::exp(z[ncomp]);

  // Non-negative MAP of (b, alpha, theta) with delta and the noise as the covariance kd.
  MatrixXd kd = h_op * prob.g.back();
  kd.diagonal().array() += noise / prob.w.array();
  Eigen::LLT<MatrixXd> kd_llt(kd);
  HWNAS_CHECK(kd_llt.info() == Eigen::Success, "transfer predictor: residual covariance is not positive definite");
  const Index q = 1 + nsrc + nf;
  MatrixXd zm(n, q);
  zm.col(0).setOnes();
  zm.middleCols(1, nsrc) = x * cs;
  if (nf > 0) zm.rightCols(nf) = xf;
  VectorXd prior_prec = VectorXd::Zero(q), prior_mean = VectorXd::Zero(q);
  prior_prec.segment(1, nsrc).setConstant(double(nsrc) / std::max(h_src, 1e-300));
  if (o.center_sources) prior_mean.segment(1, nsrc).setConstant(1.0 / double(nsrc));
  if (nf > 0) prior_prec.tail(nf).setConstant(double(nf) / (scale * std::max(h_feat, 1e-300)));
  const MatrixXd kz = kd_llt.solve(zm);
  MatrixXd hq = zm.transpose() * kz;
  hq.diagonal() += prior_prec;
  const VectorXd gq = kz.transpose() * ys + prior_prec.cwiseProduct(prior_mean);
  VectorXd start = prior_mean;
  start.segment(1, nsrc).setConstant(1.0 / double(nsrc));
  start(0) = ys.mean() - (zm.middleCols(1, nsrc) * start.segment(1, nsrc)).mean();
  const VectorXd wq = nonneg_qp(hq, gq, start);
  const VectorXd resid = ys - zm * wq;
  VectorXd c = cs * wq.segment(1, nsrc) + h_op * scale / double(p) * x.transpose() * kd_llt.solve(resid);
  if (nf > 0) c += fn * wq.tail(nf);

  nlohmann::json alpha = nlohmann::json::object();
  for (Index j = 0; j < nsrc; ++j) alpha[sources[size_t(j)].name] = wq(1 + j);
  int active_features = 0;
  for (Index k = 0; k < nf; ++k) active_features += wq(1 + nsrc + k) > 0;
  nlohmann::json info = {{"samples", n},
                         {"median_ms", y_scale},
                         {"log_h_src", z[0]},
                         {"log_h_feat", nf > 0 ? nlohmann::json(z[1]) : nlohmann::json(nullptr)},
                         {"log_h_op", z[ncomp - 1]},
                         {"log_noise", z[ncomp]},
                         {"source_weights", alpha},
                         {"features", nf},
                         {"active_features", active_features},
                         {"min_sample_weight", prob.w.minCoeff()},
                         {"reweights", reweights},
                         {"options",
                          {{"student_t_nu", o.student_t_nu},
                           {"reweight_iters", o.reweight_iters},
                           {"hyper_prior_sd", o.hyper_prior_sd},
                           {"log_h_bounds", {o.log_h_min, o.log_h_max}},
                           {"log_noise_bounds", {o.log_noise_min, o.log_noise_max}}}}};
  std::vector<double> coef(static_cast<size_t>(p));
  for (Index i = 0; i < p; ++i) coef[size_t(i)] = y_scale * c(i);
  return std::make_unique<AdditivePredictor>(s, y_scale * wq(0), std::move(coef), "transfer", std::move(info));
}

}  // namespace hwnas
