// The search framework (constraints, Pareto ranking, the evaluator's cache and resume log, the run
// that writes a search folder) and the algorithms that need no training: random, evolution,
// NetAdaptV2 coordinate descent.
#include <gtest/gtest.h>

#include <fstream>

#include "nas/search/pareto.h"
#include "nas/search/search.h"
#include "tests/nas/search/search_test_util.h"
#include "tests/test_util.h"

namespace hwnas {
namespace {

using test::contains;
using test::error_of;

// A distinct (fake) arch per call: pareto_front counts an arch seen twice once.
Candidate cand(double acc, double lat) {
  static int64_t n = 0;
  Candidate c;
  c.arch.depth = {n++};
  c.accuracy = acc;
  c.cost["latency_ms"] = lat;
  return c;
}

TEST(SearchConstraints, ParsesAndRejectsWithClearErrors) {
  auto cs = parse_constraints("latency_ms<=4, params<=2e6,accuracy>=0.8");
  ASSERT_EQ(cs.size(), 3u);
  EXPECT_EQ(cs[0].metric, "latency_ms");
  EXPECT_DOUBLE_EQ(cs[1].bound, 2e6);
  EXPECT_FALSE(cs[2].upper);
  EXPECT_EQ(cs[0].text(), "latency_ms<=4");
  EXPECT_TRUE(parse_constraints("").empty());
  EXPECT_TRUE(contains(error_of([] { parse_constraints("latency<=4"); }), "latency_ms"));
  EXPECT_TRUE(contains(error_of([] { parse_constraints("latency_ms<=fast"); }), "fast"));
  EXPECT_TRUE(contains(error_of([] { parse_constraints("latency_ms=4"); }), "latency_ms=4"));
}

TEST(SearchConstraints, ViolationIsRelativeExcess) {
  auto cs = parse_constraints("latency_ms<=4");
  EXPECT_TRUE(feasible(cand(0.9, 4), cs));
  EXPECT_DOUBLE_EQ(violation(cand(0.9, 6), cs), 0.5);
  // Feasible beats infeasible whatever the accuracy; among feasible, accuracy decides.
  EXPECT_TRUE(better_candidate(cand(0.5, 3), cand(0.99, 5), cs, "latency_ms"));
  EXPECT_TRUE(better_candidate(cand(0.8, 3.9), cand(0.7, 1), cs, "latency_ms"));
}

TEST(SearchPareto, FrontsAndCrowding) {
  // (acc, lat): a and b are non-dominated, c is dominated by a, d by everyone.
  std::vector<Candidate> c = {cand(0.9, 5), cand(0.8, 2), cand(0.85, 6), cand(0.7, 7)};
  auto fronts = non_dominated_fronts(c, {}, "latency_ms");
  ASSERT_GE(fronts.size(), 2u);
  std::vector<size_t> f0 = fronts[0];
  std::sort(f0.begin(), f0.end());
  EXPECT_EQ(f0, (std::vector<size_t>{0, 1}));
  auto cd = crowding_distance(c, fronts[0], "latency_ms");
  EXPECT_TRUE(std::isinf(cd[0]) && std::isinf(cd[1]));
  auto front = pareto_front(c, "latency_ms");
  ASSERT_EQ(front.size(), 2u);
  EXPECT_DOUBLE_EQ(front[0].metric("latency_ms"), 2);  // by increasing cost
  // Under a constraint that only the slow one breaks, the feasible one dominates it.
  auto cs = parse_constraints("latency_ms<=4");
  EXPECT_TRUE(constrained_dominates(c[1], c[0], cs, "latency_ms"));
  EXPECT_FALSE(constrained_dominates(c[0], c[1], cs, "latency_ms"));
}

TEST(SearchEvaluator, CachesAndReplaysTheLog) {
  const SearchSpace s = load_space("elastic-mobile");
  test::TempDir dir("search_eval");
  const std::string log = dir / "search_log.jsonl";
  test::PlantedOracle oracle(s);
  test::MacsTarget target;
  Generator g(3);
  std::vector<Arch> archs;
  for (int i = 0; i < 5; ++i) archs.push_back(sample_arch(s, g));
  std::vector<double> acc;
  {
    Evaluator e(s, &oracle, &target, log);
    for (const Arch& a : archs) acc.push_back(e.evaluate(a, "test").accuracy);
    e.evaluate(archs[0], "again");  // cached: no new evaluation
    EXPECT_EQ(e.evaluations(), 5);
    EXPECT_EQ(oracle.calls, 5);
    EXPECT_GT(e.history()[1].cost.at("latency_ms"), 0);
    EXPECT_EQ(e.history()[0].method, "test");
  }
  // A torn last line (killed mid-write) is dropped, not an error.
  { std::ofstream(log, std::ios::app) << "{\"type\":\"eval\",\"arch\":"; }
  Evaluator again(s, &oracle, &target, log);
  const int64_t target_calls = target.calls;
  for (size_t i = 0; i < archs.size(); ++i) EXPECT_DOUBLE_EQ(again.evaluate(archs[i], "test").accuracy, acc[i]);
  EXPECT_EQ(oracle.calls, 5);  // all answered from the log
  EXPECT_EQ(target.calls, target_calls);
  EXPECT_EQ(again.replayed(), 5);
  // Damage in the middle of the log is an error naming the file and line.
  { std::ofstream(log, std::ios::app) << "\nnot json\n{}\n"; }
  EXPECT_TRUE(contains(error_of([&] { Evaluator bad(s, &oracle, &target, log); }), "search_log.jsonl line"));
}

struct RunFixture {
  SearchSpace s = load_space("elastic-mobile");
  test::PlantedOracle oracle{s};
  test::MacsTarget target;
  double lat_max = 0, lat_min = 0;
  RunFixture() {
    Evaluator e(s, nullptr, &target);
    lat_max = e.cost(max_arch(s)).at("latency_ms");
    lat_min = e.cost(min_arch(s)).at("latency_ms");
  }
  double middle() const { return lat_min + 0.4 * (lat_max - lat_min); }
  SearchResult run(const std::string& algo, int64_t budget, double bound, uint64_t seed = 1,
                   nlohmann::json options = nlohmann::json::object(), const std::string& out = "") {
    Evaluator e(s, &oracle, &target, out.empty() ? "" : out + "/search_log.jsonl");
    SearchConfig cfg;
    cfg.algo = algo;
    cfg.budget = budget;
    cfg.seed = seed;
    cfg.constraints = parse_constraints(fmt::format("latency_ms<={}", bound));
    cfg.options = options;
    cfg.progress = false;
    cfg.out_dir = out;
    Generator gen(seed);
    SearchContext ctx{s, e, cfg, gen};
    auto r = run_search(ctx);
    eval_log = e.history();
    return r;
  }
  std::vector<Candidate> eval_log;  // every candidate the last run() evaluated
};

TEST(SearchAlgorithms, RandomSpendsTheBudgetOnFeasibleSubnets) {
  RunFixture f;
  auto r = f.run("random", 20, f.middle());
  EXPECT_EQ(r.evaluations, 20);
  EXPECT_TRUE(r.best_feasible);
  EXPECT_LE(r.best.metric("latency_ms"), f.middle());
}

TEST(SearchAlgorithms, EvolutionBeatsRandomAtEqualEvaluations) {
  RunFixture f;
  // Same budget, same seeds: NSGA-II must find a better feasible subnet than random search on
  // average over seeds (the planted oracle rewards spending the latency budget well).
  double evo = 0, rnd = 0;
  for (uint64_t seed = 1; seed <= 3; ++seed) {
    auto e = f.run("evolution", 60, f.middle(), seed);
    auto r = f.run("random", 60, f.middle(), seed);
    EXPECT_EQ(e.evaluations, 60);
    EXPECT_TRUE(e.best_feasible);
    evo += e.best.accuracy;
    rnd += r.best.accuracy;
  }
  EXPECT_GT(evo, rnd);
}

TEST(SearchAlgorithms, RegularizedEvolutionBeatsRandomAndStaysFeasible) {
  RunFixture f;
  // Same budget, same seeds: aging evolution must beat random search on average, and since its
  // children are screened by cost, every subnet it evaluates meets the bound.
  double rea = 0, rnd = 0;
  for (uint64_t seed = 1; seed <= 3; ++seed) {
    auto e = f.run("rea", 40, f.middle(), seed);
    auto r = f.run("random", 40, f.middle(), seed);
    EXPECT_EQ(e.evaluations, 40);
    EXPECT_TRUE(e.best_feasible);
    EXPECT_EQ(e.info.at("population").get<int64_t>(), 10);  // budget / 4
    EXPECT_EQ(e.info.at("cycles").get<int64_t>(), 30);
    for (const auto& c : f.eval_log) EXPECT_LE(c.metric("latency_ms"), f.middle());
    rea += e.best.accuracy;
    rnd += r.best.accuracy;
  }
  EXPECT_GT(rea, rnd);
  EXPECT_TRUE(contains(error_of([&] { f.run("rea", 5, f.middle(), 1, {{"sample", 50}}); }), "\"sample\""));
}

TEST(SearchAlgorithms, NetAdaptShrinksFromMaxToTheBound) {
  RunFixture f;
  auto r = f.run("netadapt", 25, f.middle(), 1, {{"proposals", 4}});
  EXPECT_TRUE(r.best_feasible);
  EXPECT_LE(r.best.metric("latency_ms"), f.middle());
  EXPECT_TRUE(r.info.at("reached_bound").get<bool>());
  EXPECT_LE(r.evaluations, 25);
  // Each iteration's winner is cheaper than the one before.
  const auto& trail = r.info.at("trail");
  for (size_t i = 1; i < trail.size(); ++i)
    EXPECT_LT(trail[i].at("latency_ms").get<double>(), trail[i - 1].at("latency_ms").get<double>());
  // Without a cost bound there is nothing to shrink towards.
  EXPECT_TRUE(contains(error_of([&] {
                         Evaluator e(f.s, &f.oracle, &f.target);
                         SearchConfig cfg;
                         cfg.algo = "netadapt";
                         cfg.progress = false;
                         Generator gen(0);
                         SearchContext ctx{f.s, e, cfg, gen};
                         run_search(ctx);
                       }),
                       "latency_ms<=X"));
}

TEST(SearchRun, WritesTheFolderAndResumesFromTheLog) {
  RunFixture f;
  test::TempDir dir("search_run");
  auto first = f.run("evolution", 30, f.middle(), 7, nlohmann::json::object(), dir.path.string());
  for (const char* file : {"pareto.json", "best.json", "search.json", "search_log.jsonl"})
    EXPECT_TRUE(std::filesystem::exists(dir / file)) << file;
  auto best = nlohmann::json::parse(std::ifstream(dir / "best.json"));
  EXPECT_TRUE(best.at("feasible").get<bool>());
  EXPECT_EQ(best.at("arch"), arch_to_json(f.s, first.best.arch));
  auto pareto = nlohmann::json::parse(std::ifstream(dir / "pareto.json"));
  EXPECT_FALSE(pareto.at("front").empty());
  EXPECT_TRUE(pareto.at("front")[0].contains("cost"));
  // The same search again on the same folder walks the same path from the log: no oracle calls.
  const int64_t calls = f.oracle.calls;
  auto second = f.run("evolution", 30, f.middle(), 7, nlohmann::json::object(), dir.path.string());
  EXPECT_EQ(f.oracle.calls, calls);
  EXPECT_EQ(second.replayed, 30);
  EXPECT_EQ(second.best.arch, first.best.arch);
}

TEST(SearchRun, RejectsUnknownAlgorithmsAndOptions) {
  RunFixture f;
  EXPECT_TRUE(contains(error_of([&] { f.run("evolutoin", 5, 1); }), "known: "));
  EXPECT_TRUE(contains(error_of([&] { f.run("random", 5, f.middle(), 1, {{"popsize", 3}}); }), "popsize"));
  EXPECT_TRUE(contains(error_of([&] { f.run("evolution", 5, f.middle(), 1, {{"population", "many"}}); }),
                       "population"));
}

}  // namespace
}  // namespace hwnas
