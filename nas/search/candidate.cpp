#include "nas/search/candidate.h"

#include <cmath>
#include <fmt/format.h>
#include <fmt/ranges.h>

#include "tensor/error.h"

namespace hwnas {

using nlohmann::json;

double Candidate::metric(const std::string& name) const {
  if (name == "accuracy") return accuracy;
  auto it = cost.find(name);
  if (it == cost.end()) {
    std::vector<std::string> have;
    for (const auto& [k, v] : cost) have.push_back(k);
    fail("metric \"{}\" is not known for this subnet (it has: accuracy, {})", name, fmt::join(have, ", "));
  }
  return it->second;
}

json candidate_to_json(const SearchSpace& s, const Candidate& c) {
  json j = {{"arch", arch_to_json(s, c.arch)}, {"cost", c.cost}, {"method", c.method}, {"index", c.index}};
  j["accuracy"] = std::isnan(c.accuracy) ? json(nullptr) : json(c.accuracy);
  return j;
}

Candidate candidate_from_json(const SearchSpace& s, const json& j) {
  Candidate c;
  c.arch = arch_from_json(s, j.at("arch"));
  c.accuracy = j.contains("accuracy") && j["accuracy"].is_number() ? j["accuracy"].get<double>() : NAN;
  if (j.contains("cost")) c.cost = j["cost"].get<std::map<std::string, double>>();
  c.method = j.value("method", "");
  c.index = j.value("index", int64_t{-1});
  return c;
}

const std::vector<std::string>& known_metrics() {
  static const std::vector<std::string> m = {"latency_ms", "energy_mj", "memory_bytes", "area_mm2",
                                             "macs",       "params",    "activation_bytes", "accuracy"};
  return m;
}

std::string Constraint::text() const { return fmt::format("{}{}{:g}", metric, upper ? "<=" : ">=", bound); }

namespace {
std::string trim(const std::string& s) {
  const size_t b = s.find_first_not_of(" \t"), e = s.find_last_not_of(" \t");
  return b == std::string::npos ? "" : s.substr(b, e - b + 1);
}
}  // namespace

std::vector<Constraint> parse_constraints(const std::string& text) {
  std::vector<Constraint> out;
  size_t start = 0;
  while (start <= text.size()) {
    const size_t comma = text.find(',', start);
    const std::string part = trim(text.substr(start, comma == std::string::npos ? std::string::npos : comma - start));
    start = comma == std::string::npos ? text.size() + 1 : comma + 1;
    if (part.empty()) continue;
    Constraint c;
    size_t op = part.find("<=");
    if (op == std::string::npos) {
      op = part.find(">=");
      c.upper = false;
    }
    if (op == std::string::npos)
      fail("constraint \"{}\": expected METRIC<=VALUE or METRIC>=VALUE, e.g. latency_ms<=5", part);
    c.metric = trim(part.substr(0, op));
    const std::string value = trim(part.substr(op + 2));
    bool known = false;
    for (const auto& m : known_metrics()) known |= m == c.metric;
    if (!known) fail("constraint \"{}\": unknown metric \"{}\" (known: {})", part, c.metric, fmt::join(known_metrics(), ", "));
    try {
      size_t used = 0;
      c.bound = std::stod(value, &used);
      if (used != value.size() || !std::isfinite(c.bound)) throw std::invalid_argument("");
    } catch (const std::exception&) {
      fail("constraint \"{}\": \"{}\" is not a number", part, value);
    }
    out.push_back(c);
  }
  return out;
}

double violation(const Candidate& c, const std::vector<Constraint>& cs) {
  double v = 0;
  for (const Constraint& k : cs) {
    const double x = c.metric(k.metric);
    const double excess = k.upper ? x - k.bound : k.bound - x;
    if (excess > 0) v += excess / std::max(std::abs(k.bound), 1e-12);
  }
  return v;
}

bool better_candidate(const Candidate& a, const Candidate& b, const std::vector<Constraint>& cs,
                      const std::string& cost_metric) {
  const double va = violation(a, cs), vb = violation(b, cs);
  if ((va == 0) != (vb == 0)) return va == 0;
  if (va > 0 && va != vb) return va < vb;
  const bool na = std::isnan(a.accuracy), nb = std::isnan(b.accuracy);
  if (na != nb) return nb;
  if (!na && a.accuracy != b.accuracy) return a.accuracy > b.accuracy;
  return a.metric(cost_metric) < b.metric(cost_metric);
}

}  // namespace hwnas
