// solve_multi_choice: which programs are solved, in which order, and how their answers combine.
#include "hw_targets/fpga_ilp.h"

#include <algorithm>
#include <cmath>

#include "hw_targets/fpga_ilp_parts.h"
#include "tensor/error.h"

namespace hwnas {

using namespace fpga_detail;

McSolution evaluate_choice(const McProblem& p, const std::vector<int>& choice) {
  if (choice.size() != p.stages.size())
    fail("{}: a choice has {} entries, expected one per stage ({})", p.what, choice.size(), p.stages.size());
  McSolution s;
  s.choice = choice;
  double slowest = 0;
  for (size_t i = 0; i < choice.size(); ++i) {
    if (choice[i] < 0 || size_t(choice[i]) >= p.stages[i].size())
      fail("{}: stage {} option {} is out of range (it has {})", p.what, i, choice[i], p.stages[i].size());
    const McOption& o = p.stages[i][size_t(choice[i])];
    slowest = std::max(slowest, o.latency);
    s.sum += o.latency;
    s.dsp += o.dsp;
    s.bram += o.bram;
    s.bytes += o.bytes;
  }
  s.bottleneck = p.bandwidth > 0 ? std::max(slowest, s.bytes / p.bandwidth) : slowest;
  return s;
}

namespace {

bool dominates(const McOption& a, const McOption& b) {
  return a.latency <= b.latency && a.dsp <= b.dsp && a.bram <= b.bram && a.bytes <= b.bytes;
}

// Per stage, the options no other option dominates (of identical ones, the first).
Options undominated(const Options& in) {
  Options keep(in.size());
  for (size_t s = 0; s < in.size(); ++s) {
    const auto& opts = in[s];
    for (size_t i = 0; i < opts.size(); ++i) {
      bool dominated = false;
      for (size_t j = 0; j < opts.size() && !dominated; ++j) {
        if (j == i || !dominates(opts[j].o, opts[i].o)) continue;
        // j is at least as good everywhere: drop i if j is strictly better somewhere, or if
        // they tie and j comes first.
        dominated = !dominates(opts[i].o, opts[j].o) || j < i;
      }
      if (!dominated) keep[s].push_back(opts[i]);
    }
  }
  return keep;
}

Options no_slower_than(const Options& in, double t) {
  Options out(in.size());
  for (size_t s = 0; s < in.size(); ++s)
    for (const Opt& o : in[s])
      if (o.o.latency <= t) out[s].push_back(o);
  return out;
}

class Solver {
 public:
  Solver(const McProblem& p, Options keep, bool dp_ok) : p_(p), keep_(std::move(keep)), dp_ok_(dp_ok) {}

  bool fits(const std::vector<int>& c, double bytes_cap) const {
    const McSolution e = evaluate_choice(p_, c);
    return e.dsp <= p_.dsp_budget && e.bram <= p_.bram_budget && (bytes_cap <= 0 || e.bytes <= bytes_cap);
  }
  SolveResult exact(std::vector<int> c, const char* method) const {
    SolveResult r;
    r.choice = std::move(c);
    r.method = method;
    return r;
  }

  // The least `metric` (latency sum or bytes) over `opts` within every budget (bytes <= cap when
  // cap > 0). A one-resource relaxation solved by dynamic programming settles it when its
  // optimum meets the other budgets too (a relaxation's optimum that is feasible is optimal);
  // else GLPK. nullopt: infeasible.
  std::optional<SolveResult> least(const Options& opts, Metric metric, double bytes_cap, Effort effort) const {
    if (dp_ok_ && p_.relaxation_shortcut) {
      for (bool bram : {true, false}) {
        const auto c = dp_one_resource(opts, bram, bram ? p_.bram_budget : p_.dsp_budget, metric);
        if (!c) return std::nullopt;  // even one budget alone cannot be met
        if (fits(*c, bytes_cap)) return exact(*c, bram ? "bram-relaxation" : "dsp-relaxation");
      }
    }
    return solve_glpk(opts, p_, metric == Metric::latency ? Program::sum_latency : Program::min_bytes, 0, 0,
                      bytes_cap, effort);
  }

