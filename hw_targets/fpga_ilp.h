#pragma once
// The integer program behind the FPGA model (HAO, Dong et al. 2021): each stage of a
// layer-pipelined accelerator picks one of its implementation options, the options' resources
// add up against the board's budgets, and the latency is minimised:
//
//   binary x[s][c], sum_c x[s][c] = 1                       one option per stage
//   sum x[s][c] dsp[s][c] <= dsp_budget, same for bram      resources
//   bottleneck: min T, T >= sum_c x[s][c] lat[s][c] for every s,
//               T >= sum x[s][c] bytes[s][c] / bandwidth     (stages share the DRAM)
//               then, with T held at its optimum, min sum of stage latencies (tie-break)
//   sum:        min sum x[s][c] lat[s][c]
//
// Options another option of the same stage dominates (no slower, no more DSPs, BRAM or traffic)
// are dropped first; that cannot change the optimum. Then:
// - sum programs (frame pipelines, the tie-break) and least-bytes programs: a dynamic program
//   over the BRAM (then DSP) used solves the one-resource relaxation exactly; when its answer
//   meets the other budgets too it is optimal. Otherwise GLPK (glp_intopt with presolve).
// - the bottleneck's min T, whose LP relaxation is weak and which GLPK alone took seconds to
//   minutes to close on some FBNet subnets: bisection over the options' latencies, each step an
//   integer feasibility program (dynamic programs, else GLPK), then one least-bytes program for
//   the bandwidth-bound side (fpga_ilp.cpp). With non-integer resources (or on request): the
//   min-T MILP above, by GLPK, with T bracketed by a greedy design.
// Every GLPK search has a node limit (deterministic, unlike a time limit); a stopped search
// reports its design as not optimal, with its gap. Tests check all paths against brute force.
#include <cstdint>
#include <string>
#include <vector>

namespace hwnas {

struct McOption {
  double latency = 0;  // seconds
  double dsp = 0, bram = 0;
  double bytes = 0;  // off-chip traffic per frame
};

enum class McObjective { bottleneck, sum };
// How the bottleneck's min T is found: bisection over the options' latencies (integer
// resources), or one mixed integer program (any resources; slower on some instances).
enum class McBottleneckSearch { bisection, milp };

struct McProblem {
  std::vector<std::vector<McOption>> stages;
  double dsp_budget = 0, bram_budget = 0;
  double bandwidth = 0;  // bytes per second shared by all stages (bottleneck only); 0: no bound
  McObjective objective = McObjective::bottleneck;
  std::string what = "fpga";  // prefix of error messages (the target's name)
  // Branch-and-bound nodes per integer program before the search stops with its best design
  // (reported as not optimal, with its gap); a node count keeps the answer machine-independent.
  int64_t node_limit = 20000;
  // The bottleneck's tie-break (min sum at the optimal T) only polishes a design whose speed is
  // settled: it may stop within this relative gap of the best sum, or after these many nodes.
  double tie_break_gap = 1e-3;
  int64_t tie_break_node_limit = 1000;
  // Sum programs first try the one-resource relaxations (dynamic programming over BRAM, then
  // DSP): when a relaxation's optimum fits every budget it is the optimum, found without search.
  bool relaxation_shortcut = true;
  McBottleneckSearch bottleneck_search = McBottleneckSearch::bisection;
};

struct McSolution {
  std::vector<int> choice;  // per stage, an index into its options
  double bottleneck = 0;    // max(slowest stage, total bytes / bandwidth), seconds
  double sum = 0;           // sum of stage latencies, seconds
  double dsp = 0, bram = 0, bytes = 0;
  int options_total = 0, options_kept = 0;  // before and after dropping dominated options
  bool optimal = true;        // the objective (bottleneck or sum); false: the node limit stopped it
  double gap = 0;             // then, GLPK's relative gap to the best bound
  bool tie_break_optimal = true;  // bottleneck: the sum at the optimal T is the least possible
  double tie_break_gap = 0;       // its relative gap (up to tie_break_gap, or more when stopped)
  std::string method = "glpk";  // or "bram-relaxation" / "dsp-relaxation" for the last program
};

// The totals of a given choice (what the solver reports, recomputed independently of it).
McSolution evaluate_choice(const McProblem& p, const std::vector<int>& choice);

// Throws when no choice fits the budgets, naming the budget and the minimum it needs.
McSolution solve_multi_choice(const McProblem& p);

}  // namespace hwnas
