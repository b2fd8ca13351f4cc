#pragma once
// What a search knows about one subnet: its accuracy (from an accuracy oracle: the supernet with
// batch norm recalibrated, or a predictor) and its costs, by metric name:
//   latency_ms, energy_mj, memory_bytes, area_mm2   from the hardware target (where it knows them)
//   macs, params, activation_bytes                   analytic (nas/space.h subnet_cost)
// and the constraints a search must respect, written as text: "latency_ms<=4,params<=2e6".
#include <nlohmann/json.hpp>

#include <map>
#include <string>
#include <vector>

#include "nas/space.h"

namespace hwnas {

struct Candidate {
  Arch arch;
  double accuracy = 0;                  // in [0, 1]; NaN when only the cost is known
  std::map<std::string, double> cost;   // metric -> value
  std::string method;                   // the algorithm (or stage of one) that proposed it
  int64_t index = -1;                   // order of evaluation in the search log
  double metric(const std::string& name) const;  // "accuracy" or a cost; throws naming it when absent
};
nlohmann::json candidate_to_json(const SearchSpace& s, const Candidate& c);
Candidate candidate_from_json(const SearchSpace& s, const nlohmann::json& j);

// metric <= bound (or >= with `upper` false).
struct Constraint {
  std::string metric;
  double bound = 0;
  bool upper = true;
  std::string text() const;  // "latency_ms<=4"
};
// Comma-separated constraints; throws naming the part and the metrics known. Empty: none.
std::vector<Constraint> parse_constraints(const std::string& text);
const std::vector<std::string>& known_metrics();

// 0 when every constraint holds; otherwise the sum of relative excesses (excess / |bound|), so
// searches can rank infeasible candidates by how far off they are (constrained domination).
double violation(const Candidate& c, const std::vector<Constraint>& cs);
inline bool feasible(const Candidate& c, const std::vector<Constraint>& cs) { return violation(c, cs) == 0; }

// The better of two candidates for a constrained single answer: feasible before infeasible,
// then higher accuracy (feasible) or lower violation (infeasible), then lower `cost_metric`.
bool better_candidate(const Candidate& a, const Candidate& b, const std::vector<Constraint>& cs,
                      const std::string& cost_metric);

}  // namespace hwnas