  // A design within every budget and bytes <= cap (cap 0: none), or nullopt when none exists
  // (or, `certain` set false, none was found within the node limit).
  std::optional<SolveResult> feasible(const Options& opts, double bytes_cap, bool& certain) const {
    if (dp_ok_ && p_.relaxation_shortcut) {
      // DSP and BRAM alone decide exactly by the least DSP over the BRAM used; bytes too when
      // that design also meets the cap, or the least-bytes design misses it.
      const auto by_dsp = dp_one_resource(opts, true, p_.bram_budget, Metric::dsp);
      if (!by_dsp || !fits(*by_dsp, 0)) return std::nullopt;
      if (fits(*by_dsp, bytes_cap)) return exact(*by_dsp, "bram-relaxation");
      const auto by_bytes = dp_one_resource(opts, true, p_.bram_budget, Metric::bytes);
      if (evaluate_choice(p_, *by_bytes).bytes > bytes_cap) return std::nullopt;
      if (fits(*by_bytes, bytes_cap)) return exact(*by_bytes, "bram-relaxation");
    }
    // Any design within the cap answers the question: the search may stop at the first one.
    auto r = solve_glpk(opts, p_, Program::min_bytes, 0, 0, bytes_cap, Effort{1.0, p_.node_limit});
    if (r && r->choice.empty()) {
      certain = false;
      return std::nullopt;
    }
    if (r) r->optimal = true, r->gap = 0;
    return r;
  }

  // min T as one mixed integer program; kept for resources that are not integers (where the
  // dynamic programs do not apply). Its LP relaxation is weak, so T is bracketed first: at least
  // t_lo (every stage at its fastest, every stage at its least traffic), at most a greedy
  // design's bottleneck; slower options are dropped, and faster options are alike for T (their
  // latency clamped to t_lo before dropping dominated ones).
  std::optional<SolveResult> min_bottleneck_milp(double t_lo) const {
    const double t_hi = greedy_bottleneck(t_lo);
    Options phase1(keep_.size());
    for (size_t s = 0; s < keep_.size(); ++s)
      for (Opt o : keep_[s])
        if (o.o.latency <= t_hi) {
          o.o.latency = std::max(o.o.latency, t_lo);
          phase1[s].push_back(o);
        }
    return solve_glpk(undominated(phase1), p_, Program::bottleneck, t_lo, t_hi, 0, Effort{0, p_.node_limit});
  }

  // min T by bisection over the options' latencies. With S_k the options no slower than the
  // k-th latency c_k, a design of bottleneck <= c_k exists iff S_k holds one within budget with
  // bytes <= bandwidth * c_k: monotone in k, so bisection finds the first such k. Then T is c_k,
  // or less when the design of least bytes in S_(k-1) (necessarily bandwidth-bound) beats it.
  // Each step is an integer feasibility / least-bytes program (dynamic programs, else GLPK).
  std::optional<SolveResult> min_bottleneck_bisection(double t_lo, bool& certain) const {
    std::vector<double> cand;
    for (const auto& st : keep_)
      for (const auto& o : st)
        if (o.o.latency >= t_lo) cand.push_back(o.o.latency);
    std::sort(cand.begin(), cand.end());
    cand.erase(std::unique(cand.begin(), cand.end()), cand.end());
    const double bw = p_.bandwidth;
    auto cap = [&](size_t k) { return bw > 0 ? bw * cand[k] : 0.0; };
    const Effort effort{0, p_.node_limit};
    std::optional<SolveResult> at_k = feasible(no_slower_than(keep_, cand.back()), cap(cand.size() - 1), certain);
    if (!at_k) {
      // Even with every option allowed, the traffic sets the pace (or nothing fits at all).
      if (bw <= 0) return std::nullopt;
      return least(no_slower_than(keep_, cand.back()), Metric::bytes, 0, effort);
    }
    size_t lo = 0, hi = cand.size() - 1;  // the first feasible index lies in [lo, hi]
    while (lo < hi) {
      const size_t mid = lo + (hi - lo) / 2;
      auto r = feasible(no_slower_than(keep_, cand[mid]), cap(mid), certain);
      if (r) {
        hi = mid;
        at_k = std::move(r);
      } else {
        lo = mid + 1;
      }
    }
    if (lo > 0 && bw > 0) {
      auto below = least(no_slower_than(keep_, cand[lo - 1]), Metric::bytes, 0, effort);
      if (below && !below->choice.empty() &&
          evaluate_choice(p_, below->choice).bottleneck < evaluate_choice(p_, at_k->choice).bottleneck)
        return below;
    }
    return at_k;
  }

