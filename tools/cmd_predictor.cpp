// `hwnas predictor`: learned latency predictors of a space's architectures (fit, eval,
// predict) and the leave-one-device-out few-shot study.
#include <filesystem>
#include <iostream>
#include <memory>
#include <unordered_set>
#include <nlohmann/json.hpp>

#include "hw_targets/latency_predictor.h"
#include "hw_targets/predictor_additive.h"
#include "hw_targets/predictor_metrics.h"
#include "hw_targets/predictor_mlp.h"
#include "hw_targets/predictor_study.h"
#include "hw_targets/predictor_transfer.h"
#include "io/atomic_file.h"
#include "nas/builtin_spaces.h"
#include "nas/progress_bar.h"
#include "tools/commands.h"

namespace hwnas::cli {

namespace {

std::vector<std::string> split_list(const std::string& s) {
  std::vector<std::string> out;
  size_t start = 0;
  while (start <= s.size()) {
    const size_t comma = s.find(',', start);
    std::string item = s.substr(start, comma == std::string::npos ? std::string::npos : comma - start);
    if (!item.empty()) out.push_back(item);
    if (comma == std::string::npos) break;
    start = comma + 1;
  }
  return out;
}

std::string canonical_or_self(const std::string& p) {
  std::error_code ec;
  auto c = std::filesystem::weakly_canonical(p, ec);
  return ec ? p : c.string();
}

struct FitArgs {
  std::string space = "fbnet", data, model, transfer_from, archs, out;
  int64_t samples = 0;
  uint64_t seed = 0;
  MlpOptions mlp;
  bool quiet = false;
  int threads = 0;
};

void run_fit(const FitArgs& a) {
  set_threads(a.threads);
  const SearchSpace s = load_space(a.space);
  const std::string model = a.model.empty() ? (a.transfer_from.empty() ? "additive" : "transfer") : a.model;
  if (model != "additive" && model != "mlp" && model != "transfer")
    fail("--model: \"{}\" is not one of additive, mlp, transfer", model);
  if (model == "transfer" && a.transfer_from.empty())
    fail("--model transfer needs --transfer-from with the other devices' latency files");
  if (model != "transfer" && !a.transfer_from.empty())
    fail("--transfer-from is only used by --model transfer (got --model {})", model);
  const LatencyData data = read_latency_csv(s, a.data, a.archs);
  if (a.samples < 3 || size_t(a.samples) > data.size())
    fail("--samples: {} is not between 3 and the {} architectures of {}", a.samples, data.size(), a.data);
  const FitSet fs = fit_set(data, sample_rows(data.size(), size_t(a.samples), a.seed));
  nlohmann::json fit = {{"data", a.data},        {"device", data.device}, {"samples", a.samples},
                        {"seed", a.seed},        {"model", model},        {"archs", a.archs.empty() ? default_archs_path(a.data) : a.archs},
                        {"arch_ids", fs.ids}};
  PredictorPtr p;
  if (model == "additive") {
    p = fit_additive(s, fs.archs, fs.latency_ms);
  } else if (model == "mlp") {
    MlpOptions o = a.mlp;
    o.seed = a.seed;
    o.progress = !a.quiet;
    p = MlpPredictor::fit(s, fs.archs, fs.latency_ms, o);
    fit["mlp"] = {{"hidden", o.hidden}, {"layers", o.layers}, {"steps", o.steps}, {"batch", o.batch}, {"lr", o.lr},
                  {"weight_decay", o.weight_decay}};
  } else {
    const auto files = split_list(a.transfer_from);
    if (files.empty()) fail("--transfer-from: no file in \"{}\"", a.transfer_from);
    std::vector<TransferSource> sources;
    TaskProgress progress(!a.quiet, "fitting source devices", int64_t(files.size()));
    for (const std::string& f : files) {
      if (canonical_or_self(f) == canonical_or_self(a.data))
        fail("--transfer-from: {} is the target device's own file (--data); a few-shot fit must not see its data", f);
      sources.push_back(make_transfer_source(s, read_latency_csv(s, f, a.archs)));
      progress.update(int64_t(sources.size()));
    }
    p = fit_transfer(s, sources, fs.archs, fs.latency_ms);
    fit["transfer_from"] = files;
  }
  save_predictor(a.out, *p, fit);
  std::cout << nlohmann::json({{"out", a.out}, {"model", model}, {"samples", a.samples}, {"device", data.device}}).dump()
            << std::endl;
}

}  // namespace

void add_predictor_command(CLI::App& app) {
  auto* cmd = app.add_subcommand("predictor", "Learned latency predictors: fit, evaluate, predict; few-shot study");
  cmd->require_subcommand(1);

  auto fa = std::make_shared<FitArgs>();
  auto* fit = cmd->add_subcommand("fit", "Fit a latency predictor on N random architectures of a device's latency file");
  fit->add_option("--space", fa->space, "built-in space (fbnet) or a space JSON file whose dimensions are all ops")
      ->capture_default_str();
  fit->add_option("--data", fa->data, "latency file arch_id,latency_ms of the device (archs.csv beside it)")->required();
  fit->add_option("--samples", fa->samples, "how many random architectures of --data to fit on")->required();
  fit->add_option("--seed", fa->seed, "seed of the random choice of architectures (and of the MLP)")->capture_default_str();
  fit->add_option("--model", fa->model,
                  "additive (ridge per layer-op), mlp (autograd MLP), transfer (few-shot with --transfer-from); "
                  "default: transfer when --transfer-from is given, else additive");
  fit->add_option("--transfer-from", fa->transfer_from,
                  "comma-separated latency files of other devices (same archs) to learn a prior from");
  fit->add_option("--archs", fa->archs, "architecture table arch_id,layer0,... (default: archs.csv beside each latency file)");
  fit->add_option("--out", fa->out, "predictor JSON to write (atomically); records the arch_ids used")->required();
  fit->add_option("--hidden", fa->mlp.hidden, "mlp: units per hidden layer")->check(positive())->capture_default_str();
  fit->add_option("--layers", fa->mlp.layers, "mlp: hidden layers")->check(positive())->capture_default_str();
  fit->add_option("--steps", fa->mlp.steps, "mlp: AdamW steps")->check(positive())->capture_default_str();
  fit->add_option("--lr", fa->mlp.lr, "mlp: peak learning rate (cosine decay)")->check(positive())->capture_default_str();
  fit->add_option("--threads", fa->threads, "OpenMP threads (0: OMP_NUM_THREADS or all cores)")->check(non_negative());
  fit->add_flag("--quiet", fa->quiet, "no progress line");
  fit->callback([fa] { run_fit(*fa); });

  auto pred_path = std::make_shared<std::string>();
  auto data = std::make_shared<std::string>();
  auto archs = std::make_shared<std::string>();
  auto* ev = cmd->add_subcommand("eval", "Evaluate a predictor on the architectures of a latency file it was not fit on");
  ev->add_option("predictor", *pred_path, "predictor JSON written by `hwnas predictor fit`")->required();
  ev->add_option("--data", *data, "latency file arch_id,latency_ms (archs.csv beside it)")->required();
  ev->add_option("--archs", *archs, "architecture table (default: archs.csv beside --data)");
  ev->callback([=] {
    const PredictorFile pf = load_predictor(*pred_path);
    const LatencyData d = read_latency_csv(pf.model->space(), *data, *archs);
    const auto used = pf.fit_ids();
    const std::unordered_set<int64_t> skip(used.begin(), used.end());
    std::vector<size_t> rows;
    for (size_t i = 0; i < d.size(); ++i)
      if (!skip.count(d.ids[i])) rows.push_back(i);
    if (rows.size() < 2) fail("{}: {} architectures left after removing the {} used for fitting; need 2", *data, rows.size(), used.size());
    const FitSet t = fit_set(d, rows);
    nlohmann::json j = metrics_to_json(predictor_metrics(pf.model->predict(t.archs), t.latency_ms));
    j["kind"] = pf.model->kind();
    j["device"] = d.device;
    std::cout << j.dump() << std::endl;
  });

  auto arch_text = std::make_shared<std::string>();
  auto* pr = cmd->add_subcommand("predict", "Predicted latency (ms) of one architecture");
  pr->add_option("predictor", *pred_path, "predictor JSON written by `hwnas predictor fit`")->required();
  pr->add_option("--arch", *arch_text, "an arch: archs.csv row id, comma-separated ops, JSON, max or min")->required();
  pr->callback([=] {
    const PredictorFile pf = load_predictor(*pred_path);
    const Arch a = parse_arch(pf.model->space(), *arch_text);
    std::cout << nlohmann::json({{"latency_ms", pf.model->predict(a)}, {"kind", pf.model->kind()}}).dump() << std::endl;
  });

  struct LodoArgs {
    std::string space = "fbnet", dir, samples = "20,100", archs, out;
    uint64_t seed = 0;
    int repeats = 1;
    size_t ceiling = 4000;
    bool quiet = false;
    int threads = 0;
  };
  auto la = std::make_shared<LodoArgs>();
  auto* lodo = cmd->add_subcommand(
      "lodo", "Leave-one-device-out study: ceiling, ridge on N samples alone, and transfer with N samples per device");
  lodo->add_option("--data-dir", la->dir, "folder of <device>.csv latency files and archs.csv")->required();
  lodo->add_option("--space", la->space, "built-in space (fbnet) or a space JSON file")->capture_default_str();
  lodo->add_option("--samples", la->samples, "comma-separated few-shot sample counts N")->capture_default_str();
  lodo->add_option("--seed", la->seed, "first seed (repeat r uses seed + r)")->capture_default_str();
  lodo->add_option("--repeats", la->repeats, "repeats; the table shows medians over them")->check(positive())->capture_default_str();
  lodo->add_option("--ceiling-train", la->ceiling, "archs the ceiling's additive model is fit on")->check(positive())->capture_default_str();
  lodo->add_option("--archs", la->archs, "architecture table (default: archs.csv in --data-dir)");
  lodo->add_option("--out", la->out, "also write the results as JSON here (atomically)");
  lodo->add_option("--threads", la->threads, "OpenMP threads (0: OMP_NUM_THREADS or all cores)")->check(non_negative());
  lodo->add_flag("--quiet", la->quiet, "no progress line");
  lodo->callback([la] {
    set_threads(la->threads);
    LodoOptions o;
    o.samples.clear();
    for (const std::string& n : split_list(la->samples)) {
      size_t pos = 0;
      long long v = -1;
      try {
        v = std::stoll(n, &pos);
      } catch (const std::exception&) {
      }
      if (pos != n.size() || v < 3) fail("--samples: \"{}\" is not a count of at least 3", n);
      o.samples.push_back(size_t(v));
    }
    if (o.samples.empty()) fail("--samples: no count in \"{}\"", la->samples);
    o.seed = la->seed;
    o.repeats = la->repeats;
    o.ceiling_train = la->ceiling;
    o.archs_path = la->archs;
    o.progress = !la->quiet;
    const SearchSpace s = load_space(la->space);
    const LodoResult r = run_lodo(s, la->dir, o);
    std::cout << lodo_markdown(r, o) << std::flush;
    if (!la->out.empty()) write_file_atomic(la->out, lodo_json(r, o).dump(2) + "\n");
  });
}

}  // namespace hwnas::cli
