// HURRICANE (Zhang et al., "Fast Hardware-Aware Neural Architecture Search", 2019/2020): a
// per-target search space of hardware-specific candidate ops, then a two-stage one-shot search
// that trains and searches the later layers first (earlier layers fixed), then the earlier
// layers (later layers fixed to stage 1's answer).
//
// Choices made here where the paper leaves details open or where this engine differs:
//  - A "layer" is a block whose op-defining dimensions are searchable; its candidate ops are the
//    combinations of those dimensions: elastic-mobile's (kernel, expand) pairs of an MBConv
//    ("k3_e6", 6 per block), or a mixed-op space's named ops. Depth (and width, radix) are not
//    ops: they stay fully searchable in the part of the network they belong to.
//  - Op score (the paper ranks ops by representational capacity against measured latency on the
//    target; we measure the capacity with the supernet instead of a proxy):
//        A(l,o) = mean over R reference archs r of accuracy(r with layer l's op set to o)
//        C(l,o) = the same mean of the cost metric (the target's latency by default)
//        score(l,o) = A(l,o) - cost_weight * rate * C(l,o)
//        rate = max(0, acc(max arch) - acc(min arch)) / (cost(max arch) - cost(min arch))
//    i.e. an op is worth keeping when its accuracy beats what the space's average accuracy-per-
//    cost exchange rate would buy with its cost. Reference archs are uniform draws with every
//    depth at its maximum (so that every layer runs). The top `k` per layer (ties: cheaper
//    first) make the target's space. These evaluations use the search's evaluator (the given
//    supernet) and count against the budget; they are logged, so a re-run replays them.
//  - The per-target space is a ChoiceSets for the supernet trainer, whose sampler draws each
//    dimension independently: for elastic-mobile the kept (kernel, expand) pairs project onto a
//    set of kernels and a set of expands, so training samples their product (a superset of the
//    kept pairs). The stage searches draw exactly the kept pairs.
//  - Layer split: the later part is the stages from `split` on (default: the smallest stage
//    index whose stages hold at most half of the blocks; elastic-mobile: stages 2-3 of 0-3).
//  - Stage 1 fixes the earlier part at each layer's best-scored kept op and the deepest depth,
//    then, while even the cheapest later part breaks a cost constraint, greedily lowers the
//    earlier part's choice (a cheaper kept op or a smaller depth) that cuts the cost most.
//  - Each stage fine-tunes from the previous checkpoint (stage 1 from the search's supernet; from
//    scratch when none is given) with the uniform single-path sampler (SPOS) restricted to the
//    stage's space (`epochs` epochs over the first `train_limit` images, `lr` peak), into
//    out/hurricane/stageN (resumable: a re-run continues or reuses the checkpoint).
//  - The in-stage search is a small mutation-only evolution (hurricane_stage_search) whose
//    accuracies come from the stage's own retrained supernet (a second Evaluator over a
//    SupernetAccuracy on the stage checkpoint, logged in the stage folder so a re-run replays
//    it); costs come from the search's target. These evaluations count against the budget too:
//    the budget is split into scoring, stage 1 (half of what is left), stage 2 (the rest) and
//    `finals` evaluations through the search's evaluator of the best stage-2 subnets, so that
//    they enter pareto.json. Those final accuracies come from the search's (original)
//    supernet; the returned choice is stage 2's best by its own supernet.
//  - Simplification: the paper searches each stage with its one-shot supernet by evolution as
//    here, but on ImageNet-scale budgets; the candidate-op scoring there uses measured op
//    latency tables, here whole-subnet costs on the target with the op swapped in.
#include "nas/search/hurricane.h"

#include <algorithm>
#include <chrono>
#include <cmath>
#include <filesystem>
#include <map>
#include <numeric>
#include <set>

#include <fmt/format.h>
#include <fmt/ranges.h>

#include "io/atomic_file.h"
#include "nas/search/algorithms.h"
#include "nas/search/supernet_accuracy.h"
#include "nas/supernet_train.h"
#include "tensor/error.h"