  // A quick design for an upper bound on the bottleneck: for each candidate T from the smallest
  // up, every stage takes, among its options no slower than T, the one using the least of the
  // budgets (DSP, BRAM and bandwidth shares summed); the first T whose design fits.
  double greedy_bottleneck(double t_lo) const {
    std::vector<double> cand{t_lo};
    for (const auto& st : keep_)
      for (const auto& o : st)
        if (o.o.latency > t_lo) cand.push_back(o.o.latency);
    std::sort(cand.begin(), cand.end());
    cand.erase(std::unique(cand.begin(), cand.end()), cand.end());
    const double dsp_b = std::max(p_.dsp_budget, 1.0), bram_b = std::max(p_.bram_budget, 1.0);
    for (double t : cand) {
      double dsp = 0, bram = 0, bytes = 0, slowest = 0;
      for (const auto& st : keep_) {
        const McOption* best = nullptr;
        double best_w = INFINITY;
        for (const auto& o : st) {
          if (o.o.latency > t) continue;
          const double w = o.o.dsp / dsp_b + o.o.bram / bram_b + (p_.bandwidth > 0 ? o.o.bytes / (p_.bandwidth * t) : 0);
          if (w < best_w) best_w = w, best = &o.o;
        }
        if (!best) {
          slowest = INFINITY;
          break;
        }
        dsp += best->dsp, bram += best->bram, bytes += best->bytes, slowest = std::max(slowest, best->latency);
      }
      const double bottleneck = p_.bandwidth > 0 ? std::max(slowest, bytes / p_.bandwidth) : slowest;
      if (dsp <= p_.dsp_budget && bram <= p_.bram_budget && bottleneck <= t * (1 + 1e-12)) return bottleneck;
    }
    return INFINITY;
  }

