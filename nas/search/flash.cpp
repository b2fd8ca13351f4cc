// FLASH (Li et al. 2021, "FLASH: Fast Neural Architecture Search with Hardware Optimization"):
// a training-free topology metric (NN-Degree, nas/search/nn_degree.h), an accuracy predictor fit
// on a few trained subnets, and a hierarchical SHGO-style optimizer that maximises predicted
// accuracy under analytical hardware constraints (the roofline target is FLASH's latency /
// energy / area model).
//
// Steps and the choices the paper leaves open (or that differ from it):
//  1. Training subnets: `train_subnets` (25, as in FLASH) distinct subnets drawn uniformly per
//     dimension, redrawn (up to `max_tries`) while their cost breaks a constraint when
//     `train_feasible` is on; their accuracy comes from ctx.eval.evaluate (counted). With a
//     supernet oracle this is the supernet's accuracy of each subnet (batch norm recalibrated),
//     not 25 separately trained networks as in the paper: a documented simplification. At most
//     budget - 1 are drawn, so the run's final evaluation of the chosen subnet fits the budget.
//  2. Predictor: ordinary least squares with a small ridge (`ridge`, on standardised slopes) of
//     accuracy on `features` (default nn_degree, log_params, log_macs); its leave-one-out
//     quality (exact for a linear fit: residual / (1 - leverage)) goes into the info.
//  3. Continuous relaxation: every choice index becomes a real in [0, choices - 1]. NN-Degree,
//     parameters, MACs and every constrained cost are written as a block-additive model
//     (flash.h: a table per block over its joint choices, gated by the stage depth) fitted by
//     least squares on `surrogate_samples` subnets whose cost the Evaluator gives (uncounted and
//     cached). For sums over layers (NN-Degree, params, MACs, roofline latency and energy) the
//     model is exact at every subnet of elastic-mobile and fbnet (the info reports each fit's
//     relative RMS residual); roofline area and on-chip memory are maxima, so only approximated.
//     Between integer points the model interpolates multilinearly. The optimizer works on this
//     model; every subnet it proposes is re-checked with the exact cost and exact features.
//     Why a model and not cost() itself: measured here (a shared 2-core machine, hence the
//     spread), one uncached roofline cost() of an elastic-mobile subnet takes 0.2-0.8 ms
//     (network JSON, parsing, per-layer profile) and NN-Degree 0.02-0.08 ms, while the
//     optimizer evaluates its objective ~10^4 times; the model answers in about a microsecond.
//     Samples: `surrogate_samples` (0: 3 x the model's parameters, clamped to [100, 1000]; 183
//     for elastic-mobile), the training subnets first.
//  4. SHGO (Endres et al. 2018) per level: `samples` (128) points of a randomly shifted Halton
//     sequence in the relaxation (the Sobol sampling of SHGO; Halton needs no direction-number
//     tables); points that break a constraint are dropped, as SHGO does (unless fewer than
//     neighbours + 1 remain: then all points stay, ranked by a penalised objective). A full
//     Delaunay triangulation is infeasible in 10-25 dimensions, so the simplicial complex is
//     replaced by the symmetric k-nearest-neighbour graph (k = `neighbors`, 0: min(2 dims, 12))
//     in coordinates scaled to the unit cube. Minimizer candidates are the vertices better than
//     all their neighbours; from the best `local_starts` (4) of them NLopt's COBYLA minimises
//     -predicted accuracy with the constraints as inequality constraints (`local_evals`, 100, each).
//     Each local minimum (and the vertex it started from) is rounded to the nearest choices,
//     then, on the model alone, repaired while it breaks a constraint (one choice index down at
//     a time, keeping the most predicted accuracy) and polished by steepest single-choice moves
//     (+-1 index) that stay feasible and raise predicted accuracy (an addition to SHGO: rounding
//     a point on the constraint boundary otherwise gives accuracy away). The proposals are then
//     checked with the exact cost (ctx.eval.cost) and exact features, best first, until
//     `exact_checks` (8) were checked or three passed; the best that passes wins (if none does,
//     the best is repaired against the exact cost).
//  5. Hierarchy (two levels; `hierarchical` 0 runs one level over all dimensions): level 1
//     searches the stage-level choices (the depths); it scores a depth point by the model with
//     every block-level choice at one common fraction lambda of its range, lambda the best
//     feasible of a 9-point grid refined by bisection (a 1-D inner solve standing in for "the
//     best blocks this depth allows"). The `stage_candidates` (2) best distinct rounded depth
//     vectors go to level 2, which searches the block-level choices (kernel, expand, width, ops,
//     radix) of the blocks those depths keep. Spaces without depth choices (fbnet) have one
//     level.
//  6. The optimizer phase alone (after both models are fit, exact re-checks included) is timed
//     as info "optimizer_seconds"; the exact checks' calls to the target are also timed apart
//     ("exact_cost_seconds"), since on a measured target they are measurements, not optimizer work.
#include <nlopt.h>

