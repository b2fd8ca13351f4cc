#include "hw_targets/predictor_additive.h"

#include <cmath>
#include <limits>

#include "ops/elementwise.h"
#include "ops/matmul.h"
#include "ops/shape_ops.h"

namespace hwnas {

Eigen::MatrixXd design_matrix(const ArchEncoding& enc, const std::vector<Arch>& archs) {
  Eigen::MatrixXd x = Eigen::MatrixXd::Zero(Eigen::Index(archs.size()), Eigen::Index(enc.width()));
  for (size_t i = 0; i < archs.size(); ++i)
    for (size_t j : enc.active(archs[i])) x(Eigen::Index(i), Eigen::Index(j)) = 1.0;
  return x;
}

RidgeFit fit_ridge_gcv(const Eigen::MatrixXd& x, const Eigen::VectorXd& y, std::vector<double> lambdas) {
  const Eigen::Index n = x.rows();
  HWNAS_CHECK(n >= 3, "ridge: {} samples; at least 3 are needed (GCV leaves out the intercept and one more)", n);
  HWNAS_CHECK(y.size() == n, "ridge: {} targets for {} rows", y.size(), n);
  if (lambdas.empty())
    for (int k = -60; k <= 40; ++k) lambdas.push_back(std::pow(10.0, k / 10.0));
  const Eigen::RowVectorXd xm = x.colwise().mean();
  const double ym = y.mean();
  const Eigen::MatrixXd xc = x.rowwise() - xm;
  const Eigen::VectorXd yc = y.array() - ym;
  Eigen::BDCSVD<Eigen::MatrixXd> svd(xc, Eigen::ComputeThinU | Eigen::ComputeThinV);
  const Eigen::VectorXd s = svd.singularValues();
  const Eigen::VectorXd uy = svd.matrixU().transpose() * yc;
  // Directions with a numerically zero singular value carry nothing (f = 0 for any lambda).
  const double tiny = s.size() ? s(0) * 1e-10 : 0;
  const double yy = yc.squaredNorm(), uyy = uy.squaredNorm();
  RidgeFit best;
  best.gcv = std::numeric_limits<double>::infinity();
  for (double lam : lambdas) {
    double rss = yy - uyy, dof = 0;
    for (Eigen::Index i = 0; i < s.size(); ++i) {
      const double f = s(i) > tiny ? s(i) * s(i) / (s(i) * s(i) + lam) : 0.0;
      rss += (1 - f) * (1 - f) * uy(i) * uy(i);
      dof += f;
    }
    const double denom = 1.0 - (dof + 1.0) / double(n);
    if (denom <= 1e-9) continue;
    const double gcv = std::max(rss, 0.0) / double(n) / (denom * denom);
    if (gcv < best.gcv) {
      best.gcv = gcv;
      best.lambda = lam;
      best.dof = dof;
    }
  }
  HWNAS_CHECK(std::isfinite(best.gcv), "ridge: no lambda gives a finite GCV score ({} samples)", n);
  Eigen::VectorXd g(s.size());
  for (Eigen::Index i = 0; i < s.size(); ++i) g(i) = s(i) > tiny ? s(i) / (s(i) * s(i) + best.lambda) * uy(i) : 0.0;
  best.coef = svd.matrixV() * g;
  best.bias = ym - xm.dot(best.coef);
  return best;
}

AdditivePredictor::AdditivePredictor(const SearchSpace& s, double bias, std::vector<double> coef, std::string kind,
                                     nlohmann::json info)
    : LatencyPredictor(s), bias_(bias), coef_(std::move(coef)), kind_(std::move(kind)), info_(std::move(info)) {
  HWNAS_CHECK(coef_.size() == enc_.width(), "{} predictor: {} coefficients, expected {} (the {} encoding)", kind_,
              coef_.size(), enc_.width(), s.name);
}

double AdditivePredictor::predict(const Arch& a) const {
  double v = bias_;
  for (size_t j : enc_.active(a)) v += coef_[j];
  return v;
}

Variable AdditivePredictor::predict_soft(const Variable& probs) const {
  const Variable flat = enc_.flatten_soft(probs);
  std::vector<float> c(coef_.begin(), coef_.end());
  const Variable coef(Tensor::from_vector(c, {int64_t(c.size()), 1}));
  const Variable out = add(matmul(flat, coef), Variable(Tensor::scalar(float(bias_))));
  return reshape(out, {flat.size(0)});
}

nlohmann::json AdditivePredictor::model_json() const {
  nlohmann::json names = nlohmann::json::array();
  for (size_t i = 0; i < enc_.width(); ++i) names.push_back(enc_.entry_name(i));
  return {{"bias_ms", bias_}, {"coef_ms", coef_}, {"entries", names}, {"info", info_}};
}

std::unique_ptr<AdditivePredictor> AdditivePredictor::from_json(const SearchSpace& s, const nlohmann::json& m,
                                                                const std::string& kind, const std::string& source) {
  if (!m.is_object() || !m.contains("bias_ms") || !m.at("bias_ms").is_number() || !m.contains("coef_ms") ||
      !m.at("coef_ms").is_array())
    fail("{}: {} model needs \"bias_ms\" (number) and \"coef_ms\" (array)", source, kind);
  std::vector<double> coef;
  for (const auto& v : m.at("coef_ms")) {
    if (!v.is_number()) fail("{}: {} model: coef_ms holds {}, expected numbers", source, kind, v.dump());
    coef.push_back(v.get<double>());
  }
  if (coef.size() != ArchEncoding(s).width())
    fail("{}: {} model has {} coefficients, the {} encoding has {}", source, kind, coef.size(), s.name,
         ArchEncoding(s).width());
  return std::make_unique<AdditivePredictor>(s, m.at("bias_ms").get<double>(), std::move(coef), kind,
                                             m.value("info", nlohmann::json::object()));
}

std::unique_ptr<AdditivePredictor> fit_additive(const SearchSpace& s, const std::vector<Arch>& archs,
                                                const std::vector<double>& latency_ms) {
  const ArchEncoding enc(s);
  const Eigen::MatrixXd x = design_matrix(enc, archs);
  const Eigen::VectorXd y = Eigen::Map<const Eigen::VectorXd>(latency_ms.data(), Eigen::Index(latency_ms.size()));
  const RidgeFit f = fit_ridge_gcv(x, y);
  return std::make_unique<AdditivePredictor>(
      s, f.bias, std::vector<double>(f.coef.data(), f.coef.data() + f.coef.size()), "additive",
      nlohmann::json{{"lambda", f.lambda}, {"gcv", f.gcv}, {"dof", f.dof}});
}

}  // namespace hwnas
