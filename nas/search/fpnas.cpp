// FP-NAS (Yan et al. 2021, "FP-NAS: Fast Probabilistic Neural Architecture Search"): a
// PARSEC-style probabilistic search. A categorical distribution over the space's dimensions
// (nas/search/fpnas.h) is sampled, each sampled subnet is scored, and the logits follow the policy
// gradient. FP-NAS's two ideas on top of PARSEC: adaptive sampling (fewer samples per step as the
// distribution sharpens) and coarse-to-fine (a factorized distribution first, then a joint one).
//
// Choices where the paper leaves a detail open, or where this differs from it:
//  - The paper trains the supernet weights and the distribution together, and PARSEC's update is
//    an empirical-Bayes importance weighting of the samples. Here the supernet is already trained
//    (accuracy comes from ctx.eval: the supernet with recalibrated BN, or any oracle), so the
//    distribution is the only thing learned, by REINFORCE on the logits:
//      logits += lr * (1/n) sum_i A_i * grad log p(x_i),
//    A_i = (r_i - b) / s, b an exponential moving average of the step's mean reward (decay
//    `baseline_decay`, 0.9; first step: its mean), s the root of a moving average of (r - b)^2
//    with the same decay, floored at 1e-3 (0.1 accuracy point), so `lr` is in logit units per
//    reward standard deviation. b and s are updated after each step's gradient.
//  - Reward r = accuracy - `penalty` * violation, violation = sum over the constraints of the
//    relative excess max(0, value - bound) / |bound| (candidate.h violation(); a lower bound such
//    as accuracy>=0.9 counts the shortfall alike). `penalty` defaults to 1: 10% over a bound
//    costs 0.1 of accuracy. Infeasible samples are evaluated (the penalty needs their accuracy).
//  - Adaptive sampling: n_t = clamp(ceil(max_samples * H_t / H_0), min_samples, max_samples),
//    H_t the entropy of the distribution over distinct networks (ArchDistribution::entropy), H_0
//    that of the uniform start, so the first step draws max_samples (the paper: n proportional to
//    the entropy, with a floor). `adaptive=0`: max_samples every step (the fixed-count baseline).
//    H_t counts a block's entropy weighted by the probability that its block runs, so it can rise
//    while the depth distribution moves to deeper stages.
//  - Measured (tests/nas/search/fpnas_test.cpp DISABLED_AdaptiveVsFixedExperiment; elastic-mobile,
//    a synthetic proxy oracle, not a trained supernet; 5 seeds): at lr 0.25 adaptive reached the
//    fixed-count run's final reward in 4/5 seeds with 59% fewer samples (30% fewer distinct
//    evaluations) and converged with 60% fewer samples; at the default lr 0.5 it converged with
//    57% fewer samples but reached the fixed-count reward in only 2/5 seeds (fewer samples per step
//    make a noisier gradient, so a large lr can lock in early). The paper claims 64% fewer.
//  - Coarse-to-fine switch: after the first step at which the distinct evaluations used reach
//    `coarse_frac` (0.3) of the budget or H_t / H_0 falls to `coarse_entropy` (0.6) or below,
//    whichever comes first. Coupling: per block, the joint categorical over all the dimensions
//    the block searches (kernel x expand, x width, x ops, x radix where the space has them),
//    initialised from the product of the factorized marginals; a block with more than
//    `joint_max` (64) combinations stays factorized; depth dimensions stay alone.
//    `coarse_frac=0` couples after the first step; `coarse_frac=1 coarse_entropy=0` never does.
//  - Stop: when the budget of distinct evaluations is spent (the step that spends it is finished
//    with the samples it has), when H_t / H_0 <= `stop_entropy` (0.05: converged), or after
//    `max_steps` steps (repeated samples are free, so a step can cost no evaluation at all).
//  - The answer (SearchOutcome.chosen) is the mode of the final distribution (every group at its
//    most likely entry), canonical. The run then evaluates it (one evaluation beyond the budget
//    if it was never sampled).
//  - Any space works; the builtin elastic-mobile has no radix dimension (its blocks couple
//    kernel x expand only), a spec with "radix" lists gets kernel x expand x radix per block.
//  - info: steps, samples_drawn (sampled archs with repeats), evaluations (distinct archs this
//    run evaluated), final_entropy (nats) and final_entropy_ratio (H/H_0), samples_per_step,
//    switch_step (-1: never coupled), converged, logits (factorized / joint count); with
//    `trace=1` also per step the mode arch, mean reward, entropy ratio and cumulative counts.
#include "nas/search/fpnas.h"

#include <algorithm>
#include <cmath>
#include <limits>

#include "nas/search/algorithms.h"
#include "tensor/error.h"