#include <algorithm>
#include <chrono>
#include <cmath>
#include <map>
#include <set>
#include <sstream>

#include "nas/search/algorithms.h"
#include "nas/search/flash.h"
#include "nas/search/nn_degree.h"
#include "tensor/error.h"

namespace hwnas {

using nlohmann::json;

namespace {

constexpr size_t kMaxQuantities = 16;

double seconds_since(std::chrono::steady_clock::time_point t0) {
  return std::chrono::duration<double>(std::chrono::steady_clock::now() - t0).count();
}

std::vector<std::string> split_list(const std::string& text) {
  std::vector<std::string> out;
  std::stringstream ss(text);
  for (std::string part; std::getline(ss, part, ',');) {
    const size_t b = part.find_first_not_of(" \t"), e = part.find_last_not_of(" \t");
    if (b != std::string::npos) out.push_back(part.substr(b, e - b + 1));
  }
  return out;
}

struct FlashOptions {
  int64_t train_subnets = 25, max_tries = 200, surrogate_samples = 0, samples = 128, neighbors = 0;
  int64_t local_starts = 4, local_evals = 100, stage_candidates = 2, exact_checks = 8;
  bool train_feasible = true, hierarchical = true;
  double ridge = 1e-3;
  std::vector<std::string> features;
};

FlashOptions read_options(const SearchContext& ctx) {
  FlashOptions o;
  auto integer = [&](const char* key, int64_t fallback, int64_t min_value) {
    const double v = ctx.option(key, static_cast<double>(fallback));
    if (v != std::floor(v) || v < static_cast<double>(min_value))
      fail("search flash: option \"{}\" must be an integer >= {}, got {}", key, min_value, v);
    return static_cast<int64_t>(v);
  };
  auto flag = [&](const char* key, bool fallback) {
    const double v = ctx.option(key, fallback ? 1.0 : 0.0);
    if (v != 0 && v != 1) fail("search flash: option \"{}\" must be 0 or 1, got {}", key, v);
    return v == 1;
  };
  o.features = split_list(ctx.option("features", std::string("nn_degree,log_params,log_macs")));
  if (o.features.empty()) fail("search flash: option \"features\" lists no feature");
  for (const std::string& f : o.features)
    if (std::find(flash_feature_names().begin(), flash_feature_names().end(), f) == flash_feature_names().end())
      fail("search flash: option \"features\": unknown feature \"{}\" (known: nn_degree, log_nn_degree, "
           "log_params, log_macs)", f);
  o.train_subnets = integer("train_subnets", o.train_subnets, static_cast<int64_t>(o.features.size()) + 2);
  o.max_tries = integer("max_tries", o.max_tries, 1);
  o.surrogate_samples = integer("surrogate_samples", o.surrogate_samples, 0);
  o.samples = integer("samples", o.samples, 8);
  o.neighbors = integer("neighbors", o.neighbors, 0);
  o.local_starts = integer("local_starts", o.local_starts, 1);
  o.local_evals = integer("local_evals", o.local_evals, 10);
  o.stage_candidates = integer("stage_candidates", o.stage_candidates, 1);
  o.exact_checks = integer("exact_checks", o.exact_checks, 1);
  o.train_feasible = flag("train_feasible", o.train_feasible);
  o.hierarchical = flag("hierarchical", o.hierarchical);
  o.ridge = ctx.option("ridge", o.ridge);
  if (!(o.ridge >= 0)) fail("search flash: option \"ridge\" must be >= 0, got {}", o.ridge);
  return o;
}

// The continuous relaxation: quantities 0 nn_degree, 1 params, 2 macs, then one per other
// constrained metric; constraints as g <= 0 (relative excess, as violation() measures it).
struct Relaxation {
  const SearchSpace& space;
  BlockAdditiveModel model;
  FlashPredictor pred;
  std::vector<Constraint> cons;
  std::vector<int> cons_q;  // the quantity of each constraint; -1: predicted accuracy
  std::vector<int> feature_code;  // 0 nn_degree, 1 log_nn_degree, 2 log_params, 3 log_macs

  explicit Relaxation(const SearchSpace& s) : space(s), model(s) {}

  double accuracy_of(const double* q) const {
    double y = pred.coef[0];
    for (size_t j = 0; j < feature_code.size(); ++j) {
      double f = 0;
      switch (feature_code[j]) {
        case 0: f = q[0]; break;
        case 1: f = std::log(std::max(q[0], 1e-9)); break;
        case 2: f = std::log(std::max(q[1], 1.0)); break;
        default: f = std::log(std::max(q[2], 1.0)); break;
      }
      y += pred.coef[j + 1] * (f - pred.mean[j]) / pred.scale[j];
    }
    return y;
  }
  // Level 1 sets these: the block-level dimensions that follow one common fraction of their
  // ranges (see eval).
  std::vector<size_t> fill_dims;

