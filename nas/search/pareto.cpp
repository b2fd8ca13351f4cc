#include "nas/search/pareto.h"

#include <algorithm>
#include <cmath>
#include <limits>
#include <set>

namespace hwnas {

bool dominates(const Candidate& a, const Candidate& b, const std::string& cost_metric) {
  const double ca = a.metric(cost_metric), cb = b.metric(cost_metric);
  return a.accuracy >= b.accuracy && ca <= cb && (a.accuracy > b.accuracy || ca < cb);
}

bool constrained_dominates(const Candidate& a, const Candidate& b, const std::vector<Constraint>& cs,
                           const std::string& cost_metric) {
  const double va = violation(a, cs), vb = violation(b, cs);
  if (va == 0 && vb > 0) return true;
  if (va > 0) return vb > 0 && va < vb;
  return dominates(a, b, cost_metric);
}

std::vector<std::vector<size_t>> non_dominated_fronts(const std::vector<Candidate>& c, const std::vector<Constraint>& cs,
                                                      const std::string& cost_metric) {
  const size_t n = c.size();
  std::vector<std::vector<size_t>> dominated(n);
  std::vector<size_t> count(n, 0);
  std::vector<std::vector<size_t>> fronts(1);
  for (size_t i = 0; i < n; ++i)
    for (size_t j = 0; j < n; ++j) {
      if (i == j) continue;
      if (constrained_dominates(c[i], c[j], cs, cost_metric))
        dominated[i].push_back(j);
      else if (constrained_dominates(c[j], c[i], cs, cost_metric))
        ++count[i];
    }
  for (size_t i = 0; i < n; ++i)
    if (count[i] == 0) fronts[0].push_back(i);
  while (!fronts.back().empty()) {
    std::vector<size_t> next;
    for (size_t i : fronts.back())
      for (size_t j : dominated[i])
        if (--count[j] == 0) next.push_back(j);
    std::sort(next.begin(), next.end());
    fronts.push_back(next);
  }
  fronts.pop_back();
  return fronts;
}

std::vector<double> crowding_distance(const std::vector<Candidate>& c, const std::vector<size_t>& front,
                                      const std::string& cost_metric) {
  const size_t m = front.size();
  std::vector<double> d(m, 0.0);
  if (m <= 2) return std::vector<double>(m, std::numeric_limits<double>::infinity());
  for (int obj = 0; obj < 2; ++obj) {
    auto value = [&](size_t k) { return obj == 0 ? c[front[k]].accuracy : c[front[k]].metric(cost_metric); };
    std::vector<size_t> order(m);
    for (size_t k = 0; k < m; ++k) order[k] = k;
    std::stable_sort(order.begin(), order.end(), [&](size_t a, size_t b) { return value(a) < value(b); });
    const double lo = value(order.front()), hi = value(order.back());
    d[order.front()] = d[order.back()] = std::numeric_limits<double>::infinity();
    if (hi <= lo) continue;
    for (size_t k = 1; k + 1 < m; ++k) d[order[k]] += (value(order[k + 1]) - value(order[k - 1])) / (hi - lo);
  }
  return d;
}

std::vector<Candidate> pareto_front(const std::vector<Candidate>& c, const std::string& cost_metric) {
  std::vector<Candidate> front;
  for (size_t i = 0; i < c.size(); ++i) {
    if (std::isnan(c[i].accuracy)) continue;
    bool dominated = false, duplicate = false;
    for (size_t j = 0; j < c.size() && !dominated; ++j) {
      if (std::isnan(c[j].accuracy)) continue;
      dominated = dominates(c[j], c[i], cost_metric);
      duplicate |= j < i && c[j].arch == c[i].arch;
    }
    if (!dominated && !duplicate) front.push_back(c[i]);
  }
  std::sort(front.begin(), front.end(), [&](const Candidate& a, const Candidate& b) {
    return a.metric(cost_metric) < b.metric(cost_metric);
  });
  return front;
}

}  // namespace hwnas
