// The integer programs of the FPGA design problem, built and solved with GLPK (glp_intopt with
// presolve, terminal output off, a deterministic node limit).
#include <glpk.h>

#include <algorithm>
#include <cmath>
#include <memory>

#include <fmt/format.h>

#include "hw_targets/fpga_ilp_parts.h"
#include "tensor/error.h"

namespace hwnas::fpga_detail {

namespace {

struct GlpDeleter {
  void operator()(glp_prob* p) const { glp_delete_prob(p); }
};

// Silences GLPK's terminal output for a scope and restores the previous setting.
struct QuietGlpk {
  int saved = glp_term_out(GLP_OFF);
  ~QuietGlpk() { glp_term_out(saved); }
};

// The branch-and-bound callback stops the search after a number of nodes. (It cannot hand GLPK
// a start design: with presolve on, the tree works on the presolved problem's columns.)
struct Search {
  int64_t node_limit;
  bool stopped = false;
  double gap = 0;
};

void on_branch(glp_tree* tree, void* info) {
  auto* s = static_cast<Search*>(info);
  int active = 0, nodes = 0, total = 0;
  glp_ios_tree_size(tree, &active, &nodes, &total);
  s->gap = glp_ios_mip_gap(tree);  // the last seen, for a search stopped here or by its gap
  if (total > s->node_limit && !s->stopped) {
    s->stopped = true;
    glp_ios_terminate(tree);
  }
}

}  // namespace

std::optional<SolveResult> solve_glpk(const Options& opts, const McProblem& p, Program program, double t_lo,
                                      double t_hi, double bytes_cap, Effort effort) {
  const bool bottleneck = program == Program::bottleneck;
  // Latencies and bytes are scaled so that the largest is 1000: GLPK's tolerances are absolute.
  double max_lat = 0, max_bytes = 0;
  for (const auto& st : opts) {
    double stage_bytes = 0;
    for (const auto& o : st) max_lat = std::max(max_lat, o.o.latency), stage_bytes = std::max(stage_bytes, o.o.bytes);
    max_bytes += stage_bytes;
  }
  if (bottleneck && p.bandwidth > 0) max_lat = std::max(max_lat, max_bytes / p.bandwidth);
  const double scale = max_lat > 0 ? 1000.0 / max_lat : 1.0;
  const double bytes_scale = max_bytes > 0 ? 1000.0 / max_bytes : 1.0;

  std::unique_ptr<glp_prob, GlpDeleter> lp(glp_create_prob());
  glp_set_obj_dir(lp.get(), GLP_MIN);
  std::vector<std::pair<size_t, size_t>> col_of;  // column - 1 -> (stage, position in opts)
  for (size_t s = 0; s < opts.size(); ++s)
    for (size_t k = 0; k < opts[s].size(); ++k) col_of.emplace_back(s, k);
  const int nx = int(col_of.size()), n_stages = int(opts.size()), t_col = nx + 1;
  glp_add_cols(lp.get(), nx + (bottleneck ? 1 : 0));
  for (int j = 1; j <= nx; ++j) glp_set_col_kind(lp.get(), j, GLP_BV);
  if (bottleneck) {
    if (std::isfinite(t_hi) && t_hi > t_lo)
      glp_set_col_bnds(lp.get(), t_col, GLP_DB, t_lo * scale, t_hi * scale);
    else if (std::isfinite(t_hi))  // GLPK rejects a double bound with equal ends
      glp_set_col_bnds(lp.get(), t_col, GLP_FX, t_hi * scale, t_hi * scale);
    else
      glp_set_col_bnds(lp.get(), t_col, GLP_LO, t_lo * scale, 0);
    glp_set_obj_coef(lp.get(), t_col, 1);
  }
  // Rows 1..S: one option per stage; S+1: DSP; S+2: BRAM; S+3: bytes (bottleneck: bytes /
  // bandwidth - T <= 0; others: bytes / cap <= 1); bottleneck: S+4.. stage latency - T <= 0.
  glp_add_rows(lp.get(), n_stages + 3 + (bottleneck ? n_stages : 0));
  for (int s = 1; s <= n_stages; ++s) glp_set_row_bnds(lp.get(), s, GLP_FX, 1, 1);
  glp_set_row_bnds(lp.get(), n_stages + 1, GLP_UP, 0, p.dsp_budget);
  glp_set_row_bnds(lp.get(), n_stages + 2, GLP_UP, 0, p.bram_budget);
  const bool bytes_row = bottleneck ? p.bandwidth > 0 : bytes_cap > 0;
  if (bytes_row)
    glp_set_row_bnds(lp.get(), n_stages + 3, GLP_UP, 0, bottleneck ? 0 : 1);
  else
    glp_set_row_bnds(lp.get(), n_stages + 3, GLP_FR, 0, 0);
  std::vector<int> ia{0}, ja{0};
  std::vector<double> ar{0};
  auto entry = [&](int row, int col, double v) {
    if (v == 0) return;
    ia.push_back(row);
    ja.push_back(col);
    ar.push_back(v);
  };
  for (int j = 1; j <= nx; ++j) {
    const auto [s, k] = col_of[size_t(j - 1)];
    const McOption& o = opts[s][k].o;
    entry(int(s) + 1, j, 1);
    entry(n_stages + 1, j, o.dsp);
    entry(n_stages + 2, j, o.bram);
    if (bytes_row) entry(n_stages + 3, j, bottleneck ? o.bytes / p.bandwidth * scale : o.bytes / bytes_cap);
    if (bottleneck)
      entry(n_stages + 4 + int(s), j, o.latency * scale);
    else
      glp_set_obj_coef(lp.get(), j, program == Program::sum_latency ? o.latency * scale : o.bytes * bytes_scale);
  }
  if (bottleneck) {
    if (bytes_row) entry(n_stages + 3, t_col, -1);
    for (int r = n_stages + 4; r <= 2 * n_stages + 3; ++r) {
      glp_set_row_bnds(lp.get(), r, GLP_UP, 0, 0);
      entry(r, t_col, -1);
    }
  }
  glp_load_matrix(lp.get(), int(ia.size()) - 1, ia.data(), ja.data(), ar.data());

  QuietGlpk quiet;
  glp_iocp parm;
  glp_init_iocp(&parm);
  parm.presolve = GLP_ON;
  parm.msg_lev = GLP_MSG_OFF;
  parm.mip_gap = effort.mip_gap;
  // A node limit, not a time limit, so that a stopped search stops at the same design on every
  // machine.
  Search search{effort.node_limit};
  parm.cb_func = on_branch;
  parm.cb_info = &search;
  const int ret = glp_intopt(lp.get(), &parm);
  const int status = glp_mip_status(lp.get());
  if (status == GLP_NOFEAS || ret == GLP_ENOPFS || ret == GLP_ENODFS) return std::nullopt;
  SolveResult r;
  if (search.stopped && status != GLP_OPT && status != GLP_FEAS) {
    r.optimal = false;
    r.gap = 1;
    return r;
  }
  const bool within_gap = ret == GLP_EMIPGAP && status == GLP_FEAS;
  if (status != GLP_OPT && !(status == GLP_FEAS && search.stopped) && !within_gap)
    fail("{}: GLPK did not solve the design problem (glp_intopt returned {}, status {}{})", p.what, ret, status,
         search.stopped ? fmt::format(", stopped after {} branch-and-bound nodes", effort.node_limit) : "");
  r.optimal = status == GLP_OPT;
  r.gap = r.optimal ? 0 : std::min(search.gap, 1.0);
  r.choice.assign(opts.size(), -1);
  for (int j = 1; j <= nx; ++j)
    if (glp_mip_col_val(lp.get(), j) > 0.5) {
      const auto [st, k] = col_of[size_t(j - 1)];
      r.choice[st] = opts[st][k].index;
    }
  return r;
}

}  // namespace hwnas::fpga_detail
