#pragma once
// FP-NAS's architecture distribution (Yan et al. 2021, "FP-NAS: Fast Probabilistic Neural
// Architecture Search"): categorical distributions over a space's dimensions, in groups. Each
// group holds the logits of a joint categorical over the product of its dimensions' choices.
// The coarse phase has one group per dimension (factorized); couple() turns each block's
// dimensions (kernel x expand x width x ops x radix, whichever the block searches) into one joint
// group, initialised to the product of the factorized marginals, so the distribution is unchanged
// at the switch and only gains the freedom to model the block's interactions. Depth dimensions
// stay alone. The search itself is fpnas.cpp.
#include <cstddef>
#include <vector>

#include "nas/space.h"

namespace hwnas {

class ArchDistribution {
 public:
  explicit ArchDistribution(const SearchSpace& s);  // factorized and uniform

  // Coarse-to-fine: one joint group per block whose choice-count product is at most
  // `joint_max` (a block with more stays factorized). Idempotent.
  void couple(size_t joint_max);
  bool coupled() const { return coupled_; }
  size_t num_groups() const { return groups_.size(); }
  size_t num_logits() const;
  size_t joint_groups() const;  // groups of more than one dimension

  // One draw: a choice index per dimension, in s.dims order (arch_from_choices takes it).
  std::vector<size_t> sample(Generator& gen) const;
  // Every group at its most likely entry.
  std::vector<size_t> mode() const;
  // Whether dimension `d` changes the network for these choices: false for the choices of a
  // block its stage's depth drops.
  bool active(const std::vector<size_t>& choices, size_t d) const;
  // Entropy (nats) of the distribution over distinct networks: the depth groups' entropies plus
  // each block group's entropy weighted by the probability that its block runs (the choices of
  // a dropped block do not make another network).
  double entropy() const;
  // The same for the uniform distribution (the start): the scale of adaptive sampling.
  double max_entropy() const { return max_entropy_; }
  std::vector<double> marginal(size_t d) const;  // probability of each choice of dimension d

  // REINFORCE: logits += lr * (1/n) sum_i adv[i] * grad log p(draws[i]); a group of a block the
  // draw's depth drops gets no gradient from that draw (its choice had no effect on the reward).
  void reinforce(const std::vector<std::vector<size_t>>& draws, const std::vector<double>& adv, double lr);

 private:
  struct Group {
    std::vector<size_t> dims, sizes;  // dimensions (s.dims indices) and their choice counts
    std::vector<double> logits;       // over the product; dims[0] varies fastest
    bool depth = false;               // a stage's depth dimension
  };
  std::vector<double> probs(const Group& g) const;
  void decode(const Group& g, size_t index, std::vector<size_t>& choices) const;
  size_t encode(const Group& g, const std::vector<size_t>& choices) const;
  double block_runs(const Group& g) const;  // probability that the group's block runs
  const SearchSpace& s_;
  std::vector<Group> groups_;
  std::vector<size_t> depth_dim_;  // per stage: its depth dimension, or npos
  bool coupled_ = false;
  double max_entropy_ = 0;
};

}  // namespace hwnas
