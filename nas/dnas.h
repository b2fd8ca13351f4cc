#pragma once
// Differentiable architecture search state (FBNet, FBNetV2): one vector of logits per
// dimension of a space, trained with Adam; Gumbel-softmax samples of them weight the supernet's
// mixed choices (nas/elastic_supernet.h forward_weighted).
#include <memory>
#include <string>
#include <utility>
#include <vector>

#include <nlohmann/json.hpp>

#include "nas/space.h"
#include "nn/optim.h"

namespace hwnas {

// Mixing weights of every dimension's choices, in `space.dims` order (each 1-D, one entry per
// choice, summing to 1).
struct ArchWeights {
  std::vector<Variable> w;
  const Variable& at(const SearchSpace& s, DimKind kind, size_t pos) const;
};

class DnasState {
 public:
  DnasState(const SearchSpace& space, float lr);
  // Gumbel-softmax draws (temperature tau) of every dimension, differentiable in the logits.
  ArchWeights sample_weights(float tau, Generator& gen) const;
  // Softmax without noise: the expected mixture.
  ArchWeights mean_weights() const;
  Arch derived_arch() const;  // the most likely choice of each dimension
  nlohmann::json probabilities_json() const;
  void zero_grad();
  void step();
  int64_t step_count() const { return opt_->step_count(); }
  void set_step_count(int64_t s) { opt_->set_step_count(s); }
  // Logits then optimizer state, for checkpoints.
  std::vector<std::pair<std::string, Tensor>> state();
  const std::vector<Variable>& logits() const { return logits_; }

 private:
  const SearchSpace& space_;
  std::vector<Variable> logits_;
  std::unique_ptr<AdamW> opt_;
};

}  // namespace hwnas
