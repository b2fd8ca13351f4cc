// DNAS with a differentiable latency loss (FBNet; LA-DARTS): starting from the weights of the
// search's supernet checkpoint, a few epochs of `hwnas supernet train --sampler dnas` train the
// supernet's weights (train split) and the architecture logits (held-out split) with
//   loss_logits = CE + latency_coef * E[latency] / latency(max subnet)
// and the answer is the arg-max of the logits (SearchOutcome.chosen; run_search evaluates it).
// Choices where the papers leave room or differ:
// - The latency term: FBNet multiplies CE by alpha * log(LAT)^beta; we add coef * E[LAT]
//   normalized by the max subnet's latency (LA-DARTS' additive form), so the coefficient is
//   unit-free across targets. With a latency_ms constraint (or option latency_budget_ms) only
//   E[LAT] above the bound is penalized (a hinge), so the search aims at the constraint instead
//   of pushing latency down without end.
// - E[LAT] is under the softmax of the logits (exact expectation of the categorical
//   distribution), not under the step's Gumbel-softmax sample (nas/dnas_latency.h).
// - The latency model comes from the search's own target (ctx.eval): source lut (default) uses
//   the target's table when it is a `lut` target and otherwise builds a per-layer table on it
//   (hw_targets/lut_build.h), decomposed exactly per block; source swap times the max subnet
//   with one choice swapped in (additive, first order). It is saved in <out>/dnas so that an
//   interrupted search resumes with the same numbers.
// - Simplification: a short run (default 2 epochs on 6000 images) from an already trained
//   supernet instead of FBNet's 90 epochs from scratch with weight warm-up; arch_warmup
//   defaults to 0 since the weights start trained. The budget counts only the evaluation of the
//   chosen arch (the training is the cost of this method).
#include <cmath>
#include <filesystem>

#include "nas/builtin_spaces.h"
#include "nas/dnas_latency.h"
#include "nas/search/algorithms.h"
#include "nas/supernet_train.h"
#include "tensor/error.h"

namespace hwnas {

namespace {

using nlohmann::json;

SearchOutcome run_dnas(SearchContext& ctx) {
  namespace fs = std::filesystem;
  if (ctx.supernet_checkpoint.empty()) fail("search dnas: needs a supernet checkpoint (--supernet)");
  if (ctx.space.name != "elastic-mobile")
    fail("search dnas: supernet training is built for elastic-mobile, not {}", ctx.space.name);
  Target* target = ctx.eval.target();
  if (!target) fail("search dnas: needs a hardware target for the latency term");

  SupernetTrainConfig c;
  c.sampler = "dnas";
  c.init_from = ctx.supernet_checkpoint;
  c.epochs = static_cast<int64_t>(ctx.option("epochs", 2.0));
  c.train_limit = static_cast<int64_t>(ctx.option("train_limit", 6000.0));
  c.test_limit = static_cast<int64_t>(ctx.option("test_limit", 1000.0));
  c.batch = static_cast<int64_t>(ctx.option("batch", 128.0));
  c.lr = static_cast<float>(ctx.option("lr", 0.01));
  c.arch_lr = static_cast<float>(ctx.option("arch_lr", 0.05));
  c.tau = static_cast<float>(ctx.option("tau", 5.0));
  c.tau_decay = static_cast<float>(ctx.option("tau_decay", 0.8));
  c.holdout = static_cast<float>(ctx.option("holdout", 0.2));
  c.arch_warmup_epochs = static_cast<int64_t>(ctx.option("arch_warmup", 0.0));
  c.recal_batches = static_cast<int64_t>(ctx.option("recal_batches", 10.0));
  c.data_dir = ctx.option("data_dir", std::string());
  c.warmup_epochs = 0.f;  // the weights start trained
  c.seed = ctx.cfg.seed;
  c.eval_archs = {};  // only the derived arch is tested after each epoch
  c.progress = ctx.cfg.progress;
  c.latency_coef = static_cast<float>(ctx.option("latency_coef", 1.0));
  c.latency_source = ctx.option("latency_source", std::string("lut"));
  double budget = 0;
  for (const Constraint& k : ctx.cfg.constraints)
    if (k.metric == "latency_ms" && k.upper) budget = budget > 0 ? std::min(budget, k.bound) : k.bound;
  c.latency_budget_ms = static_cast<float>(ctx.option("latency_budget_ms", budget));
  c.latency_target = target->name();
  if (!ctx.cfg.out_dir.empty()) {
    c.out_dir = (fs::path(ctx.cfg.out_dir) / "dnas").string();
    c.resume = fs::exists(fs::path(c.out_dir) / "checkpoint.hwnas");
  }
  if (c.latency_coef > 0.f) {
    const json describe = {{"source", c.latency_source}, {"target", target->config()}};
    c.latency_model = load_or_build_dnas_latency(
        ctx.space, c.out_dir.empty() ? "" : (fs::path(c.out_dir) / "latency_model.json").string(), describe,
        [&] { return make_dnas_latency(ctx.space, c.latency_source, *target, ctx.cfg.progress); });
  }
  ctx.progress("dnas: training", 0, c.epochs);
  const SupernetTrainResult r = train_supernet(c);
  ctx.progress("dnas: training", c.epochs, c.epochs);
  if (r.derived_arch.is_null()) fail("search dnas: training returned no derived arch");
  const Arch chosen = canonical_arch(ctx.space, arch_from_json(ctx.space, r.derived_arch));

  json info = {{"latency_coef", c.latency_coef},
               {"latency_source", c.latency_coef > 0.f ? c.latency_source : "none"},
               {"latency_budget_ms", c.latency_budget_ms},
               {"epochs", c.epochs},
               {"train_limit", c.train_limit},
               {"arch_entropy", r.entropy},
               {"arch_probabilities", r.arch_probabilities},
               {"derived_arch", r.derived_arch}};
  if (!std::isnan(r.expected_latency_ms)) {
    info["expected_latency_ms"] = r.expected_latency_ms;
    info["derived_latency_model_ms"] = r.derived_latency_ms;
  }
  if (!r.epochs.empty()) {
    info["train_loss"] = r.epochs.back().train_loss;
    double sec = 0;
    for (const auto& e : r.epochs) sec += e.seconds;
    info["train_seconds"] = sec;
    // The fine-tuned supernet's test accuracy of the derived arch (a report number; the search
    // chose it from the logits alone).
    if (r.epochs.back().test_accuracy.count("derived"))
      info["derived_test_accuracy_finetuned"] = r.epochs.back().test_accuracy.at("derived");
  }
  if (!c.out_dir.empty()) info["run_dir"] = c.out_dir;
  return {chosen, info};
}

}  // namespace

AlgorithmInfo dnas_algorithm() {
  return {"dnas",
          "FBNet-style DNAS from the supernet checkpoint: Gumbel-softmax logits trained with CE + latency_coef * "
          "E[latency] on the search's target; the arg-max is the answer",
          true,
          {"epochs", "train_limit", "test_limit", "batch", "lr", "arch_lr", "tau", "tau_decay", "holdout",
           "arch_warmup", "recal_batches", "data_dir", "latency_coef", "latency_source", "latency_budget_ms"},
          run_dnas};
}

}  // namespace hwnas
