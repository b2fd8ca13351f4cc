#pragma once
// Internal pieces of solve_multi_choice (fpga_ilp.cpp): the GLPK integer programs
// (fpga_glpk.cpp) and the exact one-resource dynamic programs (fpga_dp.cpp), each over a
// subset of every stage's options.
#include <optional>
#include <string>
#include <vector>

#include "hw_targets/fpga_ilp.h"

namespace hwnas::fpga_detail {

// An option as one program sees it: its index in the problem and its values.
struct Opt {
  int index;
  McOption o;
};
using Options = std::vector<std::vector<Opt>>;

struct SolveResult {
  std::vector<int> choice;  // problem indices; empty when a search stopped before any design
  bool optimal = true;
  double gap = 0;
  std::string method = "glpk";
};

struct Effort {
  double mip_gap;  // relative gap at which the search may stop as done
  int64_t node_limit;
};

enum class Program {
  bottleneck,   // min T, T >= each stage's latency, T >= total bytes / bandwidth, T in [t_lo, t_hi]
  sum_latency,  // min the sum of stage latencies
  min_bytes,    // min the total off-chip bytes
};
// Every program keeps one option per stage and the DSP and BRAM budgets; the sum and bytes
// programs also keep total bytes <= bytes_cap when bytes_cap > 0. nullopt: infeasible.
std::optional<SolveResult> solve_glpk(const Options& opts, const McProblem& p, Program program, double t_lo,
                                      double t_hi, double bytes_cap, Effort effort);

enum class Metric { latency, bytes, dsp };
// The least total `metric` under one budget only (BRAM or DSP), by dynamic programming over the
// integer amount used; nullopt when nothing fits that budget. Values must be integers.
std::optional<std::vector<int>> dp_one_resource(const Options& opts, bool bram, double budget, Metric metric);

}  // namespace hwnas::fpga_detail
