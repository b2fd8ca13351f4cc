// Exact dynamic programs over one integer resource: the relaxations solve_multi_choice uses to
// settle most programs without a branch-and-bound search (fpga_ilp.cpp says when).
#include <cmath>

#include "hw_targets/fpga_ilp_parts.h"

namespace hwnas::fpga_detail {

std::optional<std::vector<int>> dp_one_resource(const Options& opts, bool bram, double budget, Metric metric) {
  auto use = [&](const McOption& o) { return bram ? o.bram : o.dsp; };
  auto value = [&](const McOption& o) {
    return metric == Metric::latency ? o.latency : metric == Metric::bytes ? o.bytes : o.dsp;
  };
  // Past the most any design can use, a larger budget changes nothing.
  double most = 0;
  for (const auto& st : opts) {
    double m = 0;
    for (const auto& o : st) m = std::max(m, use(o.o));
    most += m;
  }
  const size_t cap = size_t(std::max(0.0, std::min(std::floor(budget), most)));
  // best[b]: the least total metric of the stages so far using at most b of the resource.
  std::vector<double> best(cap + 1, 0.0), next(cap + 1);
  std::vector<std::vector<int>> pick(opts.size(), std::vector<int>(cap + 1, -1));
  for (size_t s = 0; s < opts.size(); ++s) {
    for (size_t b = 0; b <= cap; ++b) {
      next[b] = INFINITY;
      for (size_t k = 0; k < opts[s].size(); ++k) {
        const size_t r = size_t(use(opts[s][k].o));
        if (r > b || !std::isfinite(best[b - r])) continue;
        const double v = best[b - r] + value(opts[s][k].o);
        if (v < next[b]) next[b] = v, pick[s][b] = int(k);
      }
    }
    std::swap(best, next);
  }
  if (!std::isfinite(best[cap])) return std::nullopt;
  std::vector<int> choice(opts.size());
  size_t b = cap;
  for (size_t s = opts.size(); s-- > 0;) {
    const Opt& o = opts[s][size_t(pick[s][b])];
    choice[s] = o.index;
    b -= size_t(use(o.o));
  }
  return choice;
}

}  // namespace hwnas::fpga_detail
