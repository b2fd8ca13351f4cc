// HURRICANE: per-target candidate ops (scoring, top k), the layer split, the stage search, the
// two-stage flow with a fake trainer, and (with Fashion-MNIST) a tiny real run.
#include "nas/search/hurricane.h"

#include <gtest/gtest.h>

#include <chrono>
#include <cstdio>
#include <cstdlib>
#include <filesystem>
#include <fstream>

#include "io/idx.h"
#include "nas/builtin_spaces.h"
#include "nas/search/algorithms.h"
#include "nas/search/supernet_accuracy.h"
#include "nas/supernet_train.h"
#include "tests/nas/search/search_test_util.h"
#include "tests/test_util.h"

namespace hwnas {
namespace {

using nlohmann::json;
namespace fs = std::filesystem;

// Accuracy: +0.004 per active block with kernel 5, +0.003 per expand step above 2 (e4 +0.003,
// e6 +0.006), and a little per depth; every block alike, so costs decide the ranking.
class OpOracle : public AccuracyOracle {
 public:
  explicit OpOracle(const SearchSpace& s) : s_(s) {}
  double accuracy(const Arch& a) override {
    ++calls;
    const Arch c = canonical_arch(s_, a);
    double acc = 0.5;
    size_t b = 0;
    for (size_t st = 0; st < s_.stages.size(); ++st)
      for (size_t i = 0; i < s_.stages[st].num_blocks; ++i, ++b)
        if (static_cast<int64_t>(i) < c.depth[st])
          acc += 0.004 * (c.kernel[b] == 5) + 0.003 * (c.expand[b] / 2 - 1) + 0.001;
    return acc;
  }
  json config() const override { return {{"kind", "op-oracle"}}; }
  int64_t calls = 0;

 private:
  const SearchSpace& s_;
};

// latency = sum over MBConv layers of base + per_kernel5 * (kernel == 5) + per_expand * expand.
class ProfileTarget : public Target {
 public:
  ProfileTarget(double per_kernel5, double per_expand) : k5_(per_kernel5), e_(per_expand) {}
  std::string name() const override { return "profile"; }
  std::string kind() const override { return "fake"; }
  CostResult cost(const NetworkSpec& net) override {
    CostResult r;
    r.method = CostMethod::model;
    for (const auto& l : net.layers)
      if (l.value("type", "") == "mbconv")
        r.latency_ms += 1.0 + k5_ * (l.at("kernel").get<int64_t>() == 5) + e_ * l.at("expand").get<double>();
    return r;
  }
  json config() const override { return {{"kind", "fake"}}; }

