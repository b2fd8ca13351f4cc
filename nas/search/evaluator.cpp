#include "nas/search/evaluator.h"

#include <chrono>
#include <cmath>
#include <fstream>
#include <sstream>

#include "tensor/error.h"

namespace hwnas {

using nlohmann::json;

namespace {
double seconds_since(std::chrono::steady_clock::time_point t0) {
  return std::chrono::duration<double>(std::chrono::steady_clock::now() - t0).count();
}
}  // namespace

Evaluator::Evaluator(const SearchSpace& space, AccuracyOracle* oracle, Target* target, std::string log_path)
    : space_(space), oracle_(oracle), target_(target), log_path_(std::move(log_path)) {
  if (log_path_.empty()) return;
  std::ifstream f(log_path_);
  if (!f) return;
  std::string line;
  int64_t number = 0;
  while (std::getline(f, line)) {
    ++number;
    if (line.empty()) continue;
    json j;
    try {
      j = json::parse(line);
    } catch (const json::exception&) {
      // A torn last line (the run was killed while writing it) is dropped; anything else is damage.
      if (f.peek() == EOF) break;
      fail("search log {} line {}: not JSON; the log is damaged (move it away to start over)", log_path_, number);
    }
    try {
      const Arch a = arch_from_json(space_, j.at("arch"));
      const std::string k = key(a);
      if (j.contains("cost")) cost_cache_[k] = j["cost"].get<std::map<std::string, double>>();
      if (j.value("type", "") == "eval") {
        acc_logged_[k] = j.at("accuracy").get<double>();
        first_method_.emplace(k, j.value("method", ""));
      }
    } catch (const std::exception& e) {
      fail("search log {} line {}: {}", log_path_, number, e.what());
    }
  }
}

std::string Evaluator::key(const Arch& a) const { return arch_to_json(space_, canonical_arch(space_, a)).dump(); }

bool Evaluator::evaluated(const Arch& a) const { return acc_cache_.count(key(a)) > 0; }

void Evaluator::append_log(const json& line) {
  if (log_path_.empty()) return;
  std::ofstream f(log_path_, std::ios::app);
  f << line.dump() << '\n';
  f.flush();
  if (!f) fail("search log {}: cannot append (disk full or not writable?)", log_path_);
}

std::map<std::string, double> Evaluator::cost(const Arch& a) { return cost_many({a}).at(0); }

std::vector<std::map<std::string, double>> Evaluator::cost_many(const std::vector<Arch>& archs) {
  std::vector<std::map<std::string, double>> out(archs.size());
  std::vector<size_t> todo;
  std::vector<NetworkSpec> nets;
  std::map<std::string, size_t> pending;  // key -> index into nets (duplicates in one call)
  std::vector<std::string> keys;
  for (size_t i = 0; i < archs.size(); ++i) {
    validate_arch(space_, archs[i]);
    const std::string k = key(archs[i]);
    keys.push_back(k);
    if (cost_cache_.count(k) || pending.count(k)) continue;
    pending[k] = nets.size();
    todo.push_back(i);
    nets.push_back(arch_network(space_, canonical_arch(space_, archs[i])));
  }
  if (!nets.empty()) {
    const auto t0 = std::chrono::steady_clock::now();
    std::vector<CostResult> r;
    if (target_) r = target_->cost_many(nets);
    sec_cost_ += seconds_since(t0);
    for (size_t n = 0; n < nets.size(); ++n) {
      const Arch& a = archs[todo[n]];
      const SubnetCost sc = subnet_cost(space_, a);
      std::map<std::string, double> c = {{"macs", static_cast<double>(sc.macs)},
                                         {"params", static_cast<double>(sc.params)},
                                         {"activation_bytes", static_cast<double>(sc.activation_bytes)}};
      if (target_) {
        c["latency_ms"] = r[n].latency_ms;
        if (r[n].energy_mj) c["energy_mj"] = *r[n].energy_mj;
        if (r[n].memory_bytes) c["memory_bytes"] = *r[n].memory_bytes;
        if (r[n].area_mm2) c["area_mm2"] = *r[n].area_mm2;
      }
      const std::string& k = keys[todo[n]];
      cost_cache_[k] = c;
      append_log({{"type", "cost"}, {"arch", arch_to_json(space_, canonical_arch(space_, a))}, {"cost", c}});
    }
  }
  for (size_t i = 0; i < archs.size(); ++i) out[i] = cost_cache_.at(keys[i]);
  return out;
}

Candidate Evaluator::evaluate(const Arch& a, const std::string& method) {
  validate_arch(space_, a);
  const std::string k = key(a);
  Candidate c;
  c.arch = canonical_arch(space_, a);
  c.cost = cost(a);
  auto hit = acc_cache_.find(k);
  if (hit != acc_cache_.end()) {
    c.accuracy = hit->second;
    c.method = first_method_[k];
    for (const Candidate& h : history_)
      if (h.arch == c.arch) c.index = h.index;
    return c;
  }
  auto logged = acc_logged_.find(k);
  if (logged != acc_logged_.end()) {
    c.accuracy = logged->second;
    ++replayed_;
  } else {
    if (!oracle_) fail("search: no accuracy oracle (a supernet checkpoint or predictor) to evaluate subnets with");
    const auto t0 = std::chrono::steady_clock::now();
    c.accuracy = oracle_->accuracy(c.arch);
    const double s = seconds_since(t0);
    sec_acc_ += s;
    first_method_[k] = method;
    append_log({{"type", "eval"}, {"arch", arch_to_json(space_, c.arch)}, {"accuracy", c.accuracy}, {"cost", c.cost},
                {"method", method}, {"seconds", s}});
  }
  first_method_.emplace(k, method);
  c.method = first_method_[k];
  acc_cache_[k] = c.accuracy;
  c.index = evaluations_++;
  history_.push_back(c);
  if (on_evaluated) on_evaluated(c);
  return c;
}

double Evaluator::accuracy(const Arch& a) { return evaluate(a, "").accuracy; }

}  // namespace hwnas
