#pragma once
// Fakes for search tests: an accuracy oracle with a planted optimum and a target whose latency is
// proportional to multiply-adds, so searches run in milliseconds and their answers are known.
#include <cmath>

#include "hw_targets/target.h"
#include "nas/builtin_spaces.h"
#include "nas/search/evaluator.h"

namespace hwnas::test {

// Accuracy rises with every choice index (bigger is better, as in real supernets) with a
// diminishing return, plus a planted bonus for kernel 5 in the first block, so that searches must
// spend cost where it pays.
class PlantedOracle : public AccuracyOracle {
 public:
  explicit PlantedOracle(const SearchSpace& s) : s_(s) {}
  double accuracy(const Arch& a) override {
    ++calls;
    const auto ch = arch_choices(s_, a);
    double score = 0;
    for (size_t i = 0; i < ch.size(); ++i)
      score += s_.dims[i].size() > 1 ? std::sqrt(static_cast<double>(ch[i]) / (s_.dims[i].size() - 1)) : 0;
    double acc = 0.5 + 0.4 * score / static_cast<double>(ch.size());
    if (!a.kernel.empty() && a.kernel[0] == 5) acc += 0.05;
    return acc;
  }
  nlohmann::json config() const override { return {{"kind", "planted"}}; }
  int64_t calls = 0;

 private:
  const SearchSpace& s_;
};

// latency_ms = MACs / 1e6 (a modeled target; deterministic).
class MacsTarget : public Target {
 public:
  std::string name() const override { return "macs-target"; }
  std::string kind() const override { return "fake"; }
  CostResult cost(const NetworkSpec& net) override {
    ++calls;
    CostResult r;
    r.method = CostMethod::model;
    r.latency_ms = static_cast<double>(network_macs(net)) / 1e6;
    return r;
  }
  nlohmann::json config() const override { return {{"kind", "fake"}}; }
  int64_t calls = 0;
};

}  // namespace hwnas::test