 private:
  double k5_, e_;
};

std::vector<std::string> kept_names(const HurricaneOpScores& sc, size_t layer) {
  std::vector<std::string> n;
  for (size_t op : sc.kept[layer]) n.push_back(sc.layers[layer].names[op]);
  return n;
}
bool has(const std::vector<std::string>& v, const std::string& x) { return std::find(v.begin(), v.end(), x) != v.end(); }

TEST(HurricaneTest, LayersAreTheOpDimensionsOfEachBlock) {
  const SearchSpace& em = elastic_mobile_space();
  const auto layers = hurricane_layers(em);
  ASSERT_EQ(layers.size(), 10u);
  for (size_t b = 0; b < layers.size(); ++b) {
    EXPECT_EQ(layers[b].block, b);
    EXPECT_EQ(layers[b].dims.size(), 2u);  // kernel, expand
    EXPECT_EQ(layers[b].names, (std::vector<std::string>{"k3_e2", "k3_e4", "k3_e6", "k5_e2", "k5_e4", "k5_e6"}));
  }
  EXPECT_EQ(layers[4].stage, 1u);
  EXPECT_EQ(layers[5].stage, 2u);
  const SearchSpace& fb = fbnet_space();
  const auto fl = hurricane_layers(fb);
  ASSERT_EQ(fl.size(), 22u);
  EXPECT_EQ(fl[0].names, fb.dims[fl[0].dims[0]].names);
}

TEST(HurricaneTest, KeepsTheOpsThatAreCheapOnEachTarget) {
  const SearchSpace& s = elastic_mobile_space();
  OpOracle oracle(s);
  ProfileTarget expand_costly(/*per_kernel5=*/0.0, /*per_expand=*/2.0);  // kernel 5 is free here
  ProfileTarget kernel_costly(/*per_kernel5=*/5.0, /*per_expand=*/0.0);  // expand is free here
  HurricaneScoreOptions o;
  o.k = 3;
  Evaluator ea(s, &oracle, &expand_costly), eb(s, &oracle, &kernel_costly);
  Generator ga(1), gb(1);
  const auto a = hurricane_score_ops(s, ea, o, ga, 1000);
  const auto b = hurricane_score_ops(s, eb, o, gb, 1000);
  EXPECT_EQ(a.evaluations, ea.evaluations());
  EXPECT_LE(a.evaluations, 10 * 6 + 2);
  EXPECT_GT(a.rate, 0);
  bool differ = false;
  for (size_t l = 0; l < a.layers.size(); ++l) {
    const auto ka = kept_names(a, l), kb = kept_names(b, l);
    ASSERT_EQ(ka.size(), 3u);
    // Where kernel 5 costs nothing it is kept with the cheapest expand; every kept op is k5.
    EXPECT_EQ(ka[0], "k5_e2") << "layer " << l;
    for (const auto& n : ka) EXPECT_EQ(n.substr(0, 2), "k5") << "layer " << l;
    // Where expand is free and kernel 5 costs, the widest k3 leads and k5_e2 is not kept.
    EXPECT_EQ(kb[0], "k3_e6") << "layer " << l;
    EXPECT_FALSE(has(kb, "k5_e2")) << "layer " << l;
    differ |= ka != kb;
    // The ChoiceSets of the target's space: the union of the kept ops' choices.
    const auto& kd = s.dims[a.layers[l].dims[0]];
    ASSERT_EQ(a.allowed[a.layers[l].dims[0]].size(), 1u);
    EXPECT_EQ(kd.values[a.allowed[a.layers[l].dims[0]][0]], 5);
    EXPECT_EQ(b.allowed[b.layers[l].dims[1]].size(), 2u);  // k3_e6, k3_e4, k5_e6: expands {4, 6}
  }
  EXPECT_TRUE(differ);
  // Depth dims are not ops: left open.
  for (size_t i = 0; i < s.dims.size(); ++i)
    if (s.dims[i].kind == DimKind::depth) EXPECT_TRUE(a.allowed[i].empty());
  // Without the cost term the most accurate op leads.
  o.cost_weight = 0;
  Generator gc(1);
  const auto c = hurricane_score_ops(s, ea, o, gc, 1000);
  for (size_t l = 0; l < c.layers.size(); ++l) EXPECT_EQ(kept_names(c, l)[0], "k5_e6");
  // The scores follow the documented formula.
  for (size_t l = 0; l < a.layers.size(); ++l)
    for (size_t op = 0; op < 6; ++op)
      EXPECT_NEAR(a.score[l][op], a.accuracy[l][op] - a.rate * a.cost[l][op], 1e-12);
}

TEST(HurricaneTest, ScoringRefusesABudgetTooSmall) {
  const SearchSpace& s = elastic_mobile_space();
  OpOracle oracle(s);
  test::MacsTarget t;
  Evaluator e(s, &oracle, &t);
  Generator g(0);
  const std::string err = test::error_of([&] { hurricane_score_ops(s, e, {}, g, 10); });
  EXPECT_TRUE(test::contains(err, "raise --budget")) << err;
  EXPECT_EQ(oracle.calls, 0);
}

TEST(HurricaneTest, SplitsTheLaterHalfOfTheBlocks) {
  const SearchSpace& em = elastic_mobile_space();  // blocks per stage 2, 3, 3, 2
  EXPECT_EQ(hurricane_default_split(em), 2u);
  const auto later = hurricane_later_dims(em, 2);
  for (size_t i = 0; i < em.dims.size(); ++i) {
    EXPECT_EQ(later[i], em.dims[i].stage >= 2) << i;
    if (em.dims[i].kind == DimKind::kernel) EXPECT_EQ(later[i], em.dims[i].block >= 5) << i;
  }
  EXPECT_EQ(hurricane_default_split(fbnet_space()), 4u);  // blocks 1, 4, 4, 4, 4, 4, 1: the last 9 of 22
}

TEST(HurricaneTest, StageSearchVariesOnlyItsPartWithinTheKeptOps) {
  const SearchSpace& s = elastic_mobile_space();
  OpOracle oracle(s);
  ProfileTarget target(5.0, 0.0);
  Evaluator e(s, &oracle, &target);
  Generator g(3);
  const auto sc = hurricane_score_ops(s, e, {}, g, 1000);
  const auto later = hurricane_later_dims(s, 2);
  const std::vector<size_t> base = arch_choices(s, min_arch(s));  // a cheap earlier part
  const std::vector<Constraint> cs = {{"latency_ms", 30.0, true}};
  HurricaneStageSearch o;
  o.budget = 15;
  o.population = 5;
  o.constraints = cs;
  Evaluator se(s, &oracle, &target);
  auto cost_ok = [&](const Arch& a) {
    Candidate c;
    c.cost = se.cost(a);
    return feasible(c, cs);
  };
  Generator sg(4);
  const auto cands = hurricane_stage_search(s, sc, later, base, o, [&](const Arch& a) { return se.evaluate(a, "t"); },
                                            cost_ok, sg);
  ASSERT_EQ(cands.size(), 15u);
  EXPECT_EQ(se.evaluations(), 15);
  for (const Candidate& c : cands) {
    const auto ch = arch_choices(s, c.arch);
    for (size_t i = 0; i < s.dims.size(); ++i)
      if (!later[i]) EXPECT_EQ(ch[i], base[i]) << "earlier dim " << i << " moved";
    for (size_t l = 0; l < sc.layers.size(); ++l) {
      const auto& L = sc.layers[l];
      if (!later[L.dims[0]] || L.block - s.stages[L.stage].first_block >= static_cast<size_t>(c.arch.depth[L.stage]))
        continue;  // earlier, or dropped by the depth
      std::string name = fmt::format("k{}_e{}", c.arch.kernel[L.block], c.arch.expand[L.block]);
      EXPECT_TRUE(has(kept_names(sc, l), name)) << name << " is not kept in layer " << l;
    }
  }
  const Candidate best = best_of(cands, cs, "latency_ms");
  EXPECT_TRUE(feasible(best, cs));
}

// The two-stage flow with a trainer that hands back a fake oracle: the stages' spaces, the
// checkpoint chain, the budget, and a re-run replaying every evaluation.
TEST(HurricaneTest, TwoStagesFixTheOtherPartAndKeepTheBudget) {
  const SearchSpace& s = elastic_mobile_space();
  test::TempDir dir("hurricane");
  OpOracle oracle(s);
  ProfileTarget target(5.0, 0.5);
  SearchConfig cfg;
  cfg.algo = "hurricane";
  cfg.budget = 90;
  cfg.seed = 5;
  cfg.progress = false;
  cfg.out_dir = dir.path.string();
  cfg.constraints = {{"latency_ms", 25.0, true}};
  std::vector<ChoiceSets> allowed_seen;
  std::vector<std::string> init_seen;
  int64_t stage_oracle_calls = 0;
  auto trainer = [&](int stage, const ChoiceSets& allowed, const std::string& init_from, const std::string& d,
                     json& info) -> std::unique_ptr<AccuracyOracle> {
    allowed_seen.push_back(allowed);
    init_seen.push_back(init_from);
    EXPECT_EQ(d, (dir.path / "hurricane" / fmt::format("stage{}", stage)).string());
    info = {{"fake", true}};
    struct Counting : OpOracle {
      using OpOracle::OpOracle;
      int64_t* n = nullptr;
      double accuracy(const Arch& a) override { return ++*n, OpOracle::accuracy(a); }
    };
    auto o = std::make_unique<Counting>(s);
    o->n = &stage_oracle_calls;
    return o;
  };
  auto run = [&] {
    Evaluator eval(s, &oracle, &target, dir / "search_log.jsonl");
    Generator gen(cfg.seed);
    SearchContext ctx{s, eval, cfg, gen};
    ctx.supernet_checkpoint = "start.hwnas";
    auto out = run_hurricane(ctx, trainer);
    return std::make_tuple(out, eval.evaluations(), eval.replayed());
  };
  const auto [out, evals, replayed] = run();
  ASSERT_TRUE(out.chosen.has_value());
  ASSERT_EQ(allowed_seen.size(), 2u);
  EXPECT_EQ(init_seen[0], "start.hwnas");
  EXPECT_EQ(init_seen[1], (dir.path / "hurricane" / "stage1" / "checkpoint.hwnas").string());
  const auto later = hurricane_later_dims(s, 2);
  const auto chosen = arch_choices(s, *out.chosen);
  for (size_t i = 0; i < s.dims.size(); ++i) {
    // Stage 1 fixes the earlier dims to one choice; stage 2 the later ones, to stage 1's answer.
    if (!later[i]) EXPECT_EQ(allowed_seen[0][i].size(), 1u) << i;
    if (later[i]) {
      ASSERT_EQ(allowed_seen[1][i].size(), 1u) << i;
      const bool dropped = s.dims[i].kind != DimKind::depth &&
                           s.blocks[s.dims[i].block].index_in_stage >= static_cast<size_t>(out.chosen->depth[s.dims[i].stage]);
      if (!dropped) EXPECT_EQ(allowed_seen[1][i][0], chosen[i]) << i;
    }
  }
  const json& info = out.info;
  EXPECT_EQ(info.at("evaluations").at("total").get<int64_t>(), evals + stage_oracle_calls);
  EXPECT_LE(info.at("evaluations").at("total").get<int64_t>(), cfg.budget);
  EXPECT_GE(info.at("evaluations").at("total").get<int64_t>(), cfg.budget - 2);
  EXPECT_EQ(info.at("kept_ops").size(), 10u);
  EXPECT_EQ(info.at("stages").size(), 2u);
  Candidate c;
  c.arch = *out.chosen;
  c.cost = Evaluator(s, nullptr, &target).cost(*out.chosen);
  EXPECT_TRUE(feasible(c, cfg.constraints)) << c.cost.at("latency_ms");
  EXPECT_TRUE(fs::exists(dir / "hurricane/candidate_ops.json"));
  EXPECT_TRUE(fs::exists(dir / "hurricane/summary.json"));
  // Again on the same folder: the same answer, every evaluation replayed from the logs.
  const int64_t calls = oracle.calls, stage_calls = stage_oracle_calls;
  const auto [out2, evals2, replayed2] = run();
  EXPECT_EQ(*out2.chosen, *out.chosen);
  EXPECT_EQ(oracle.calls, calls);
  EXPECT_EQ(stage_oracle_calls, stage_calls);
  EXPECT_EQ(replayed2, evals2);
  EXPECT_EQ(replayed, 0);
}

TEST(HurricaneTest, NeedsAnOutputFolderAndAValidSplit) {
  const SearchSpace& s = elastic_mobile_space();
  OpOracle oracle(s);
  test::MacsTarget target;
  Evaluator eval(s, &oracle, &target);
  Generator gen(0);
  SearchConfig cfg;
  cfg.budget = 100;
  cfg.algo = "hurricane";
  SearchContext ctx{s, eval, cfg, gen};
  auto no_train = [](int, const ChoiceSets&, const std::string&, const std::string&, json&)
      -> std::unique_ptr<AccuracyOracle> { return nullptr; };
  EXPECT_TRUE(test::contains(test::error_of([&] { run_hurricane(ctx, no_train); }), "--out"));
  test::TempDir dir("hurricane_split");
  cfg.out_dir = dir.path.string();
  cfg.options = {{"split", 4}};
  EXPECT_TRUE(test::contains(test::error_of([&] { run_hurricane(ctx, no_train); }), "\"split\""));
  EXPECT_EQ(oracle.calls, 0);
  const auto& info = search_algorithm("hurricane");
  EXPECT_TRUE(info.needs_supernet);
}

// The real algorithm with tiny training (2 steps per stage) and a tiny validation split.
TEST(HurricaneTest, TinyRealRunTrainsBothStages) {
  if (!test::have_fashion_mnist()) GTEST_SKIP() << "Fashion-MNIST not installed at " << kFashionMnistDir;
  const SearchSpace& s = elastic_mobile_space();
  test::TempDir dir("hurricane_real");
  OpOracle oracle(s);  // the scoring's oracle (stands in for the search's supernet)
  test::MacsTarget target;
  Evaluator eval(s, &oracle, &target, dir / "search_log.jsonl");
  Generator gen(0);
  SearchConfig cfg;
  cfg.algo = "hurricane";
  cfg.budget = 60;  // scoring (refs 1: 53), one final, three evaluations per stage
  cfg.progress = false;
  cfg.out_dir = dir.path.string();
  cfg.options = {{"epochs", 1}, {"batch", 32}, {"train_limit", 64}};
  SupernetAccuracyOptions so;
  so.val_images = 64;
  so.recal_batches = 1;
  so.batch = 32;
  SupernetAccuracy sn(std::make_shared<ElasticMobileSupernet>(0), so);
  SearchContext ctx{s, eval, cfg, gen};
  ctx.supernet = &sn;  // only its options are used: no checkpoint, so stage 1 starts from scratch
  auto out = search_algorithm("hurricane").run(ctx);
  ASSERT_TRUE(out.chosen.has_value());
  for (int st = 1; st <= 2; ++st)
    EXPECT_TRUE(fs::exists(dir.path / "hurricane" / fmt::format("stage{}", st) / "checkpoint.hwnas")) << st;
  EXPECT_EQ(out.info.at("stages")[0].at("train").at("steps").get<int64_t>(), 2);
  EXPECT_LE(out.info.at("evaluations").at("total").get<int64_t>(), cfg.budget);
}

}  // namespace
}  // namespace hwnas