namespace hwnas {

using nlohmann::json;

namespace {

bool op_dim(DimKind k) { return k == DimKind::kernel || k == DimKind::expand || k == DimKind::ops; }

double cost_of(const std::map<std::string, double>& c, const std::string& metric) {
  auto it = c.find(metric);
  if (it == c.end()) {
    std::vector<std::string> known;
    for (const auto& [k, v] : c) known.push_back(k);
    fail("search hurricane: the cost metric \"{}\" is not known for this target (known: {})", metric,
         fmt::join(known, ", "));
  }
  return it->second;
}

std::string arch_key(const SearchSpace& s, const Arch& a) { return arch_to_json(s, canonical_arch(s, a)).dump(); }

size_t max_index(const Dimension& d) {
  if (d.kind == DimKind::ops) return d.size() - 1;
  return static_cast<size_t>(std::max_element(d.values.begin(), d.values.end()) - d.values.begin());
}
size_t min_index(const Dimension& d) {
  if (d.kind == DimKind::ops) return 0;
  return static_cast<size_t>(std::min_element(d.values.begin(), d.values.end()) - d.values.begin());
}

double seconds_since(std::chrono::steady_clock::time_point t0) {
  return std::chrono::duration<double>(std::chrono::steady_clock::now() - t0).count();
}

}  // namespace

std::vector<HurricaneLayer> hurricane_layers(const SearchSpace& s) {
  std::map<size_t, HurricaneLayer> by_block;
  for (size_t i = 0; i < s.dims.size(); ++i) {
    const Dimension& d = s.dims[i];
    if (!op_dim(d.kind)) continue;
    HurricaneLayer& l = by_block[d.block];
    l.block = d.block;
    l.stage = d.stage;
    l.dims.push_back(i);
  }
  std::vector<HurricaneLayer> out;
  for (auto& [b, l] : by_block) {
    // Cartesian product of the dims' choices, the first dim outermost.
    std::vector<std::vector<size_t>> ops = {{}};
    for (size_t di : l.dims) {
      std::vector<std::vector<size_t>> next;
      for (const auto& prefix : ops)
        for (size_t c = 0; c < s.dims[di].size(); ++c) {
          auto p = prefix;
          p.push_back(c);
          next.push_back(std::move(p));
        }
      ops = std::move(next);
    }
    for (const auto& op : ops) {
      std::string name;
      for (size_t j = 0; j < l.dims.size(); ++j) {
        const Dimension& d = s.dims[l.dims[j]];
        if (!name.empty()) name += "_";
        if (d.kind == DimKind::ops) name += d.names[op[j]];
        else name += fmt::format("{}{}", d.kind == DimKind::kernel ? "k" : "e", d.values[op[j]]);
      }
      l.names.push_back(name);
    }
    l.ops = std::move(ops);
    out.push_back(std::move(l));
  }
  return out;
}

std::vector<Arch> hurricane_scoring_archs(const SearchSpace& s, int64_t refs, Generator& gen,
                                          std::vector<Arch>* references) {
  const auto layers = hurricane_layers(s);
  std::vector<Arch> out;
  std::set<std::string> seen;
  auto add = [&](const Arch& a) {
    if (seen.insert(arch_key(s, a)).second) out.push_back(canonical_arch(s, a));
  };
  if (references) references->clear();
  for (int64_t r = 0; r < refs; ++r) {
    std::vector<size_t> c = arch_choices(s, sample_arch(s, gen));
    for (size_t i = 0; i < s.dims.size(); ++i)
      if (s.dims[i].kind == DimKind::depth) c[i] = max_index(s.dims[i]);
    if (references) references->push_back(arch_from_choices(s, c));
    for (const auto& l : layers)
      for (const auto& op : l.ops) {
        auto x = c;
        for (size_t j = 0; j < l.dims.size(); ++j) x[l.dims[j]] = op[j];
        add(arch_from_choices(s, x));
      }
  }
  add(max_arch(s));
  add(min_arch(s));
  return out;
}

HurricaneOpScores hurricane_score_ops(const SearchSpace& s, Evaluator& eval, const HurricaneScoreOptions& o,
                                      Generator& gen, int64_t max_evaluations,
                                      const std::function<void(int64_t, int64_t)>& progress) {
  if (o.k < 1) fail("search hurricane: option \"k\" (ops kept per layer) must be at least 1, got {}", o.k);
  if (o.refs < 1) fail("search hurricane: option \"refs\" (reference archs) must be at least 1, got {}", o.refs);
  HurricaneOpScores sc;
  sc.layers = hurricane_layers(s);
  if (sc.layers.empty()) fail("search hurricane: space {} has no searchable ops (kernel, expand or ops)", s.name);
  std::vector<Arch> refs;
  const std::vector<Arch> archs = hurricane_scoring_archs(s, o.refs, gen, &refs);
  int64_t fresh = 0;
  for (const Arch& a : archs) fresh += !eval.evaluated(a);
  if (fresh > max_evaluations)
    fail("search hurricane: scoring the candidate ops needs {} evaluations ({} layers' ops x {} reference archs, "
         "plus max and min) but the budget leaves {} for it; raise --budget or lower refs",
         fresh, sc.layers.size(), o.refs, std::max<int64_t>(max_evaluations, 0));
  eval.cost_many(archs);  // measured targets time them together
  const int64_t before = eval.evaluations();
  std::map<std::string, std::pair<double, double>> acc_cost;
  for (size_t i = 0; i < archs.size(); ++i) {
    const Candidate c = eval.evaluate(archs[i], "hurricane:score");
    acc_cost[arch_key(s, archs[i])] = {c.accuracy, cost_of(c.cost, o.cost_metric)};
    if (progress) progress(static_cast<int64_t>(i + 1), static_cast<int64_t>(archs.size()));
  }
  sc.evaluations = eval.evaluations() - before;
  const auto [amax, cmax] = acc_cost.at(arch_key(s, max_arch(s)));
  const auto [amin, cmin] = acc_cost.at(arch_key(s, min_arch(s)));
  sc.rate = cmax > cmin ? std::max(0.0, amax - amin) / (cmax - cmin) : 0.0;

  for (const auto& l : sc.layers) {
    std::vector<double> A(l.ops.size(), 0.0), C(l.ops.size(), 0.0), S(l.ops.size());
    for (const Arch& r : refs) {
      const std::vector<size_t> c = arch_choices(s, r);
      for (size_t op = 0; op < l.ops.size(); ++op) {
        auto x = c;
        for (size_t j = 0; j < l.dims.size(); ++j) x[l.dims[j]] = l.ops[op][j];
        const auto& [a, k] = acc_cost.at(arch_key(s, arch_from_choices(s, x)));
        A[op] += a / static_cast<double>(refs.size());
        C[op] += k / static_cast<double>(refs.size());
      }
    }
    for (size_t op = 0; op < l.ops.size(); ++op) S[op] = A[op] - o.cost_weight * sc.rate * C[op];
    std::vector<size_t> order(l.ops.size());
    std::iota(order.begin(), order.end(), 0);
    std::stable_sort(order.begin(), order.end(), [&](size_t a, size_t b) {
      return S[a] != S[b] ? S[a] > S[b] : C[a] < C[b];
    });
    order.resize(std::min<size_t>(order.size(), static_cast<size_t>(o.k)));
    sc.accuracy.push_back(A);
    sc.cost.push_back(C);
    sc.score.push_back(S);
    sc.kept.push_back(order);
  }
  sc.allowed.assign(s.dims.size(), {});
  for (size_t li = 0; li < sc.layers.size(); ++li) {
    const auto& l = sc.layers[li];
    for (size_t j = 0; j < l.dims.size(); ++j) {
      std::set<size_t> u;
      for (size_t op : sc.kept[li]) u.insert(l.ops[op][j]);
      sc.allowed[l.dims[j]].assign(u.begin(), u.end());
    }
  }
  return sc;
}

json hurricane_scores_json(const HurricaneOpScores& sc) {
  json layers = json::array();
  for (size_t li = 0; li < sc.layers.size(); ++li) {
    const auto& l = sc.layers[li];
    json ops = json::array();
    for (size_t op = 0; op < l.ops.size(); ++op)
      ops.push_back({{"op", l.names[op]}, {"accuracy", sc.accuracy[li][op]}, {"cost", sc.cost[li][op]},
                     {"score", sc.score[li][op]}});
    json kept = json::array();
    for (size_t op : sc.kept[li]) kept.push_back(l.names[op]);
    layers.push_back({{"block", l.block}, {"stage", l.stage}, {"kept", kept}, {"ops", ops}});
  }
  return {{"rate", sc.rate}, {"evaluations", sc.evaluations}, {"layers", layers}};
}

size_t hurricane_default_split(const SearchSpace& s) {
  if (s.stages.size() < 2) fail("search hurricane: space {} has one stage; the two-stage search needs two", s.name);
  size_t total = 0;
  for (const auto& st : s.stages) total += st.num_blocks;
  for (size_t sp = 1; sp < s.stages.size(); ++sp) {
    size_t later = 0;
    for (size_t i = sp; i < s.stages.size(); ++i) later += s.stages[i].num_blocks;
    if (2 * later <= total) return sp;
  }
  return s.stages.size() - 1;
}

std::vector<bool> hurricane_later_dims(const SearchSpace& s, size_t split) {
  std::vector<bool> later(s.dims.size());
  for (size_t i = 0; i < s.dims.size(); ++i) later[i] = s.dims[i].stage >= split;
  return later;
}

std::vector<Candidate> hurricane_stage_search(const SearchSpace& s, const HurricaneOpScores& ops,
                                              const std::vector<bool>& searchable, const std::vector<size_t>& base,
                                              const HurricaneStageSearch& o,
                                              const std::function<Candidate(const Arch&)>& evaluate,
                                              const std::function<bool(const Arch&)>& cost_ok, Generator& gen) {
  HWNAS_CHECK(searchable.size() == s.dims.size() && base.size() == s.dims.size(),
              "hurricane stage search: {} searchable flags and {} base choices for {} dimensions", searchable.size(),
              base.size(), s.dims.size());
  // Units: a layer picks among its kept ops; any other searchable dim among its (allowed) choices.
  using Option = std::vector<std::pair<size_t, size_t>>;  // (dim, choice)
  std::vector<std::vector<Option>> units;
  std::vector<bool> covered(s.dims.size(), false);
  for (size_t li = 0; li < ops.layers.size(); ++li) {
    const auto& l = ops.layers[li];
    if (!searchable[l.dims[0]]) continue;
    std::vector<Option> opts;
    for (size_t op : ops.kept[li]) {
      Option x;
      for (size_t j = 0; j < l.dims.size(); ++j) x.emplace_back(l.dims[j], l.ops[op][j]);
      opts.push_back(x);
    }
    for (size_t d : l.dims) covered[d] = true;
    units.push_back(std::move(opts));
  }
  for (size_t i = 0; i < s.dims.size(); ++i) {
    if (!searchable[i] || covered[i]) continue;
    std::vector<Option> opts;
    if (!ops.allowed.empty() && !ops.allowed[i].empty()) {
      for (size_t c : ops.allowed[i]) opts.push_back({{i, c}});
    } else {
      for (size_t c = 0; c < s.dims[i].size(); ++c) opts.push_back({{i, c}});
    }
    units.push_back(std::move(opts));
  }
  auto to_arch = [&](const std::vector<size_t>& genes) {
    std::vector<size_t> c = base;
    for (size_t u = 0; u < units.size(); ++u)
      for (const auto& [d, ch] : units[u][genes[u]]) c[d] = ch;
    return canonical_arch(s, arch_from_choices(s, c));
  };
  std::vector<Candidate> done;
  if (o.budget <= 0) return done;
  if (units.empty()) {
    done.push_back(evaluate(to_arch({})));
    return done;
  }
  std::vector<std::vector<size_t>> done_genes;
  std::set<std::string> seen;
  auto next = [&](const std::function<std::vector<size_t>()>& propose) -> std::optional<std::vector<size_t>> {
    std::optional<std::vector<size_t>> fallback;
    for (int64_t t = 0; t < o.max_tries; ++t) {
      auto g = propose();
      const Arch a = to_arch(g);
      if (seen.count(arch_key(s, a))) continue;
      if (cost_ok(a)) return g;
      if (!fallback) fallback = g;
    }
    return fallback;
  };
  auto run = [&](const std::vector<size_t>& g) {
    const Arch a = to_arch(g);
    seen.insert(arch_key(s, a));
    done.push_back(evaluate(a));
    done_genes.push_back(g);
  };
  auto random_genes = [&] {
    std::vector<size_t> g(units.size());
    for (size_t u = 0; u < units.size(); ++u) g[u] = gen.below(units[u].size());
    return g;
  };
  // The base's own genes first (where the base is one of the unit's options), then random draws.
  std::vector<size_t> base_genes(units.size(), 0);
  bool base_ok = true;
  for (size_t u = 0; u < units.size(); ++u) {
    bool found = false;
    for (size_t k = 0; k < units[u].size() && !found; ++k) {
      bool match = true;
      for (const auto& [d, ch] : units[u][k]) match &= base[d] == ch;
      if (match) base_genes[u] = k, found = true;
    }
    base_ok &= found;
  }
  const int64_t pop = std::max<int64_t>(1, std::min(o.population, o.budget));
  bool first = true;
  while (static_cast<int64_t>(done.size()) < pop) {
    auto g = next([&] {
      if (first && base_ok) {
        first = false;
        return base_genes;
      }
      return random_genes();
    });
    if (!g) break;
    run(*g);
  }
  const size_t nunits = units.size();
  while (static_cast<int64_t>(done.size()) < o.budget && !done.empty()) {
    // The `population` best so far (better_candidate) form the pool of parents.
    std::vector<size_t> order(done.size());
    std::iota(order.begin(), order.end(), 0);
    std::stable_sort(order.begin(), order.end(), [&](size_t a, size_t b) {
      return better_candidate(done[a], done[b], o.constraints, o.cost_metric);
    });
    order.resize(std::min<size_t>(order.size(), static_cast<size_t>(pop)));
    auto g = next([&] {
      const size_t a = order[gen.below(order.size())], b = order[gen.below(order.size())];
      auto child = done_genes[better_candidate(done[b], done[a], o.constraints, o.cost_metric) ? b : a];
      bool changed = false;
      auto mutate = [&](size_t u) {
        const size_t k = units[u].size();
        if (k < 2) return;
        child[u] = (child[u] + 1 + gen.below(k - 1)) % k;
        changed = true;
      };
      for (size_t u = 0; u < nunits; ++u)
        if (gen.uniform() < 1.0 / static_cast<double>(nunits)) mutate(u);
      if (!changed) mutate(gen.below(nunits));
      return child;
    });
    if (!g) break;  // nothing new left to try
    run(*g);
  }
  return done;
}

SearchOutcome run_hurricane(SearchContext& ctx, const HurricaneTrainer& train) {
  namespace fs = std::filesystem;
  const SearchSpace& s = ctx.space;
  const auto t_all = std::chrono::steady_clock::now();
  if (ctx.cfg.out_dir.empty())
    fail("search hurricane: needs an output folder (--out) for its stage supernets and logs");
  const fs::path dir = fs::path(ctx.cfg.out_dir) / "hurricane";
  fs::create_directories(dir);
  HurricaneScoreOptions so;
  so.k = static_cast<int64_t>(ctx.option("k", 3.0));
  so.refs = static_cast<int64_t>(ctx.option("refs", 1.0));
  so.cost_weight = ctx.option("cost_weight", 1.0);
  so.cost_metric = ctx.cfg.cost_metric;
  const int64_t finals = std::max<int64_t>(1, static_cast<int64_t>(ctx.option("finals", 1.0)));
  const int64_t population = static_cast<int64_t>(ctx.option("population", 8.0));
  const int64_t max_tries = static_cast<int64_t>(ctx.option("max_tries", 200.0));
  const double split_opt = ctx.option("split", static_cast<double>(hurricane_default_split(s)));
  if (split_opt < 1 || split_opt > static_cast<double>(s.stages.size()) - 1 || split_opt != std::floor(split_opt))
    fail("search hurricane: option \"split\" (first stage of the later part) must be in 1..{}, got {}",
         s.stages.size() - 1, split_opt);
  const auto split = static_cast<size_t>(split_opt);
  const int64_t budget = ctx.cfg.budget;
  const int64_t min_stage = 2;  // evaluations each stage needs at least

  // 1. Hardware-specific candidate ops on this target.
  auto t0 = std::chrono::steady_clock::now();
  const HurricaneOpScores sc = hurricane_score_ops(
      s, ctx.eval, so, ctx.gen, budget - ctx.eval.evaluations() - finals - 2 * min_stage,
      [&](int64_t done, int64_t total) { ctx.progress("hurricane:score", done, total); });
  const double score_seconds = seconds_since(t0);
  write_file_atomic((dir / "candidate_ops.json").string(), hurricane_scores_json(sc).dump(2));
  const std::vector<bool> later = hurricane_later_dims(s, split);
  auto metric_cost = [&](const std::vector<size_t>& c) {
    return cost_of(ctx.eval.cost(arch_from_choices(s, c)), ctx.cfg.cost_metric);
  };
  auto feasible_choices = [&](const std::vector<size_t>& c) { return ctx.cost_feasible(arch_from_choices(s, c)); };

  // 2. Stage 1's fixed earlier part: best-scored kept ops, deepest depths; repaired for cost.
  std::vector<size_t> base(s.dims.size());
  std::vector<int> layer_of(s.dims.size(), -1);
  for (size_t i = 0; i < s.dims.size(); ++i) {
    const auto& al = sc.allowed[i];
    base[i] = al.empty() ? max_index(s.dims[i]) : al.back();
  }
  for (size_t li = 0; li < sc.layers.size(); ++li) {
    const auto& l = sc.layers[li];
    for (size_t j = 0; j < l.dims.size(); ++j) {
      base[l.dims[j]] = l.ops[sc.kept[li][0]][j];
      layer_of[l.dims[j]] = static_cast<int>(li);
    }
  }
  auto cheapest_later = [&](std::vector<size_t> c) {
    for (size_t li = 0; li < sc.layers.size(); ++li) {
      const auto& l = sc.layers[li];
      if (!later[l.dims[0]]) continue;
      size_t best = sc.kept[li][0];
      for (size_t op : sc.kept[li])
        if (sc.cost[li][op] < sc.cost[li][best]) best = op;
      for (size_t j = 0; j < l.dims.size(); ++j) c[l.dims[j]] = l.ops[best][j];
    }
    for (size_t i = 0; i < s.dims.size(); ++i)
      if (later[i] && layer_of[i] < 0) c[i] = sc.allowed[i].empty() ? min_index(s.dims[i]) : sc.allowed[i].front();
    return c;
  };
  int64_t repairs = 0;
  while (!ctx.cfg.constraints.empty() && !feasible_choices(cheapest_later(base))) {
    std::optional<std::vector<size_t>> best;
    double best_cost = metric_cost(cheapest_later(base));
    auto consider = [&](std::vector<size_t> c) {
      const double k = metric_cost(cheapest_later(c));
      if (k < best_cost) best_cost = k, best = std::move(c);
    };
    for (size_t li = 0; li < sc.layers.size(); ++li) {
      const auto& l = sc.layers[li];
      if (later[l.dims[0]]) continue;
      for (size_t op : sc.kept[li]) {
        auto c = base;
        for (size_t j = 0; j < l.dims.size(); ++j) c[l.dims[j]] = l.ops[op][j];
        consider(c);
      }
    }
    for (size_t i = 0; i < s.dims.size(); ++i) {
      if (later[i] || layer_of[i] >= 0) continue;
      const Dimension& d = s.dims[i];
      for (size_t ch = 0; ch < d.size(); ++ch) {
        const bool allowed = sc.allowed[i].empty() ||
                             std::find(sc.allowed[i].begin(), sc.allowed[i].end(), ch) != sc.allowed[i].end();
        if (allowed && d.kind != DimKind::ops && d.values[ch] < d.values[base[i]]) {
          auto c = base;
          c[i] = ch;
          consider(c);
        }
      }
    }
    if (!best) break;  // the constraint cannot be met by the earlier part alone; search anyway
    base = *best;
    ++repairs;
  }

  HurricaneStageSearch ss;
  ss.population = population;
  ss.max_tries = max_tries;
  ss.constraints = ctx.cfg.constraints;
  ss.cost_metric = ctx.cfg.cost_metric;
  auto cost_ok = [&](const Arch& a) { return ctx.cost_feasible(a); };
  int64_t stage_evals = 0;
  json stages = json::array();
  std::string init_from = ctx.supernet_checkpoint;
  Candidate best;
  std::vector<Candidate> last;
  for (int stage = 1; stage <= 2; ++stage) {
    const bool searches_later = stage == 1;
    std::vector<bool> searchable(s.dims.size());
    ChoiceSets allowed(s.dims.size());
    for (size_t i = 0; i < s.dims.size(); ++i) {
      searchable[i] = later[i] == searches_later;
      allowed[i] = searchable[i] ? sc.allowed[i] : std::vector<size_t>{base[i]};
    }
    const fs::path sdir = dir / fmt::format("stage{}", stage);
    fs::create_directories(sdir);
    json sinfo = {{"stage", stage}, {"searches", searches_later ? "later" : "earlier"}, {"init_from", init_from}};
    json tinfo = json::object();
    t0 = std::chrono::steady_clock::now();
    std::unique_ptr<AccuracyOracle> oracle = train(stage, allowed, init_from, sdir.string(), tinfo);
    sinfo["train"] = tinfo;
    sinfo["train_wall_seconds"] = seconds_since(t0);
    Evaluator ev(s, oracle.get(), nullptr, (sdir / "search_log.jsonl").string());
    const int64_t left = budget - ctx.eval.evaluations() - stage_evals - finals;
    ss.budget = stage == 1 ? left / 2 : left;
    if (ss.budget < 1)
      fail("search hurricane: the budget ({}) leaves no evaluations for stage {} after scoring took {}", budget, stage,
           sc.evaluations);
    Generator sgen(ctx.cfg.seed * 1000003ULL + static_cast<uint64_t>(stage));
    const std::string method = fmt::format("hurricane:stage{}", stage);
    t0 = std::chrono::steady_clock::now();
    auto evaluate = [&](const Arch& a) {
      Candidate c = ev.evaluate(a, method);
      c.cost = ctx.eval.cost(a);
      ctx.progress(method, ev.evaluations(), ss.budget);
      return c;
    };
    last = hurricane_stage_search(s, sc, searchable, base, ss, evaluate, cost_ok, sgen);
    if (last.empty()) fail("search hurricane: stage {} evaluated nothing", stage);
    stage_evals += ev.evaluations();
    best = best_of(last, ctx.cfg.constraints, ctx.cfg.cost_metric);
    sinfo["search_seconds"] = seconds_since(t0);
    sinfo["evaluations"] = ev.evaluations();
    sinfo["replayed"] = ev.replayed();
    sinfo["best"] = candidate_to_json(s, best);
    sinfo["best_feasible"] = feasible(best, ctx.cfg.constraints);
    stages.push_back(sinfo);
    base = arch_choices(s, best.arch);
    init_from = (sdir / "checkpoint.hwnas").string();
  }

  // 3. The best stage-2 subnets through the search's evaluator (they enter the front).
  std::vector<size_t> order(last.size());
  std::iota(order.begin(), order.end(), 0);
  std::stable_sort(order.begin(), order.end(), [&](size_t a, size_t b) {
    return better_candidate(last[a], last[b], ctx.cfg.constraints, ctx.cfg.cost_metric);
  });
  json final_json = json::array();
  for (size_t i = 0; i < order.size() && static_cast<int64_t>(i) < finals; ++i) {
    const Candidate c = ctx.eval.evaluate(last[order[i]].arch, "hurricane:final");
    final_json.push_back({{"arch", arch_to_json(s, c.arch)}, {"accuracy_search_supernet", c.accuracy},
                          {"accuracy_stage2_supernet", last[order[i]].accuracy}});
  }

  json kept = json::array();
  for (size_t li = 0; li < sc.layers.size(); ++li) {
    json k = json::array();
    for (size_t op : sc.kept[li]) k.push_back(sc.layers[li].names[op]);
    kept.push_back({{"block", sc.layers[li].block}, {"stage", sc.layers[li].stage}, {"kept", k},
                    {"part", later[sc.layers[li].dims[0]] ? "later" : "earlier"}});
  }
  json info = {{"k", so.k},
               {"refs", so.refs},
               {"cost_weight", so.cost_weight},
               {"rate", sc.rate},
               {"split_stage", split},
               {"kept_ops", kept},
               {"stage1_base_repairs", repairs},
               {"score_seconds", score_seconds},
               {"stages", stages},
               {"finals", final_json},
               {"evaluations", {{"scoring", sc.evaluations}, {"stages", stage_evals},
                                {"search_evaluator", ctx.eval.evaluations()},
                                {"total", ctx.eval.evaluations() + stage_evals}}},
               {"seconds", seconds_since(t_all)}};
  write_file_atomic((dir / "summary.json").string(), info.dump(2));
  return {best.arch, info};
}

AlgorithmInfo hurricane_algorithm() {
  auto run = [](SearchContext& ctx) {
    auto trainer = [&ctx](int stage, const ChoiceSets& allowed, const std::string& init_from, const std::string& dir,
                          json& info) -> std::unique_ptr<AccuracyOracle> {
      if (ctx.space.name != "elastic-mobile")
        fail("search hurricane: stage supernets are trained for elastic-mobile only, not {}", ctx.space.name);
      SupernetTrainConfig c;
      c.space = ctx.space.name;
      c.sampler = "uniform";
      c.epochs = static_cast<int64_t>(ctx.option("epochs", 1.0));
      c.batch = static_cast<int64_t>(ctx.option("batch", 128.0));
      c.train_limit = static_cast<int64_t>(ctx.option("train_limit", 5000.0));
      c.lr = static_cast<float>(ctx.option("lr", 0.02));
      c.data_dir = ctx.option("data_dir", std::string());
      c.allowed_choices = allowed;
      c.init_from = init_from;
      c.out_dir = dir;
      c.resume = true;
      c.eval_archs = {};
      c.progress = ctx.cfg.progress;
      c.seed = ctx.cfg.seed + static_cast<uint64_t>(stage);
      if (c.epochs < 1 || c.batch < 1 || c.train_limit < c.batch)
        fail("search hurricane: options epochs ({}) and batch ({}) must be positive and train_limit ({}) at least "
             "a batch", c.epochs, c.batch, c.train_limit);
      const SupernetTrainResult r = train_supernet(c);
      double train_seconds = 0;
      for (const auto& e : r.epochs) train_seconds += e.seconds;
      info = {{"sampler", c.sampler}, {"epochs", c.epochs}, {"batch", c.batch}, {"train_limit", c.train_limit},
              {"steps", c.epochs * (c.train_limit / c.batch)}, {"lr", c.lr}, {"train_seconds", train_seconds}};
      const std::string ckpt = (std::filesystem::path(dir) / "checkpoint.hwnas").string();
      SupernetAccuracyOptions o;
      o.data_dir = c.data_dir;
      if (ctx.supernet) {
        const json j = ctx.supernet->config();
        o.val_images = j.value("val_images", o.val_images);
        o.recal_batches = j.value("recal_batches", o.recal_batches);
        o.batch = j.value("batch", o.batch);
        o.seed = j.value("seed", o.seed);
      }
      return std::make_unique<SupernetAccuracy>(std::shared_ptr<ElasticMobileSupernet>(load_supernet(ckpt)), o, ckpt);
    };
    return run_hurricane(ctx, trainer);
  };
  return {"hurricane",
          "per-target top-k candidate ops scored on the target, then two one-shot stages: later layers, then earlier",
          true,
          {"k", "refs", "cost_weight", "finals", "population", "max_tries", "split", "epochs", "batch", "train_limit",
           "lr", "data_dir"},
          run};
}

}  // namespace hwnas