  // Predicted accuracy at x; g (when given) receives one value per constraint. With fill_dims,
  // x's stage-level point is scored with every fill dimension at lambda * (its top index), lambda
  // the best-scoring feasible one of a grid of 9 in [0, 1], refined by bisection where the grid
  // turns infeasible (0 when none is feasible: the least cost).
  double eval(const double* x, double* g) const {
    if (fill_dims.empty()) return eval_plain(x, g);
    std::vector<double> y(x, x + space.dims.size());
    double gg[kMaxQuantities];
    auto at = [&](double lambda, double* viol) {
      for (size_t v : fill_dims) y[v] = lambda * static_cast<double>(space.dims[v].size() - 1);
      const double acc = eval_plain(y.data(), gg);
      *viol = 0;
      for (size_t i = 0; i < cons.size(); ++i) *viol += std::max(0.0, gg[i]);
      return acc;
    };
    double best_lambda = 0, best_acc = -1e300, viol = 0;
    bool any = false;
    double last_ok = -1;
    for (int i = 0; i <= 8; ++i) {
      const double lambda = i / 8.0, acc = at(lambda, &viol);
      if (viol > 0) {
        if (last_ok >= 0 && last_ok == (i - 1) / 8.0) {  // refine the edge of feasibility
          double a = last_ok, b = lambda;
          for (int k = 0; k < 8; ++k) {
            const double mid = 0.5 * (a + b), am = at(mid, &viol);
            if (viol > 0) b = mid;
            else {
              a = mid;
              if (am > best_acc) best_acc = am, best_lambda = mid;
            }
          }
        }
        continue;
      }
      any = true;
      last_ok = lambda;
      if (acc > best_acc) best_acc = acc, best_lambda = lambda;
    }
    if (!any) best_lambda = 0;
    const double acc = at(best_lambda, &viol);
    if (g)
      for (size_t i = 0; i < cons.size(); ++i) g[i] = gg[i];
    return acc;
  }
  double eval_plain(const double* x, double* g) const {
    double q[kMaxQuantities];
    model.eval(x, q);
    const double acc = accuracy_of(q);
    if (g)
      for (size_t i = 0; i < cons.size(); ++i) {
        const double v = cons_q[i] < 0 ? acc : q[cons_q[i]];
        const double scale = std::max(std::abs(cons[i].bound), 1e-12);
        g[i] = (cons[i].upper ? v - cons[i].bound : cons[i].bound - v) / scale;
      }
    return acc;
  }
  double violation_at(const double* x, double* acc) const {
    double g[kMaxQuantities];
    *acc = eval(x, g);
    double v = 0;
    for (size_t i = 0; i < cons.size(); ++i) v += std::max(0.0, g[i]);
    return v;
  }
};

constexpr double kPenalty = 10;  // per unit of relative violation, against accuracy in [0, 1]

struct LevelStats {
  int64_t points = 0, feasible_points = 0, edges = 0, minimizers = 0, local_runs = 0, local_evals = 0;
  json to_json() const {
    return {{"points", points},         {"feasible_points", feasible_points}, {"edges", edges},
            {"minimizers", minimizers}, {"local_runs", local_runs},           {"local_evals", local_evals}};
  }
  void add(const LevelStats& o) {
    points += o.points, feasible_points += o.feasible_points, edges += o.edges;
    minimizers += o.minimizers, local_runs += o.local_runs, local_evals += o.local_evals;
  }
};

struct Point {
  std::vector<double> x;  // the full relaxation vector
  double acc = 0, viol = 0;
  double objective() const { return -acc + kPenalty * viol; }
};

struct LocalProblem {
  const Relaxation* r;
  const std::vector<size_t>* vars;
  std::vector<double> x;
  int64_t evals = 0;
  void set(const double* z) {
    for (size_t i = 0; i < vars->size(); ++i) x[(*vars)[i]] = z[i];
  }
};

double local_objective(unsigned, const double* z, double*, void* data) {
  auto* p = static_cast<LocalProblem*>(data);
  p->set(z);
  ++p->evals;
  return -p->r->eval(p->x.data(), nullptr);
}

void local_constraints(unsigned m, double* result, unsigned, const double* z, double*, void* data) {
  auto* p = static_cast<LocalProblem*>(data);
  p->set(z);
  double g[kMaxQuantities];
  p->r->eval(p->x.data(), g);
  for (unsigned i = 0; i < m; ++i) result[i] = g[i];
}

std::vector<uint64_t> first_primes(size_t n) {
  std::vector<uint64_t> p;
  for (uint64_t k = 2; p.size() < n; ++k) {
    bool prime = true;
    for (uint64_t q : p)
      if (q * q > k) break;
      else if (k % q == 0) prime = false;
    if (prime) p.push_back(k);
  }
  return p;
}

double radical_inverse(uint64_t i, uint64_t base) {
  double f = 1, r = 0;
  for (; i > 0; i /= base) {
    f /= static_cast<double>(base);
    r += f * static_cast<double>(i % base);
  }
  return r;
}

// One SHGO pass over `vars` (the others fixed at `base`): sample, build the neighbourhood
// complex, find its minimizer vertices and polish the best ones with COBYLA. Returns the local
// minima (and the vertices they started from), best first.
std::vector<Point> shgo_level(const Relaxation& r, const std::vector<size_t>& vars, const std::vector<double>& base,
                              const FlashOptions& o, Generator& gen, LevelStats& st) {
  const size_t d = vars.size();
  std::vector<double> hi(d);
  for (size_t i = 0; i < d; ++i) hi[i] = static_cast<double>(r.space.dims[vars[i]].size() - 1);
  auto make_point = [&](const std::vector<double>& x) {
    Point p;
    p.x = x;
    p.viol = r.violation_at(p.x.data(), &p.acc);
    return p;
  };
  if (d == 0) return {make_point(base)};

  // Sampling: a Halton sequence with a random shift per coordinate (Cranley-Patterson).
  const auto primes = first_primes(d);
  std::vector<double> shift(d);
  for (double& s : shift) s = gen.uniform();
  const size_t n = static_cast<size_t>(o.samples);
  std::vector<Point> pts;
  pts.reserve(n);
  for (size_t k = 0; k < n; ++k) {
    std::vector<double> x = base;
    for (size_t i = 0; i < d; ++i) {
      const double u = std::fmod(radical_inverse(k + 1, primes[i]) + shift[i], 1.0);
      x[vars[i]] = u * hi[i];
    }
    pts.push_back(make_point(x));
  }
  st.points += static_cast<int64_t>(n);
  const size_t k_nn = o.neighbors > 0 ? static_cast<size_t>(o.neighbors) : std::min<size_t>(2 * d, 12);
  std::vector<size_t> pool;
  for (size_t i = 0; i < n; ++i)
    if (pts[i].viol == 0) pool.push_back(i);
  st.feasible_points += static_cast<int64_t>(pool.size());
  if (pool.size() < k_nn + 1) {  // too few feasible points for a complex: keep all, penalised
    pool.resize(n);
    for (size_t i = 0; i < n; ++i) pool[i] = i;
  }

  // The complex: symmetric k-nearest-neighbour graph in unit-cube coordinates.
  const size_t m = pool.size(), k_eff = std::min(k_nn, m - 1);
  std::vector<std::vector<uint32_t>> adj(m);
  std::vector<std::pair<double, uint32_t>> dist(m);
  for (size_t a = 0; a < m; ++a) {
    for (size_t b = 0; b < m; ++b) {
      double s = 0;
      for (size_t i = 0; i < d; ++i) {
        const double diff = (pts[pool[a]].x[vars[i]] - pts[pool[b]].x[vars[i]]) / std::max(hi[i], 1.0);
        s += diff * diff;
      }
      dist[b] = {b == a ? 1e300 : s, static_cast<uint32_t>(b)};
    }
    std::partial_sort(dist.begin(), dist.begin() + static_cast<std::ptrdiff_t>(k_eff), dist.end());
    for (size_t j = 0; j < k_eff; ++j) {
      adj[a].push_back(dist[j].second);
      adj[dist[j].second].push_back(static_cast<uint32_t>(a));
    }
  }
  std::vector<size_t> minimizers;
  for (size_t a = 0; a < m; ++a) {
    auto& nb = adj[a];
    std::sort(nb.begin(), nb.end());
    nb.erase(std::unique(nb.begin(), nb.end()), nb.end());
    st.edges += static_cast<int64_t>(nb.size());
    const double fa = pts[pool[a]].objective();
    bool best = true;
    for (uint32_t b : nb) {
      const double fb = pts[pool[b]].objective();
      if (fb < fa || (fb == fa && b < a)) {
        best = false;
        break;
      }
    }
    if (best) minimizers.push_back(pool[a]);
  }
  st.edges /= 2;
  st.minimizers += static_cast<int64_t>(minimizers.size());
  std::sort(minimizers.begin(), minimizers.end(),
            [&](size_t a, size_t b) { return pts[a].objective() < pts[b].objective(); });
  if (minimizers.size() > static_cast<size_t>(o.local_starts)) minimizers.resize(static_cast<size_t>(o.local_starts));

  std::vector<Point> out;
  std::vector<double> lo(d, 0.0), tol(r.cons.size(), 1e-9);
  for (size_t start : minimizers) {
    out.push_back(pts[start]);
    LocalProblem lp{&r, &vars, base, 0};
    std::vector<double> z(d);
    for (size_t i = 0; i < d; ++i) z[i] = pts[start].x[vars[i]];
    nlopt_opt opt = nlopt_create(NLOPT_LN_COBYLA, static_cast<unsigned>(d));
    nlopt_set_lower_bounds(opt, lo.data());
    nlopt_set_upper_bounds(opt, hi.data());
    nlopt_set_min_objective(opt, local_objective, &lp);
    if (!r.cons.empty())
      nlopt_add_inequality_mconstraint(opt, static_cast<unsigned>(r.cons.size()), local_constraints, &lp, tol.data());
    nlopt_set_initial_step1(opt, 0.5);
    nlopt_set_xtol_abs1(opt, 1e-3);
    nlopt_set_maxeval(opt, static_cast<int>(o.local_evals));
    double fmin = 0;
    const nlopt_result res = nlopt_optimize(opt, z.data(), &fmin);
    nlopt_destroy(opt);
    st.local_runs += 1;
    st.local_evals += lp.evals;
    if (res < 0 && res != NLOPT_ROUNDOFF_LIMITED) continue;  // keep the start vertex only
    lp.set(z.data());
    out.push_back(make_point(lp.x));
  }
  std::stable_sort(out.begin(), out.end(), [](const Point& a, const Point& b) { return a.objective() < b.objective(); });
  return out;
}

// A subnet checked with the exact cost and exact features.
struct Checked {
  Arch arch;
  std::vector<size_t> choices;
  double accuracy = 0;  // predicted
  Candidate cand;       // exact cost; accuracy = predicted
  double viol = 0;
};

}  // namespace

namespace {

SearchOutcome run_flash(SearchContext& ctx) {
  const SearchSpace& s = ctx.space;
  const FlashOptions o = read_options(ctx);
  std::vector<Constraint> cost_cons;
  for (const Constraint& c : ctx.cfg.constraints)
    if (c.metric != "accuracy") cost_cons.push_back(c);
  // Every constrained metric must come from the evaluator (before any budget is spent).
  const std::map<std::string, double> probe = ctx.eval.cost(min_arch(s));
  for (const Constraint& c : cost_cons)
    if (!probe.count(c.metric)) {
      std::string known;
      for (const auto& [k, v] : probe) known += (known.empty() ? "" : ", ") + k;
      fail("search flash: constraint {} is on a metric this target does not give (it gives {})", c.text(), known);
    }

  // 1. Training subnets (counted evaluations).
  const int64_t n_train = std::min<int64_t>(o.train_subnets, ctx.cfg.budget - 1);
  if (n_train < static_cast<int64_t>(o.features.size()) + 2)
    fail("search flash: a budget of {} leaves {} subnets to fit the predictor; it needs at least {} (plus one "
         "evaluation of the chosen subnet)", ctx.cfg.budget, std::max<int64_t>(n_train, 0), o.features.size() + 2);
  std::set<std::string> seen;
  auto key = [&](const Arch& a) { return arch_to_json(s, a).dump(); };
  std::map<std::string, double> degree_cache;
  auto degree_of = [&](const Arch& a) {
    const std::string k = key(a);
    auto it = degree_cache.find(k);
    if (it != degree_cache.end()) return it->second;
    return degree_cache[k] = nn_degree(s, a);
  };
  std::vector<Arch> train;
  std::vector<double> train_acc;
  std::vector<std::vector<double>> train_rows;
  int64_t rejected = 0;
  const auto t_train = std::chrono::steady_clock::now();
  while (static_cast<int64_t>(train.size()) < n_train && ctx.budget_left()) {
    std::optional<Arch> pick, fallback;
    for (int64_t t = 0; t < o.max_tries && !pick; ++t) {
      Arch a = canonical_arch(s, sample_arch(s, ctx.gen));
      if (seen.count(key(a))) continue;
      if (!o.train_feasible || ctx.cost_feasible(a)) pick = a;
      else {
        ++rejected;
        if (!fallback) fallback = a;
      }
    }
    if (!pick) pick = fallback;
    if (!pick) break;  // the space has no new subnet left to draw
    seen.insert(key(*pick));
    const Candidate c = ctx.eval.evaluate(*pick, "flash:train");
    ctx.progress("flash: training subnets", static_cast<int64_t>(train.size()) + 1, n_train);
    train.push_back(c.arch);
    train_acc.push_back(c.accuracy);
    train_rows.push_back(flash_features(o.features, degree_of(c.arch), c.cost.at("params"), c.cost.at("macs")));
  }
  if (train.size() < o.features.size() + 2)
    fail("search flash: only {} distinct subnets could be drawn; the predictor needs {}", train.size(),
         o.features.size() + 2);
  const double train_seconds = seconds_since(t_train);

  // 2. Predictor.
  const auto t_fit = std::chrono::steady_clock::now();
  const FlashPredictorFit pfit = fit_flash_predictor(o.features, train_rows, train_acc, o.ridge);

  // 3. Block-additive models of the features and of every constrained cost.
  Relaxation rel(s);
  rel.pred = pfit.model;
  for (const std::string& f : o.features)
    rel.feature_code.push_back(static_cast<int>(std::find(flash_feature_names().begin(), flash_feature_names().end(), f) -
                                                flash_feature_names().begin()));
  std::vector<std::string> quantity = {"nn_degree", "params", "macs"};
  for (const Constraint& c : ctx.cfg.constraints) {
    rel.cons.push_back(c);
    if (c.metric == "accuracy") {  // on the predicted accuracy
      rel.cons_q.push_back(-1);
      continue;
    }
    auto it = std::find(quantity.begin(), quantity.end(), c.metric);
    if (it == quantity.end()) it = quantity.insert(quantity.end(), c.metric);
    rel.cons_q.push_back(static_cast<int>(it - quantity.begin()));
  }
  if (quantity.size() > kMaxQuantities) fail("search flash: too many constrained metrics");
  const size_t n_sur = o.surrogate_samples > 0
                           ? static_cast<size_t>(o.surrogate_samples)
                           : std::clamp<size_t>(3 * rel.model.parameters(), 100, 1000);
  std::vector<Arch> sur = train;
  std::set<std::string> sur_seen(seen);
  for (size_t t = 0; sur.size() < n_sur && t < 20 * n_sur; ++t) {
    Arch a = canonical_arch(s, sample_arch(s, ctx.gen));
    if (sur_seen.insert(key(a)).second) sur.push_back(a);
  }
  const auto sur_cost = ctx.eval.cost_many(sur);
  std::vector<std::vector<size_t>> sur_choices;
  std::vector<std::vector<double>> sur_values;
  for (size_t i = 0; i < sur.size(); ++i) {
    sur_choices.push_back(arch_choices(s, sur[i]));
    std::vector<double> v = {degree_of(sur[i]), sur_cost[i].at("params"), sur_cost[i].at("macs")};
    for (size_t q = 3; q < quantity.size(); ++q) v.push_back(sur_cost[i].at(quantity[q]));
    sur_values.push_back(v);
  }
  const std::vector<double> sur_err = rel.model.fit(sur_choices, sur_values);
  const double fit_seconds = seconds_since(t_fit);

  // 4-5. The optimizer phase (timed alone).
  const auto t_opt = std::chrono::steady_clock::now();
  // The exact checks' cost calls are timed apart: on a modeled target they take microseconds, on
  // a measured one (host-cpu) each is a real measurement of tens of ms, which is the target's
  // time, not the optimizer's.
  double exact_cost_seconds = 0;
  std::map<std::vector<size_t>, Checked> checked;
  auto check = [&](const std::vector<size_t>& c) -> const Checked& {
    const Arch a = canonical_arch(s, arch_from_choices(s, c));
    std::vector<size_t> cc = arch_choices(s, a);
    auto it = checked.find(cc);
    if (it != checked.end()) return it->second;
    Checked k;
    k.arch = a;
    k.choices = cc;
    k.cand.arch = a;
    const auto t_cost = std::chrono::steady_clock::now();
    k.cand.cost = ctx.eval.cost(a);
    exact_cost_seconds += seconds_since(t_cost);
    k.accuracy = rel.pred.predict(flash_features(o.features, degree_of(a), k.cand.cost.at("params"), k.cand.cost.at("macs")));
    k.cand.accuracy = k.accuracy;
    k.viol = violation(k.cand, ctx.cfg.constraints);
    return checked.emplace(cc, std::move(k)).first->second;
  };
  // Rounds a local minimum over `vars` to the nearest choices, then on the model alone: repairs
  // it while it breaks a constraint (one choice index down at a time: the move the model calls
  // feasible with the best predicted accuracy, else the one with the least violation), and
  // polishes it (steepest single-choice moves, +-1 index, that stay feasible and raise the
  // predicted accuracy; rounding a point on the constraint boundary otherwise loses accuracy).
  struct Proposal {
    double accuracy = 0, viol = 0;  // the model's
  };
  std::map<std::vector<size_t>, Proposal> proposals;
  int64_t repairs = 0, polish_moves = 0;
  std::vector<double> xc(s.dims.size());
  auto model_at = [&](const std::vector<size_t>& c, double* acc) {
    for (size_t i = 0; i < c.size(); ++i) xc[i] = static_cast<double>(c[i]);
    return rel.violation_at(xc.data(), acc);
  };
  auto settle = [&](const std::vector<double>& x, const std::vector<size_t>& vars) {
    std::vector<size_t> c(x.size());
    for (size_t i = 0; i < x.size(); ++i) {
      const double top = static_cast<double>(s.dims[i].size() - 1);
      c[i] = static_cast<size_t>(std::lround(std::clamp(x[i], 0.0, top)));
    }
    double acc = 0, viol = model_at(c, &acc);
    for (size_t step = 0; viol > 0 && step < 2 * vars.size(); ++step) {
      std::optional<size_t> best;
      double best_acc = -1e300, best_viol = 1e300;
      for (size_t v : vars) {
        if (c[v] == 0) continue;
        --c[v];
        double a = 0;
        const double vi = model_at(c, &a);
        ++c[v];
        const bool ok = vi == 0, best_ok = best && best_viol == 0;
        if ((ok && (!best_ok || a > best_acc)) || (!ok && !best_ok && vi < best_viol)) best = v, best_acc = a, best_viol = vi;
      }
      if (!best) break;
      --c[*best];
      acc = best_acc, viol = best_viol;
      ++repairs;
    }
    for (size_t pass = 0; viol == 0 && pass < 4 * vars.size(); ++pass) {
      std::optional<std::pair<size_t, bool>> best;
      double best_acc = acc + 1e-12;
      for (size_t v : vars)
        for (bool up : {false, true}) {
          if ((!up && c[v] == 0) || (up && c[v] + 1 >= s.dims[v].size())) continue;
          c[v] = up ? c[v] + 1 : c[v] - 1;
          double a = 0;
          const double vi = model_at(c, &a);
          c[v] = up ? c[v] - 1 : c[v] + 1;
          if (vi == 0 && a > best_acc) best = std::make_pair(v, up), best_acc = a;
        }
      if (!best) break;
      c[best->first] = best->second ? c[best->first] + 1 : c[best->first] - 1;
      acc = best_acc;
      ++polish_moves;
    }
    proposals[arch_choices(s, canonical_arch(s, arch_from_choices(s, c)))] = {acc, viol};
  };

  std::vector<size_t> stage_vars, block_vars;
  for (size_t i = 0; i < s.dims.size(); ++i) (s.dims[i].kind == DimKind::depth ? stage_vars : block_vars).push_back(i);
  LevelStats level1, level2;
  json stage_json = json::array();
  std::vector<double> mid(s.dims.size());
  for (size_t i = 0; i < s.dims.size(); ++i) mid[i] = 0.5 * static_cast<double>(s.dims[i].size() - 1);
  if (o.hierarchical && !stage_vars.empty()) {
    // Level 1: the depths, with the block-level choices at the middle of their ranges.
    Relaxation rel1 = rel;
    rel1.fill_dims = block_vars;
    std::vector<Point> minima = shgo_level(rel1, stage_vars, mid, o, ctx.gen, level1);
    // Rounded depth vectors ranked by the model at that depth (blocks still at the middle).
    std::vector<std::pair<double, std::vector<size_t>>> ranked;
    std::set<std::vector<size_t>> have;
    auto offer = [&](const std::vector<double>& x) {
      std::vector<size_t> dv;
      std::vector<double> xr = mid;
      for (size_t v : stage_vars) {
        dv.push_back(static_cast<size_t>(std::lround(std::clamp(x[v], 0.0, static_cast<double>(s.dims[v].size() - 1)))));
        xr[v] = static_cast<double>(dv.back());
      }
      if (!have.insert(dv).second) return;
      double acc = 0;
      const double viol = rel1.violation_at(xr.data(), &acc);
      ranked.push_back({-acc + kPenalty * viol, dv});
    };
    for (const Point& p : minima) offer(p.x);
    std::stable_sort(ranked.begin(), ranked.end(), [](const auto& a, const auto& b) { return a.first < b.first; });
    if (ranked.size() > static_cast<size_t>(o.stage_candidates)) ranked.resize(static_cast<size_t>(o.stage_candidates));
    // Level 2: per depth vector, the block-level choices of the blocks it keeps.
    for (const auto& [score, dv] : ranked) {
      std::vector<double> base(s.dims.size(), 0.0);  // dropped blocks' choices stay at 0
      for (size_t j = 0; j < stage_vars.size(); ++j) base[stage_vars[j]] = static_cast<double>(dv[j]);
      std::vector<size_t> vars;
      for (size_t v : block_vars) {
        const Dimension& dim = s.dims[v];
        int64_t depth = s.stages[dim.stage].depth.back();
        for (size_t j = 0; j < stage_vars.size(); ++j)
          if (s.dims[stage_vars[j]].stage == dim.stage) depth = s.dims[stage_vars[j]].values[dv[j]];
        if (static_cast<int64_t>(s.blocks[dim.block].index_in_stage) < depth) vars.push_back(v);
      }
      LevelStats st;
      const std::vector<Point> mins = shgo_level(rel, vars, base, o, ctx.gen, st);
      level2.add(st);
      for (const Point& p : mins) settle(p.x, vars);
      json depths = json::array();
      for (size_t j = 0; j < stage_vars.size(); ++j) depths.push_back(s.dims[stage_vars[j]].values[dv[j]]);
      stage_json.push_back({{"depth", depths}, {"level1_score", -score}, {"level2", st.to_json()}});
    }
  } else {
    std::vector<size_t> all(s.dims.size());
    for (size_t i = 0; i < all.size(); ++i) all[i] = i;
    for (const Point& p : shgo_level(rel, all, mid, o, ctx.gen, level2)) settle(p.x, all);
  }
  // The exact check: the proposals in the model's order (feasible first, then predicted
  // accuracy), with the exact cost and features, until `exact_checks` subnets were checked or
  // three passed; the best that passes wins. When none passes, the best proposal is repaired
  // against the exact cost.
  std::vector<std::pair<std::vector<size_t>, Proposal>> order(proposals.begin(), proposals.end());
  std::stable_sort(order.begin(), order.end(), [](const auto& a, const auto& b) {
    if ((a.second.viol == 0) != (b.second.viol == 0)) return a.second.viol == 0;
    return a.second.viol == 0 ? a.second.accuracy > b.second.accuracy : a.second.viol < b.second.viol;
  });
  auto better = [&](const Checked& k, const Checked& b) {
    const bool kf = k.viol == 0, bf = b.viol == 0;
    if (kf != bf) return kf;
    if (!kf) return k.viol < b.viol;
    return k.accuracy > b.accuracy ||
           (k.accuracy == b.accuracy && k.cand.metric(ctx.cfg.cost_metric) < b.cand.metric(ctx.cfg.cost_metric));
  };
  std::optional<Checked> best;
  int64_t passed = 0;
  for (size_t i = 0; i < order.size() && static_cast<int64_t>(checked.size()) < o.exact_checks && passed < 3; ++i) {
    const Checked& k = check(order[i].first);
    passed += k.viol == 0;
    if (!best || better(k, *best)) best = k;
  }
  int64_t exact_repairs = 0;
  if (best && best->viol > 0) {
    std::vector<size_t> c = best->choices;
    for (size_t step = 0; step < 2 * s.dims.size() && best->viol > 0; ++step) {
      std::optional<Checked> step_best;
      for (size_t v = 0; v < c.size(); ++v) {
        if (c[v] == 0) continue;
        --c[v];
        const Checked& k = check(c);
        ++c[v];
        if (!step_best || better(k, *step_best)) step_best = k;
      }
      if (!step_best) break;
      c = step_best->choices;
      ++exact_repairs;
      if (better(*step_best, *best)) best = step_best;
    }
  }
  const double optimizer_seconds = seconds_since(t_opt);

  json sur_json = json::object();
  for (size_t q = 0; q < quantity.size(); ++q) sur_json[quantity[q]] = sur_err[q];
  json info = {
      {"train_subnets", train.size()},
      {"rejected_by_cost", rejected},
      {"predictor", pfit.to_json()},
      {"surrogate", {{"samples", sur.size()}, {"parameters", rel.model.parameters()}, {"rel_rms_residual", sur_json}}},
      {"hierarchical", o.hierarchical && !stage_vars.empty()},
      {"level1", level1.to_json()},
      {"level2", level2.to_json()},
      {"stage_candidates", stage_json},
      {"proposals", proposals.size()},
      {"model_repair_steps", repairs},
      {"polish_moves", polish_moves},
      {"exact_checks", checked.size()},
      {"exact_repair_steps", exact_repairs},
      {"train_seconds", train_seconds},
      {"fit_seconds", fit_seconds},
      {"optimizer_seconds", optimizer_seconds},
      {"exact_cost_seconds", exact_cost_seconds},
      {"optimizer_seconds_without_exact_costs", optimizer_seconds - exact_cost_seconds},
  };
  if (!best) return {std::nullopt, info};
  info["chosen_predicted_accuracy"] = best->accuracy;
  info["chosen_feasible"] = best->viol == 0;
  info["chosen_cost"] = best->cand.cost;
  return {best->arch, info};
}

}  // namespace

AlgorithmInfo flash_algorithm() {
  return {"flash",
          "NN-Degree accuracy predictor fit on a few subnets, then hierarchical SHGO (kNN complex + COBYLA) "
          "under the target's cost constraints",
          false,
          {"train_subnets", "train_feasible", "max_tries", "features", "ridge", "surrogate_samples", "samples",
           "neighbors", "local_starts", "local_evals", "stage_candidates", "exact_checks", "hierarchical"},
          run_flash};
}

}  // namespace hwnas
