#pragma once
// Learned latency predictors of a space's architectures (LA-DARTS style): fit on (arch,
// latency) samples of one device, predict any arch's latency, and give a differentiable
// prediction from a soft (probability) encoding so a differentiable search can add it as a loss
// term. Kinds (each in its own file):
//   additive  bias + one cost per (layer, op), ridge with lambda by GCV  (predictor_additive.h)
//   mlp       a small MLP on the one-hot encoding, our autograd           (predictor_mlp.h)
//   transfer  few-shot: an additive model whose per-op costs get a prior learned from other
//             devices and analytic per-layer features                     (predictor_transfer.h)
// A predictor file is JSON: {"format": "hwnas-latency-predictor", "kind", "space", "fit":
// {how it was fit, including "arch_ids" used}, "model": {kind-specific}}, written atomically.
#include <nlohmann/json.hpp>

#include <memory>
#include <string>
#include <vector>

#include "autograd/variable.h"
#include "hw_targets/latency_data.h"
#include "nas/space.h"

namespace hwnas {

class LatencyPredictor {
 public:
  explicit LatencyPredictor(const SearchSpace& s) : enc_(s) {}
  virtual ~LatencyPredictor() = default;
  virtual std::string kind() const = 0;
  // Latency in ms of one arch (validated against the space).
  virtual double predict(const Arch& a) const = 0;
  virtual std::vector<double> predict(const std::vector<Arch>& archs) const;
  // Latency in ms, differentiable with respect to `probs`: [dims, choices] (FBNet [22, 9]),
  // [width] or [B, width] (see ArchEncoding::flatten_soft); returns [B]. At a one-hot encoding
  // it equals predict(arch).
  virtual Variable predict_soft(const Variable& probs) const = 0;
  virtual nlohmann::json model_json() const = 0;
  const ArchEncoding& encoding() const { return enc_; }
  const SearchSpace& space() const { return enc_.space(); }

 protected:
  ArchEncoding enc_;
};
using PredictorPtr = std::unique_ptr<LatencyPredictor>;

// A fitted predictor and how it was fit ("data", "samples", "seed", "arch_ids", ...).
struct PredictorFile {
  PredictorPtr model;
  nlohmann::json fit = nlohmann::json::object();
  std::vector<int64_t> fit_ids() const;  // fit["arch_ids"], empty when absent
};

nlohmann::json predictor_to_json(const LatencyPredictor& p, const nlohmann::json& fit);
// `source` names the file in errors. The space is loaded by the name the file records.
PredictorFile predictor_from_json(const nlohmann::json& j, const std::string& source);
void save_predictor(const std::string& path, const LatencyPredictor& p, const nlohmann::json& fit);
PredictorFile load_predictor(const std::string& path);

// Samples for fitting, taken from a data set by row.
struct FitSet {
  std::vector<Arch> archs;
  std::vector<double> latency_ms;
  std::vector<int64_t> ids;
};
FitSet fit_set(const LatencyData& d, const std::vector<size_t>& rows);
// `n` distinct rows drawn uniformly with `seed` (a partial Fisher-Yates shuffle); the rest in
// `rest` (in file order) when given. Throws when n exceeds the data.
std::vector<size_t> sample_rows(size_t total, size_t n, uint64_t seed, std::vector<size_t>* rest = nullptr);

}  // namespace hwnas
