#pragma once
// Pareto utilities over (accuracy up, one cost down): non-dominated sorting and crowding distance
// (NSGA-II, Deb et al. 2002) and the front of a set of candidates.
#include <string>
#include <vector>

#include "nas/search/candidate.h"

namespace hwnas {

// a dominates b: no worse in both objectives and better in one.
bool dominates(const Candidate& a, const Candidate& b, const std::string& cost_metric);
// With constraints (Deb's constrained domination): a feasible candidate dominates an infeasible
// one, and of two infeasible ones the one with the smaller violation dominates.
bool constrained_dominates(const Candidate& a, const Candidate& b, const std::vector<Constraint>& cs,
                           const std::string& cost_metric);

// Fronts of indices into `c`: front 0 is non-dominated, front 1 is non-dominated once front 0 is
// removed, and so on (under constrained domination).
std::vector<std::vector<size_t>> non_dominated_fronts(const std::vector<Candidate>& c, const std::vector<Constraint>& cs,
                                                      const std::string& cost_metric);
// Crowding distance of each member of `front` (same order); the extremes get infinity.
std::vector<double> crowding_distance(const std::vector<Candidate>& c, const std::vector<size_t>& front,
                                      const std::string& cost_metric);

// The non-dominated candidates that have an accuracy (ignoring constraints), by increasing cost;
// archs seen twice count once.
std::vector<Candidate> pareto_front(const std::vector<Candidate>& c, const std::string& cost_metric);

}  // namespace hwnas
