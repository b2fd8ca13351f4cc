#pragma once
// The one place a search asks what a subnet is worth. Accuracy comes from an AccuracyOracle,
// cost from a hardware Target (hw_targets/) plus the analytic cost (nas/space.h). Answers are
// cached by canonical arch and appended to a log (JSON lines) as they come; a search re-run on
// the same log replays those answers instead of evaluating again, so an interrupted search that
// is run again with the same seed walks the same path and continues where it stopped.
#include <functional>
#include <map>
#include <memory>
#include <optional>
#include <string>

#include "hw_targets/target.h"
#include "nas/search/candidate.h"

namespace hwnas {

class AccuracyOracle {
 public:
  virtual ~AccuracyOracle() = default;
  virtual double accuracy(const Arch& a) = 0;
  virtual nlohmann::json config() const = 0;  // what it is, for the log and for resume checks
};

class Evaluator {
 public:
  // `log_path` empty: no log. Otherwise the log is read first (a torn last line is dropped) and
  // appended to. `oracle` may be null for cost-only use (accuracy() then throws).
  Evaluator(const SearchSpace& space, AccuracyOracle* oracle, Target* target, std::string log_path = "");

  // Accuracy and cost of `a`, proposed by `method`. One evaluation of the budget when `a` was not
  // evaluated before (in this run or the log).
  Candidate evaluate(const Arch& a, const std::string& method);
  // Cost only (target + analytic): cheap on modeled targets, not counted as an evaluation.
  std::map<std::string, double> cost(const Arch& a);
  // Several archs' costs at once (measured targets interleave them against drift).
  std::vector<std::map<std::string, double>> cost_many(const std::vector<Arch>& archs);
  double accuracy(const Arch& a);  // evaluates (counted) and returns the accuracy

  bool evaluated(const Arch& a) const;
  int64_t evaluations() const { return evaluations_; }  // distinct archs whose accuracy was asked
  int64_t replayed() const { return replayed_; }        // of those, answered from the log
  double seconds_accuracy() const { return sec_acc_; }  // time spent in the oracle this run
  double seconds_cost() const { return sec_cost_; }     // time spent in the target this run
  // Every candidate evaluated so far, in evaluation order (log replays included).
  const std::vector<Candidate>& history() const { return history_; }
  const SearchSpace& space() const { return space_; }
  Target* target() const { return target_; }
  AccuracyOracle* oracle() const { return oracle_; }

  // Called after each new evaluation (progress displays).
  std::function<void(const Candidate&)> on_evaluated;

 private:
  std::string key(const Arch& a) const;
  void append_log(const nlohmann::json& line);

  const SearchSpace& space_;
  AccuracyOracle* oracle_;
  Target* target_;
  std::string log_path_;
  std::map<std::string, std::map<std::string, double>> cost_cache_;
  std::map<std::string, double> acc_cache_, acc_logged_;
  std::map<std::string, std::string> first_method_;
  std::vector<Candidate> history_;
  int64_t evaluations_ = 0, replayed_ = 0;
  double sec_acc_ = 0, sec_cost_ = 0;
};

}  // namespace hwnas
