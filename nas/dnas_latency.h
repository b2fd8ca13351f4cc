#pragma once
// The latency term of DNAS (FBNet, LA-DARTS): a model of a subnet's latency that is
// differentiable in the architecture's per-dimension choice probabilities, so the logits' loss
// can be  CE + coef * E[latency] / latency(max arch).
//
// Sources (`latency_source`):
//   lut        a per-layer lookup table (hw_targets/lut_target.h): the table of the hardware
//              target when it is a `lut` target, else one built on the target with
//              build_latency_table (in-context where the target can). Decomposed per block:
//                E[lat] = base + sum_b P(block b kept) * sum_c prod_j p_{dim_j}(c_j) * T_b[c]
//              where base is the table's overhead plus the stem and head layers, T_b[c] the
//              table entry of block b with its own choices c (kernel x expand) and P(kept) the
//              probability of its stage's depth choices that keep it. Exact: at a one-hot
//              encoding it equals the table's prediction of that subnet (checked when built;
//              spaces whose layer input shapes depend on other blocks' choices are refused).
//   swap       the target's whole-subnet cost with one choice swapped into a reference arch
//              (the max arch): T_dim[c] = cost(max with dim = c) - cost(max), each block's
//              deltas weighted by P(block kept) as above. A first-order (additive) model of any
//              target, measured or modeled; not exact where choices interact.
//   predictor  a fitted latency predictor file (hw_targets/latency_predictor.h, e.g. `mlp`)
//              applied to the soft encoding (the per-dimension probabilities in place of the
//              one-hot features): predict_soft.
// The expectation is taken under the softmax of the logits (the noise-free expected mixture),
// not under the Gumbel-softmax sample of the step: the exact expected latency of the categorical
// distribution, with a gradient free of Gumbel noise (FBNet weights its latency sum by the
// sampled mask instead; the two agree in expectation only approximately).
#include <functional>
#include <memory>
#include <string>
#include <vector>

#include <nlohmann/json.hpp>

#include "autograd/variable.h"
#include "hw_targets/lut_target.h"
#include "hw_targets/target.h"
#include "nas/space.h"

namespace hwnas {

class LatencyPredictor;

class DnasLatencyModel {
 public:
  virtual ~DnasLatencyModel() = default;
  virtual std::string source() const = 0;  // lut | swap | predictor
  // E[latency] in ms (a scalar variable) for per-dimension probability vectors in `space.dims`
  // order (each 1-D, summing to 1), differentiable in them.
  virtual Variable expected_ms(const std::vector<Variable>& probs) const = 0;
  // The model's latency of one subnet (the one-hot case of expected_ms).
  virtual double latency_ms(const Arch& a) const = 0;
  // Everything needed to rebuild it without measuring (written beside a run so a resume uses
  // the same numbers); `describe` is the part that names where it came from.
  virtual nlohmann::json to_json() const = 0;
  const nlohmann::json& describe() const { return describe_; }
  const SearchSpace& space() const { return space_; }
  // latency_ms(max arch): the normalizer of the loss term.
  double norm_ms() const;

 protected:
  DnasLatencyModel(const SearchSpace& s, nlohmann::json describe) : space_(s), describe_(std::move(describe)) {}
  const SearchSpace& space_;
  nlohmann::json describe_;
};
using DnasLatencyPtr = std::shared_ptr<const DnasLatencyModel>;

const std::vector<std::string>& dnas_latency_sources();  // lut, swap, predictor

// From a lookup table (exact decomposition; throws when the space does not decompose).
DnasLatencyPtr dnas_latency_from_table(const SearchSpace& s, const LatencyTable& t, nlohmann::json describe = {});
// Swaps into the max arch, costed on `target` (one cost_many call: 1 + sum(choices - 1) subnets).
DnasLatencyPtr dnas_latency_from_swaps(const SearchSpace& s, Target& target, nlohmann::json describe = {});
// A predictor for the same space.
DnasLatencyPtr dnas_latency_from_predictor(const SearchSpace& s, std::shared_ptr<const LatencyPredictor> p,
                                           nlohmann::json describe = {});
// `source` lut / swap on a target object: lut uses the target's own table when it is a `lut`
// target and builds one on it otherwise (progress on stderr when `progress`).
DnasLatencyPtr make_dnas_latency(const SearchSpace& s, const std::string& source, Target& target, bool progress);
// `source` lut / swap: `target` is a make_target name or config file; predictor: a predictor file.
DnasLatencyPtr make_dnas_latency(const SearchSpace& s, const std::string& source, const std::string& target,
                                 bool progress);
DnasLatencyPtr dnas_latency_from_json(const SearchSpace& s, const nlohmann::json& j, const std::string& where);

// `path` holds a model whose describe() equals `describe`: it is loaded; otherwise `build()` makes
// one, which is saved to `path` (atomically) for the next run. `path` empty: always builds.
DnasLatencyPtr load_or_build_dnas_latency(const SearchSpace& s, const std::string& path,
                                          const nlohmann::json& describe,
                                          const std::function<DnasLatencyPtr()>& build);

// The loss term: coef * E[lat] / norm_ms(), or with budget_ms > 0 coef * relu(E[lat] - budget)
// / norm_ms() (only the expected latency above the budget is penalized).
Variable dnas_latency_loss(const DnasLatencyModel& m, const std::vector<Variable>& probs, float coef,
                           float budget_ms = 0.f);

// Mean entropy (nats) of the per-dimension softmax of `logits` and E[latency] under it.
double logits_entropy(const std::vector<Variable>& logits);
double expected_latency_ms(const DnasLatencyModel& m, const std::vector<Variable>& logits);

}  // namespace hwnas