namespace hwnas {
namespace {

// The experiment of the README (not a test; run by hand, ~15 min on one core):
//   OMP_NUM_THREADS=1 build/hwnas_tests --gtest_also_run_disabled_tests \
//     --gtest_filter='HurricaneExperiment.*'
// Environment: HX_OUT (folder, default /tmp/hurricane_exp), HX_TARGET (host-cpu | roofline),
// HX_BUDGET (evaluations, default 80), HX_VAL_IMAGES (validation split, default 500), HX_TRAIN_LIMIT (images per stage, default 5000),
// HX_START (supernet checkpoint, or "warmup" for a short shared warm-up run; default
// /work/runs/sn/checkpoint.hwnas when it exists, else scratch), HX_WARMUP_LIMIT (images),
// HX_SEED (both searches' and trainings' seed, default 1).
// HURRICANE: 2 stages x 1 epoch of HX_TRAIN_LIMIT images; SPOS: the uniform sampler on the full
// space for 2 epochs of the same images (the same steps), then NSGA-II with the same budget.
// Both fine-tune from HX_START (or start from scratch alike) with the same peak lr.
TEST(HurricaneExperiment, DISABLED_TwoStageVersusSingleStageSpos) {
  auto env = [](const char* k, const std::string& d) { const char* v = std::getenv(k); return v ? std::string(v) : d; };
  const fs::path out = env("HX_OUT", "/tmp/hurricane_exp");
  const std::string target_name = env("HX_TARGET", "host-cpu");
  const int64_t budget = std::stoll(env("HX_BUDGET", "80"));
  const int64_t train_limit = std::stoll(env("HX_TRAIN_LIMIT", "5000"));
  const uint64_t seed = std::stoull(env("HX_SEED", "1"));
  std::string start = env("HX_START", fs::exists("/work/runs/sn/checkpoint.hwnas") ? "/work/runs/sn/checkpoint.hwnas" : "");
  const double lr = 0.02;
  fs::create_directories(out);
  if (start == "warmup") {
    // No trained supernet at hand: a short shared warm-up (uniform sampler, full space, 1 epoch
    // of HX_WARMUP_LIMIT images) that both methods start from; its time is in neither's.
    SupernetTrainConfig wc;
    wc.sampler = "uniform";
    wc.epochs = 1;
    wc.train_limit = std::stoll(env("HX_WARMUP_LIMIT", "10000"));
    wc.out_dir = (out / "warmup").string();
    wc.resume = true;
    wc.eval_archs = {"max", "min"};
    wc.test_limit = 2000;
    wc.recal_batches = 10;
    train_supernet(wc);
    start = (out / "warmup" / "checkpoint.hwnas").string();
  }
  const SearchSpace& s = elastic_mobile_space();
  TargetPtr target = make_target(target_name, target_name == "host-cpu" ? json{{"threads", 1}} : json::object());
  // A smaller validation split than the default keeps the experiment within minutes on one core.
  SupernetAccuracyOptions so;
  so.val_images = std::stoll(env("HX_VAL_IMAGES", "500"));
  so.recal_batches = 4;
  std::shared_ptr<ElasticMobileSupernet> start_net =
      start.empty() ? std::make_shared<ElasticMobileSupernet>(0) : std::shared_ptr<ElasticMobileSupernet>(load_supernet(start));
  SupernetAccuracy start_acc(start_net, so, start);
  Evaluator costs(s, nullptr, target.get());
  const double lmax = costs.cost(max_arch(s)).at("latency_ms"), lmin = costs.cost(min_arch(s)).at("latency_ms");
  const double bound = (lmax + lmin) / 2;
  std::fprintf(stderr, "start %s, target %s: latency min %.4f max %.4f ms, bound %.4f ms\n",
               start.empty() ? "(scratch)" : start.c_str(), target_name.c_str(), lmin, lmax, bound);
  SearchConfig cfg;
  cfg.budget = budget;
  cfg.seed = seed;
  cfg.constraints = {{"latency_ms", bound, true}};
  json report = {{"start", start}, {"target", target_name}, {"budget", budget}, {"train_limit", train_limit}, {"seed", seed},
                 {"latency_min_ms", lmin}, {"latency_max_ms", lmax}, {"bound_ms", bound}};

  // HURRICANE.
  auto t0 = std::chrono::steady_clock::now();
  {
    SearchConfig c = cfg;
    c.algo = "hurricane";
    c.out_dir = (out / "hurricane").string();
    c.options = {{"epochs", 1}, {"train_limit", train_limit}, {"lr", lr}};
    fs::create_directories(c.out_dir);
    Evaluator eval(s, &start_acc, target.get(), (out / "hurricane" / "search_log.jsonl").string());
    Generator gen(c.seed);
    SearchContext ctx{s, eval, c, gen};
    ctx.supernet = &start_acc;
    ctx.supernet_checkpoint = start;
    const SearchResult r = run_search(ctx);
    const double wall = std::chrono::duration<double>(std::chrono::steady_clock::now() - t0).count();
    double train_s = 0;
    for (const auto& st : r.info.at("stages")) train_s += st.at("train").at("train_seconds").get<double>();
    const std::string ck2 = (out / "hurricane" / "hurricane" / "stage2" / "checkpoint.hwnas").string();
    SupernetAccuracy own(std::shared_ptr<ElasticMobileSupernet>(load_supernet(ck2)), so, ck2);
    const Arch a = r.best.arch;
    report["hurricane"] = {{"arch", arch_to_json(s, a)}, {"latency_ms", r.best.cost.at("latency_ms")},
                           {"steps", 2 * (train_limit / 128)}, {"train_seconds", train_s}, {"wall_seconds", wall},
                           {"search_evaluations_total", r.info.at("evaluations").at("total")},
                           {"val_accuracy_own_supernet", r.info.at("stages")[1].at("best").at("accuracy")},
                           {"test_accuracy_own_supernet", own.test_accuracy(a, 10)},
                           {"test_accuracy_start_supernet", start_acc.test_accuracy(a, 10)},
                           {"kept_ops", r.info.at("kept_ops")}};
    std::fprintf(stderr, "%s\n", report["hurricane"].dump().c_str());
  }
  // Single-stage SPOS: uniform sampler on the full space, the same steps, then NSGA-II.
  t0 = std::chrono::steady_clock::now();
  {
    SupernetTrainConfig tc;
    tc.sampler = "uniform";
    tc.epochs = 2;
    tc.train_limit = train_limit;
    tc.lr = static_cast<float>(lr);
    tc.init_from = start;
    tc.out_dir = (out / "spos" / "train").string();
    tc.resume = true;
    tc.eval_archs = {};
    tc.seed = seed;
    const SupernetTrainResult tr = train_supernet(tc);
    double train_s = 0;
    for (const auto& e : tr.epochs) train_s += e.seconds;
    const std::string ck = (out / "spos" / "train" / "checkpoint.hwnas").string();
    SupernetAccuracy own(std::shared_ptr<ElasticMobileSupernet>(load_supernet(ck)), so, ck);
    SearchConfig c = cfg;
    c.algo = "evolution";
    c.out_dir = (out / "spos" / "search").string();
    fs::create_directories(c.out_dir);
    Evaluator eval(s, &own, target.get(), (out / "spos" / "search" / "search_log.jsonl").string());
    Generator gen(c.seed);
    SearchContext ctx{s, eval, c, gen};
    const SearchResult r = run_search(ctx);
    const double wall = std::chrono::duration<double>(std::chrono::steady_clock::now() - t0).count();
    const Arch a = r.best.arch;
    report["spos"] = {{"arch", arch_to_json(s, a)}, {"latency_ms", r.best.cost.at("latency_ms")},
                      {"steps", 2 * (train_limit / 128)}, {"train_seconds", train_s}, {"wall_seconds", wall},
                      {"search_evaluations_total", r.evaluations}, {"val_accuracy_own_supernet", r.best.accuracy},
                      {"test_accuracy_own_supernet", own.test_accuracy(a, 10)},
                      {"test_accuracy_start_supernet", start_acc.test_accuracy(a, 10)}};
    std::fprintf(stderr, "%s\n", report["spos"].dump().c_str());
  }
  std::ofstream(out / "report.json") << report.dump(2) << "\n";
  std::fprintf(stderr, "%s\n", report.dump(2).c_str());
}

}  // namespace
}  // namespace hwnas
