#pragma once
// An MLP latency predictor on the one-hot arch encoding, written with our autograd so that
// predict_soft is differentiable with respect to a soft encoding (a DNAS loss term). Layout:
//   out = W_skip x + W_o act(W_2 act(W_1 x + b_1) + b_2) + b_o
// on latencies standardized by the fit samples' mean and standard deviation. The linear skip
// term carries the (mostly additive) per-op costs; the hidden layers model interactions.
// Activation swish: smooth, so the gradient to the soft encoding has no kinks.
#include <cstdint>

#include "hw_targets/latency_predictor.h"

namespace hwnas {

struct MlpOptions {
  int64_t hidden = 64;    // units per hidden layer
  int64_t layers = 2;     // hidden layers
  int64_t steps = 2000;   // AdamW steps (cosine learning rate)
  int64_t batch = 128;    // minibatch (the whole set when smaller)
  float lr = 3e-3f;
  float weight_decay = 1e-3f;
  uint64_t seed = 0;      // initialization and minibatch order
  bool progress = false;  // a progress line on stderr
};

class MlpPredictor : public LatencyPredictor {
 public:
  static std::unique_ptr<MlpPredictor> fit(const SearchSpace& s, const std::vector<Arch>& archs,
                                           const std::vector<double>& latency_ms, const MlpOptions& o = {});
  static std::unique_ptr<MlpPredictor> from_json(const SearchSpace& s, const nlohmann::json& model,
                                                 const std::string& source);
  std::string kind() const override { return "mlp"; }
  double predict(const Arch& a) const override;
  std::vector<double> predict(const std::vector<Arch>& archs) const override;
  Variable predict_soft(const Variable& probs) const override;
  nlohmann::json model_json() const override;
  // Mean squared error of the last training steps, in standardized units (diagnostics).
  double final_train_loss() const { return final_loss_; }

 private:
  MlpPredictor(const SearchSpace& s, int64_t hidden, int64_t layers, uint64_t seed);
  static std::unique_ptr<MlpPredictor> from_json_checked(const SearchSpace& s, const nlohmann::json& model,
                                                         const std::string& source);
  Variable forward(const Variable& x) const;  // [B, width] -> [B] standardized
  std::vector<Variable> parameters() const;

  std::vector<Variable> w_, b_;  // hidden layers
  Variable w_out_, b_out_, w_skip_;
  double y_mean_ = 0, y_std_ = 1, final_loss_ = 0;
};

}  // namespace hwnas