namespace hwnas {

using nlohmann::json;

namespace {

constexpr size_t kNone = std::numeric_limits<size_t>::max();

double entropy_of(const std::vector<double>& p) {
  double h = 0;
  for (double x : p)
    if (x > 0) h -= x * std::log(x);
  return h;
}

}  // namespace

ArchDistribution::ArchDistribution(const SearchSpace& s) : s_(s), depth_dim_(s.stages.size(), kNone) {
  for (size_t d = 0; d < s.dims.size(); ++d) {
    Group g;
    g.dims = {d};
    g.sizes = {s.dims[d].size()};
    g.logits.assign(s.dims[d].size(), 0.0);
    g.depth = s.dims[d].kind == DimKind::depth;
    if (g.depth) depth_dim_[s.dims[d].stage] = d;
    groups_.push_back(std::move(g));
  }
  max_entropy_ = entropy();
}

std::vector<double> ArchDistribution::probs(const Group& g) const {
  const double m = *std::max_element(g.logits.begin(), g.logits.end());
  std::vector<double> p(g.logits.size());
  double z = 0;
  for (size_t i = 0; i < p.size(); ++i) z += p[i] = std::exp(g.logits[i] - m);
  for (double& x : p) x /= z;
  return p;
}

void ArchDistribution::decode(const Group& g, size_t index, std::vector<size_t>& choices) const {
  for (size_t j = 0; j < g.dims.size(); ++j) {
    choices[g.dims[j]] = index % g.sizes[j];
    index /= g.sizes[j];
  }
}

size_t ArchDistribution::encode(const Group& g, const std::vector<size_t>& choices) const {
  size_t index = 0;
  for (size_t j = g.dims.size(); j-- > 0;) index = index * g.sizes[j] + choices[g.dims[j]];
  return index;
}

size_t ArchDistribution::num_logits() const {
  size_t n = 0;
  for (const Group& g : groups_) n += g.logits.size();
  return n;
}

size_t ArchDistribution::joint_groups() const {
  size_t n = 0;
  for (const Group& g : groups_) n += g.dims.size() > 1;
  return n;
}

void ArchDistribution::couple(size_t joint_max) {
  if (coupled_) return;
  coupled_ = true;
  std::vector<Group> next;
  std::vector<Group> block;  // the current block's factorized groups
  auto flush = [&] {
    size_t product = 1;
    for (const Group& g : block) product *= g.logits.size();
    if (block.size() <= 1 || product > joint_max) {
      for (Group& g : block) next.push_back(std::move(g));
    } else {
      Group j;
      std::vector<std::vector<double>> logp;
      for (const Group& g : block) {
        j.dims.push_back(g.dims[0]);
        j.sizes.push_back(g.sizes[0]);
        auto p = probs(g);
        for (double& x : p) x = std::log(x);
        logp.push_back(std::move(p));
      }
      j.logits.assign(product, 0.0);
      for (size_t i = 0; i < product; ++i) {
        size_t rest = i;
        for (size_t k = 0; k < block.size(); ++k) {
          j.logits[i] += logp[k][rest % j.sizes[k]];
          rest /= j.sizes[k];
        }
      }
      next.push_back(std::move(j));
    }
    block.clear();
  };
  // Groups are one per dimension here, in s.dims order: per stage its depth, then per block its
  // dimensions, so a block's dimensions are consecutive.
  for (Group& g : groups_) {
    if (!block.empty() && (g.depth || s_.dims[g.dims[0]].block != s_.dims[block[0].dims[0]].block)) flush();
    if (g.depth)
      next.push_back(std::move(g));
    else
      block.push_back(std::move(g));
  }
  flush();
  groups_ = std::move(next);
}

std::vector<size_t> ArchDistribution::sample(Generator& gen) const {
  std::vector<size_t> choices(s_.dims.size(), 0);
  for (const Group& g : groups_) {
    const auto p = probs(g);
    const double u = gen.uniform();
    double acc = 0;
    size_t pick = p.size() - 1;
    for (size_t i = 0; i < p.size(); ++i) {
      acc += p[i];
      if (u < acc) {
        pick = i;
        break;
      }
    }
    decode(g, pick, choices);
  }
  return choices;
}

std::vector<size_t> ArchDistribution::mode() const {
  std::vector<size_t> choices(s_.dims.size(), 0);
  for (const Group& g : groups_)
    decode(g, static_cast<size_t>(std::max_element(g.logits.begin(), g.logits.end()) - g.logits.begin()), choices);
  return choices;
}

bool ArchDistribution::active(const std::vector<size_t>& choices, size_t d) const {
  const Dimension& dim = s_.dims[d];
  if (dim.kind == DimKind::depth) return true;
  const size_t dd = depth_dim_[dim.stage];
  if (dd == kNone) return true;
  return s_.dims[dd].values[choices[dd]] > static_cast<int64_t>(s_.blocks[dim.block].index_in_stage);
}

double ArchDistribution::block_runs(const Group& g) const {
  if (g.depth) return 1;
  const Dimension& dim = s_.dims[g.dims[0]];
  const size_t dd = depth_dim_[dim.stage];
  if (dd == kNone) return 1;
  const auto& values = s_.dims[dd].values;
  const auto p = marginal(dd);
  double run = 0;
  for (size_t c = 0; c < values.size(); ++c)
    if (values[c] > static_cast<int64_t>(s_.blocks[dim.block].index_in_stage)) run += p[c];
  return run;
}

double ArchDistribution::entropy() const {
  double h = 0;
  for (const Group& g : groups_) h += block_runs(g) * entropy_of(probs(g));
  return h;
}

std::vector<double> ArchDistribution::marginal(size_t d) const {
  for (const Group& g : groups_)
    for (size_t j = 0; j < g.dims.size(); ++j) {
      if (g.dims[j] != d) continue;
      const auto p = probs(g);
      std::vector<double> m(g.sizes[j], 0.0);
      std::vector<size_t> choices(s_.dims.size(), 0);
      for (size_t i = 0; i < p.size(); ++i) {
        decode(g, i, choices);
        m[choices[d]] += p[i];
      }
      return m;
    }
  fail("ArchDistribution: no dimension {} (the space has {})", d, s_.dims.size());
}

void ArchDistribution::reinforce(const std::vector<std::vector<size_t>>& draws, const std::vector<double>& adv,
                                 double lr) {
  if (draws.empty()) return;
  const double scale = lr / static_cast<double>(draws.size());
  for (Group& g : groups_) {
    const auto p = probs(g);
    std::vector<double> grad(p.size(), 0.0);
    for (size_t i = 0; i < draws.size(); ++i) {
      if (!active(draws[i], g.dims[0])) continue;
      for (size_t k = 0; k < p.size(); ++k) grad[k] -= adv[i] * p[k];
      grad[encode(g, draws[i])] += adv[i];
    }
    for (size_t k = 0; k < p.size(); ++k) g.logits[k] += scale * grad[k];
  }
}

namespace {

struct Options {
  double lr, baseline_decay, penalty, coarse_frac, coarse_entropy, stop_entropy;
  int64_t min_samples, max_samples, joint_max, max_steps;
  bool adaptive, trace;
};

int64_t integer_option(const SearchContext& ctx, const std::string& key, int64_t fallback, int64_t lo) {
  const double v = ctx.option(key, static_cast<double>(fallback));
  if (v != std::floor(v) || v < static_cast<double>(lo))
    fail("search fpnas: option \"{}\" must be an integer >= {}, got {}", key, lo, v);
  return static_cast<int64_t>(v);
}

double range_option(const SearchContext& ctx, const std::string& key, double fallback, double lo, double hi,
                    bool open_lo = false, bool open_hi = false) {
  const double v = ctx.option(key, fallback);
  if (!(open_lo ? v > lo : v >= lo) || !(open_hi ? v < hi : v <= hi) || std::isnan(v))
    fail("search fpnas: option \"{}\" must be in {}{}, {}{}, got {}", key, open_lo ? "(" : "[", lo, hi,
         open_hi ? ")" : "]", v);
  return v;
}

Options read_options(const SearchContext& ctx) {
  Options o;
  const double inf = std::numeric_limits<double>::infinity();
  o.lr = range_option(ctx, "lr", 0.5, 0, inf, true, true);
  o.baseline_decay = range_option(ctx, "baseline_decay", 0.9, 0, 1, false, true);
  o.penalty = range_option(ctx, "penalty", 1.0, 0, inf, false, true);
  o.coarse_frac = range_option(ctx, "coarse_frac", 0.3, 0, 1);
  o.coarse_entropy = range_option(ctx, "coarse_entropy", 0.6, 0, 1);
  o.stop_entropy = range_option(ctx, "stop_entropy", 0.05, 0, 1, false, true);
  o.min_samples = integer_option(ctx, "min_samples", 2, 1);
  o.max_samples = integer_option(ctx, "max_samples", 8, 1);
  o.joint_max = integer_option(ctx, "joint_max", 64, 1);
  o.max_steps = integer_option(ctx, "max_steps", 10000, 1);
  const int64_t adaptive = integer_option(ctx, "adaptive", 1, 0);
  const int64_t trace = integer_option(ctx, "trace", 0, 0);
  if (adaptive > 1 || trace > 1) fail("search fpnas: options \"adaptive\" and \"trace\" are 0 or 1");
  o.adaptive = adaptive == 1;
  o.trace = trace == 1;
  if (o.min_samples > o.max_samples)
    fail("search fpnas: \"min_samples\" ({}) must not exceed \"max_samples\" ({})", o.min_samples, o.max_samples);
  return o;
}

SearchOutcome run_fpnas(SearchContext& ctx) {
  const SearchSpace& s = ctx.space;
  const Options o = read_options(ctx);
  ArchDistribution dist(s);
  const double h0 = dist.max_entropy();
  const int64_t evals0 = ctx.eval.evaluations();
  const size_t factorized_logits = dist.num_logits();

  json per_step = json::array(), trace = json::array();
  int64_t steps = 0, drawn = 0, switch_step = -1;
  double baseline = 0, var = 0;
  bool have_baseline = false, converged = h0 <= 0, out_of_budget = false;
  auto ratio = [&] { return h0 > 0 ? dist.entropy() / h0 : 0.0; };

  while (!converged && !out_of_budget && steps < o.max_steps) {
    const double r_t = ratio();
    const auto n = o.adaptive ? std::clamp<int64_t>(static_cast<int64_t>(std::ceil(o.max_samples * r_t - 1e-9)),
                                                    o.min_samples, o.max_samples)
                              : o.max_samples;
    std::vector<std::vector<size_t>> draws;
    std::vector<double> rewards;
    for (int64_t i = 0; i < n; ++i) {
      auto choices = dist.sample(ctx.gen);
      const Arch a = canonical_arch(s, arch_from_choices(s, choices));
      if (!ctx.eval.evaluated(a) && !ctx.budget_left()) {
        out_of_budget = true;
        break;
      }
      ++drawn;
      const Candidate c = ctx.eval.evaluate(a, "fpnas");
      rewards.push_back(c.accuracy - o.penalty * violation(c, ctx.cfg.constraints));
      draws.push_back(std::move(choices));
    }
    if (draws.empty()) break;
    double mean = 0;
    for (double r : rewards) mean += r;
    mean /= static_cast<double>(rewards.size());
    if (!have_baseline) {
      baseline = mean;
      var = 0;
      for (double r : rewards) var += (r - mean) * (r - mean);
      var /= static_cast<double>(rewards.size());
      have_baseline = true;
    }
    const double sd = std::max(std::sqrt(var), 1e-3);
    std::vector<double> adv;
    double sq = 0;
    for (double r : rewards) {
      adv.push_back((r - baseline) / sd);
      sq += (r - baseline) * (r - baseline);
    }
    dist.reinforce(draws, adv, o.lr);
    var = o.baseline_decay * var + (1 - o.baseline_decay) * sq / static_cast<double>(rewards.size());
    baseline = o.baseline_decay * baseline + (1 - o.baseline_decay) * mean;
    ++steps;
    per_step.push_back(static_cast<int64_t>(draws.size()));
    const int64_t used = ctx.eval.evaluations() - evals0;
    if (!dist.coupled() && (static_cast<double>(used) >= o.coarse_frac * static_cast<double>(ctx.cfg.budget) ||
                            ratio() <= o.coarse_entropy)) {
      dist.couple(static_cast<size_t>(o.joint_max));
      switch_step = steps;
    }
    const double r_after = ratio();
    converged = r_after <= o.stop_entropy;
    if (o.trace)
      trace.push_back({{"samples", static_cast<int64_t>(draws.size())}, {"samples_total", drawn},
                       {"evaluations", used}, {"mean_reward", mean}, {"entropy_ratio", r_after},
                       {"mode", arch_to_json(s, canonical_arch(s, arch_from_choices(s, dist.mode())))}});
    ctx.progress("fpnas", ctx.eval.evaluations(), ctx.cfg.budget);
  }

  const Arch chosen = canonical_arch(s, arch_from_choices(s, dist.mode()));
  json info = {{"steps", steps},
               {"samples_drawn", drawn},
               {"evaluations", ctx.eval.evaluations() - evals0},
               {"final_entropy", dist.entropy()},
               {"final_entropy_ratio", ratio()},
               {"initial_entropy", h0},
               {"samples_per_step", per_step},
               {"adaptive", o.adaptive},
               {"switch_step", switch_step},
               {"converged", converged},
               {"logits", {{"factorized", factorized_logits}, {"final", dist.num_logits()},
                           {"joint_groups", dist.joint_groups()}}}};
  if (o.trace) info["trace"] = trace;
  return {chosen, info};
}

}  // namespace

AlgorithmInfo fpnas_algorithm() {
  return {"fpnas",
          "FP-NAS: REINFORCE on a categorical distribution, entropy-adaptive sample counts, factorized then "
          "per-block joint",
          false,
          {"lr", "baseline_decay", "penalty", "coarse_frac", "coarse_entropy", "stop_entropy", "min_samples",
           "max_samples", "joint_max", "max_steps", "adaptive", "trace"},
          run_fpnas};
}

}  // namespace hwnas