 private:
  const McProblem& p_;
  Options keep_;
  bool dp_ok_;
};

// The dynamic programs need integer resources, and memory for stages x (budget + 1) entries.
bool dp_applies(const Options& opts, const McProblem& p) {
  double most_dsp = 0, most_bram = 0;
  for (const auto& st : opts) {
    double d = 0, b = 0;
    for (const auto& o : st) {
      if (o.o.dsp != std::floor(o.o.dsp) || o.o.bram != std::floor(o.o.bram) || o.o.dsp < 0 || o.o.bram < 0)
        return false;
      d = std::max(d, o.o.dsp), b = std::max(b, o.o.bram);
    }
    most_dsp += d, most_bram += b;
  }
  return std::min(most_dsp, p.dsp_budget) <= 200000 && std::min(most_bram, p.bram_budget) <= 200000;
}

}  // namespace

McSolution solve_multi_choice(const McProblem& p) {
  if (p.stages.empty()) fail("{}: nothing to place (no stages)", p.what);
  double min_dsp = 0, min_bram = 0, t_lo = 0, min_bytes = 0;
  bool some_stage_unplaceable = false;
  Options all(p.stages.size());
  for (size_t s = 0; s < p.stages.size(); ++s) {
    if (p.stages[s].empty()) fail("{}: stage {} has no implementation option", p.what, s);
    double d = INFINITY, b = INFINITY, l = INFINITY, y = INFINITY;
    for (size_t c = 0; c < p.stages[s].size(); ++c) {
      const McOption& o = p.stages[s][c];
      d = std::min(d, o.dsp), b = std::min(b, o.bram);
      // An option over a budget on its own can never be chosen.
      if (o.dsp > p.dsp_budget || o.bram > p.bram_budget) continue;
      l = std::min(l, o.latency), y = std::min(y, o.bytes);
      all[s].push_back({int(c), o});
    }
    min_dsp += d, min_bram += b, min_bytes += y, t_lo = std::max(t_lo, l);
    some_stage_unplaceable = some_stage_unplaceable || all[s].empty();
  }
  if (min_dsp > p.dsp_budget)
    fail("{}: the DSP budget dsp = {} is too small: the smallest design needs {} DSPs (every stage at its least "
         "parallelism)",
         p.what, p.dsp_budget, min_dsp);
  if (min_bram > p.bram_budget)
    fail("{}: the BRAM budget bram18k = {} is too small: the smallest design needs {} BRAM18K (every stage at its "
         "least buffering)",
         p.what, p.bram_budget, min_bram);
  auto infeasible = [&]() {
    fail("{}: no design fits both budgets dsp = {} and bram18k = {} (the least-DSP design alone needs {} DSPs, "
         "the least-BRAM design alone {} BRAM18K, but no mix of options meets both)",
         p.what, p.dsp_budget, p.bram_budget, min_dsp, min_bram);
  };
  if (some_stage_unplaceable) infeasible();

  const Options keep = undominated(all);
  const Solver solver(p, keep, dp_applies(keep, p));
  std::optional<SolveResult> choice;
  bool certain = true, tie_break_optimal = true;
  double tie_break_gap = 0;
  auto no_design = [&]() {
    fail("{}: GLPK stopped after {} branch-and-bound nodes without finding a design", p.what, p.node_limit);
  };
  if (p.objective == McObjective::sum) {
    choice = solver.least(keep, Metric::latency, 0, Effort{0, p.node_limit});
    if (choice && choice->choice.empty()) {
      // Stopped before any design: the min-bottleneck design is a feasible one to report.
      choice = solver.min_bottleneck_milp(t_lo);
      if (!choice || choice->choice.empty()) no_design();
      choice->optimal = false;
      choice->gap = 1;
    }
  } else {
    const bool bisection = p.bottleneck_search == McBottleneckSearch::bisection && dp_applies(keep, p);
    choice = bisection ? solver.min_bottleneck_bisection(t_lo, certain)
                       : solver.min_bottleneck_milp(p.bandwidth > 0 ? std::max(t_lo, min_bytes / p.bandwidth) : t_lo);
    if (choice && choice->choice.empty()) no_design();
    if (choice) {
      if (!certain) choice->optimal = false, choice->gap = 1;  // a step stopped: gap unknown
      const std::string phase1 = bisection ? "bisection (" + choice->method + ")" : choice->method;
      // Phase 2: at that T, the least sum of stage latencies (the fill of a streaming pipeline).
      // Phase 1's design is feasible here, so a stopped search keeps it.
      const double t_star = evaluate_choice(p, choice->choice).bottleneck * (1 + 1e-9);
      const double cap = p.bandwidth > 0 ? t_star * p.bandwidth : 0;
      auto second = solver.least(no_slower_than(keep, t_star), Metric::latency, cap,
                                 Effort{p.tie_break_gap, p.tie_break_node_limit});
      tie_break_optimal = second && second->optimal;
      tie_break_gap = second ? second->gap : 1.0;
      if (second && !second->choice.empty()) {
        second->optimal = choice->optimal;  // the bottleneck is phase 1's
        second->gap = choice->gap;
        second->method = phase1 + "; tie-break " + second->method;
        choice = second;
      } else {
        choice->method = phase1 + "; tie-break stopped";
      }
    }
  }
  if (!choice) infeasible();
  McSolution sol = evaluate_choice(p, choice->choice);
  sol.optimal = choice->optimal;
  sol.gap = choice->gap;
  sol.method = choice->method;
  sol.tie_break_optimal = tie_break_optimal;
  sol.tie_break_gap = tie_break_gap;
  for (size_t s = 0; s < p.stages.size(); ++s) {
    sol.options_total += int(p.stages[s].size());
    sol.options_kept += int(keep[s].size());
  }
  return sol;
}

}  // namespace hwnas
