// `hwnas report DIR`: one self-contained HTML page (inline SVG, no scripts, no network) for a
// search folder (`hwnas search`: the Pareto front, the chosen architecture, its per-layer latency
// on the search's target, the supernet's training curves) or a training folder (history.json of
// `hwnas train` / `hwnas supernet train`: the curves).
#include <filesystem>
#include <fstream>
#include <iostream>
#include <nlohmann/json.hpp>

#include <fmt/format.h>

#include "hw_targets/target.h"
#include "io/atomic_file.h"
#include "nas/builtin_spaces.h"
#include "nas/search/candidate.h"
#include "tensor/error.h"
#include "tools/commands.h"
#include "tools/json_file.h"
#include "tools/report_svg.h"

namespace hwnas::cli {

using nlohmann::json;
namespace fs = std::filesystem;
using report::xml_escape;

namespace {

struct ReportArgs {
  std::string dir, out;
  bool no_latency = false;
};

double num(const json& j, const std::string& key, double fallback = NAN) {
  return j.is_object() && j.contains(key) && j[key].is_number() ? j[key].get<double>() : fallback;
}

report::Series series(const std::string& name, const std::string& cls, const std::string& color) {
  report::Series s;
  s.name = name, s.cls = cls, s.color = color;
  return s;
}
report::XYChart xy(const std::string& id, const std::string& title, const std::string& x_label, const std::string& y_label) {
  report::XYChart c;
  c.id = id, c.title = title, c.x_label = x_label, c.y_label = y_label;
  return c;
}

std::string section(const std::string& id, const std::string& title, const std::string& body) {
  return fmt::format("<section id=\"{}\">\n<h2>{}</h2>\n{}</section>\n", id, xml_escape(title), body);
}
std::string para(const std::string& s, const std::string& cls = "note") {
  return "<p class=\"" + cls + "\">" + xml_escape(s) + "</p>\n";
}

// Train loss and test accuracy per epoch of a history.json (train: one test accuracy; supernet:
// the smallest and largest subnet's).
std::string curves_section(const fs::path& history) {
  const json h = read_json(history);
  if (!h.contains("epochs") || !h["epochs"].is_array() || h["epochs"].empty())
    return section("curves", "Training curves", para(history.string() + " holds no epochs yet"));
  report::Series loss = series("train loss", "curve-loss", "#1f77b4");
  report::Series acc = series("test accuracy", "curve-acc", "#2ca02c"), acc_min = series("test accuracy (smallest subnet)", "curve-acc-min", "#ff7f0e"),
      acc_max = series("test accuracy (largest subnet)", "curve-acc-max", "#2ca02c"), tacc = series("train accuracy", "curve-train-acc", "#9467bd");
  for (const json& e : h["epochs"]) {
    const double ep = num(e, "epoch");
    if (std::isnan(ep)) continue;
    if (!std::isnan(num(e, "train_loss"))) loss.x.push_back(ep), loss.y.push_back(num(e, "train_loss"));
    if (!std::isnan(num(e, "train_accuracy"))) tacc.x.push_back(ep), tacc.y.push_back(num(e, "train_accuracy"));
    const json t = e.value("test_accuracy", json());
    if (t.is_number()) acc.x.push_back(ep), acc.y.push_back(t.get<double>());
    if (t.is_object()) {
      if (!std::isnan(num(t, "min"))) acc_min.x.push_back(ep), acc_min.y.push_back(num(t, "min"));
      if (!std::isnan(num(t, "max"))) acc_max.x.push_back(ep), acc_max.y.push_back(num(t, "max"));
    }
  }
  report::XYChart lc = xy("curve-loss-chart", "Train loss per epoch", "epoch", "train loss");
  lc.integer_x = true;
  report::XYChart ac = xy("curve-accuracy-chart", "Accuracy per epoch", "epoch", "accuracy");
  ac.integer_x = true;
  for (report::Series* s : {&loss}) s->line = true, lc.series.push_back(*s);
  for (report::Series* s : {&acc, &acc_max, &acc_min, &tacc})
    if (!s->x.empty()) s->line = true, ac.series.push_back(*s);
  std::string body = para(fmt::format("From {} ({} epochs).", history.string(), h["epochs"].size()), "source");
  body += report::render_xy(lc) + report::render_xy(ac);
  return section("curves", "Training curves", body);
}

struct Point {
  double cost, acc;
};

std::string pareto_section(const fs::path& dir, const json& cfg, const json& best, const std::string& metric) {
  report::Series all = series("evaluated", "pt-all", "#7f7f7f"), front = series("Pareto front", "pt-front", "#1f77b4"),
      chosen = series("chosen (best.json)", "pt-best", "#d62728");
  all.opacity = 0.35, all.radius = 3;
  front.line = true, front.radius = 5;
  chosen.radius = 8;
  std::ifstream log(dir / "search_log.jsonl");
  size_t lines = 0;
  for (std::string line; std::getline(log, line);) {
    if (line.empty()) continue;
    json e;
    try {
      e = json::parse(line);
    } catch (const std::exception&) {
      continue;  // a line cut short by an interrupted search
    }
    if (e.value("type", "") != "eval") continue;
    const double c = num(e.value("cost", json()), metric), a = num(e, "accuracy");
    if (std::isnan(c) || std::isnan(a)) continue;
    all.x.push_back(c), all.y.push_back(a), ++lines;
  }
  std::vector<Point> fp;
  if (fs::exists(dir / "pareto.json"))
    for (const json& p : read_json(dir / "pareto.json").value("front", json::array())) {
      const double c = num(p.value("cost", json()), metric), a = num(p, "accuracy");
      if (!std::isnan(c) && !std::isnan(a)) fp.push_back({c, a});
    }
  std::sort(fp.begin(), fp.end(), [](const Point& a, const Point& b) { return a.cost < b.cost; });
  for (const Point& p : fp) front.x.push_back(p.cost), front.y.push_back(p.acc);
  std::string body;
  if (best.is_object() && !std::isnan(num(best.value("cost", json()), metric)) && !std::isnan(num(best, "accuracy"))) {
    chosen.x.push_back(num(best["cost"], metric)), chosen.y.push_back(num(best, "accuracy"));
    chosen.labels.push_back(fmt::format("chosen: {:.2f}% at {} {}", 100 * num(best, "accuracy"), report::short_num(chosen.x[0]), metric));
  }
  report::XYChart c = xy("pareto-chart", "Accuracy vs " + metric, metric, "accuracy");
  c.series = {all, front, chosen};
  // Constraint bounds on the plotted metrics; one far outside the points is named, not drawn.
  double lo = INFINITY, hi = -INFINITY;
  for (double v : all.x) lo = std::min(lo, v), hi = std::max(hi, v);
  const std::string ctext = cfg.value("constraints", std::string());
  for (const Constraint& k : parse_constraints(ctext)) {
    if (k.metric == metric) {
      if (std::isfinite(hi) && (k.bound > hi + 2 * (hi - lo) + 0.5 * std::abs(hi) || k.bound < lo - 2 * (hi - lo) - 0.5 * std::abs(lo)))
        body += para(fmt::format("Constraint {} lies outside the plotted range (evaluated {} from {} to {}).", k.text(), metric,
                                 report::short_num(lo), report::short_num(hi)));
      else
        c.refs.push_back({true, k.bound, "bound " + k.text()});
    } else if (k.metric == "accuracy") {
      c.refs.push_back({false, k.bound, "bound " + k.text()});
    }
  }
  body = para(fmt::format("{} evaluated subnets from search_log.jsonl (grey), {} on the Pareto front (pareto.json, blue), "
                          "the chosen subnet (best.json, red); constraints: {}.",
                          lines, fp.size(), ctext.empty() ? "none" : ctext),
              "source") + body + report::render_xy(c);
  return section("pareto", "Pareto front", body);
}

std::string layer_name(const json& l) {
  std::string t = l.value("type", "?");
  if (l.contains("op") && l["op"].is_string()) t += " " + l["op"].get<std::string>();
  return t;
}

std::string arch_section(const SearchSpace& s, const json& layers) {
  std::vector<report::BoxRow> rows;
  int64_t wmax = 1;
  for (const json& l : layers) wmax = std::max<int64_t>(wmax, l.value("out", int64_t(0)));
  std::vector<std::string> types;
  for (const json& l : layers) {
    report::BoxRow r;
    r.label = layer_name(l);
    std::string d;
    for (const char* k : {"kernel", "expand", "stride", "out", "radix", "groups"})
      if (l.contains(k) && l[k].is_number_integer() && !(std::string(k) == "groups" && l[k].get<int64_t>() == 1))
        d += fmt::format("{}{}{}", d.empty() ? "" : "  ", std::string(k) == "out" ? "width " : std::string(k) + " ", l[k].get<int64_t>());
    r.detail = d.empty() ? r.label : d;
    r.width_frac = l.contains("out") ? 0.25 + 0.75 * double(l.value("out", int64_t(0))) / double(wmax) : 0.2;
    auto it = std::find(types.begin(), types.end(), r.label);
    r.group = int(it - types.begin());
    if (it == types.end()) types.push_back(r.label);
    rows.push_back(r);
  }
  return section("arch", "Chosen architecture",
                 para(fmt::format("{} layers of space {} (box width follows the output width).", rows.size(), s.name), "source") +
                     report::render_boxes("arch-diagram", "Layers of the chosen subnet", rows));
}

std::string latency_section(const SearchSpace& s, const Arch& a, const json& cfg, bool skip) {
  if (skip) return section("latency", "Per-layer latency", para("Skipped (--no-latency)."));
  if (!cfg.contains("target") || !cfg["target"].is_object())
    return section("latency", "Per-layer latency", para("search_config.json names no target; not available."));
  TargetPtr t = make_target_from_config(cfg["target"], "search_config.json target");
  const NetworkSpec net = arch_network(s, a);
  std::vector<double> ms;
  double whole = NAN;
  std::string how;
  if (t->times_layers_in_context()) {
    const std::vector<LayerTimings> r = t->time_layers_in_context({net});
    if (!r.empty()) ms = r[0].layer_ms, whole = r[0].whole_ms;
    how = "measured now, each layer timed inside the whole network run";
  } else {
    const CostResult c = t->cost(net);
    whole = c.latency_ms;
    if (c.details.contains("layers") && c.details["layers"].is_array()) {
      ms.assign(net.layers.size(), 0.0);
      bool any = false;
      for (const json& l : c.details["layers"]) {
        const double v = num(l, "ms");
        const size_t i = l.value("index", size_t(0));
        if (!std::isnan(v) && i < ms.size()) ms[i] += v, any = true;
      }
      if (!any) ms.clear();
    }
    how = std::string(cost_method_name(c.method)) + " per-layer costs from the target";
  }
  if (ms.empty())
    return section("latency", "Per-layer latency",
                   para(fmt::format("Target {} ({}) gives no per-layer costs; not available (whole network: {} ms).", t->name(),
                                    t->kind(), report::short_num(whole))));
  report::BarChart b;
  b.id = "latency-bars", b.title = "Latency per layer on " + t->name(), b.value_label = "ms";
  for (size_t i = 0; i < ms.size() && i < net.layers.size(); ++i)
    if (ms[i] > 0) b.bars.push_back({fmt::format("{} {}", i, layer_name(net.layers[i])), ms[i]});
  return section("latency", "Per-layer latency",
                 para(fmt::format("Target {} (kind {}): {}; whole network {} ms.", t->name(), t->kind(), how,
                                  report::short_num(whole)), "source") + report::render_bars(b));
}

std::string summary_table(const std::vector<std::pair<std::string, std::string>>& rows) {
  std::string o = "<table class=\"summary\">\n";
  for (const auto& [k, v] : rows) o += "<tr><th>" + xml_escape(k) + "</th><td>" + xml_escape(v) + "</td></tr>\n";
  return o + "</table>\n";
}

std::string page(const std::string& title, const std::string& body) {
  return "<!DOCTYPE html>\n<html lang=\"en\">\n<head>\n<meta charset=\"utf-8\">\n<title>" + xml_escape(title) +
         "</title>\n<style>\n"
         "body{font-family:sans-serif;margin:24px;color:#222;max-width:1100px}\n"
         "h1{font-size:22px}h2{font-size:18px;border-bottom:1px solid #ccc;padding-bottom:4px;margin-top:28px}\n"
         "svg{display:block;margin:8px 0;font-family:sans-serif}\n"
         ".chart-title{font-size:14px;font-weight:bold}.tick-label,.bar-value,.bar-label,.legend{font-size:11px}\n"
         ".axis-label{font-size:12px}.point-label,.bound-label{font-size:11px}.layer-detail,.layer-type{font-size:11px}\n"
         ".note{color:#8a4b00}.source{color:#555;font-size:13px}\n"
         "table.summary{border-collapse:collapse;font-size:13px}table.summary th{text-align:left;padding:2px 12px 2px 0;color:#555}\n"
         "</style>\n</head>\n<body>\n<h1>" + xml_escape(title) + "</h1>\n" + body + "</body>\n</html>\n";
}

std::string search_report(const fs::path& dir, const ReportArgs& a) {
  const json cfg = read_json(dir / "search_config.json");
  const json best = fs::exists(dir / "best.json") ? read_json(dir / "best.json") : json();
  const json info = fs::exists(dir / "search.json") ? read_json(dir / "search.json") : json();
  const std::string metric = cfg.value("cost_metric", std::string("latency_ms"));
  std::vector<std::pair<std::string, std::string>> rows = {
      {"folder", fs::absolute(dir).string()},
      {"space", cfg.value("space", std::string("?"))},
      {"algorithm", cfg.value("algo", std::string("?"))},
      {"target", cfg.contains("target") ? cfg["target"].value("name", cfg["target"].value("kind", std::string("?"))) : "?"},
      {"constraints", cfg.value("constraints", std::string())},
      {"supernet", cfg.value("supernet", std::string())}};
  if (info.is_object()) {
    rows.push_back({"evaluations", fmt::format("{} of budget {}", info.value("evaluations", 0), info.value("budget", 0))});
    rows.push_back({"search time", fmt::format("{:.1f} s", num(info, "seconds", 0))});
  }
  if (best.is_object()) {
    rows.push_back({"chosen accuracy", fmt::format("{:.2f}%", 100 * num(best, "accuracy", 0))});
    const json cost = best.value("cost", json::object());
    for (const auto& [k, v] : cost.items())
      if (v.is_number()) rows.push_back({"chosen " + k, report::short_num(v.get<double>())});
    rows.push_back({"chosen feasible", best.value("feasible", false) ? "yes" : "no"});
  }
  std::string body = summary_table(rows) + pareto_section(dir, cfg, best, metric);
  if (best.is_object() && best.contains("arch")) {
    const SearchSpace s = load_space(cfg.value("space", std::string("elastic-mobile")));
    const Arch arch = parse_arch(s, best["arch"].dump());
    body += arch_section(s, arch_layers(s, arch));
    body += latency_section(s, arch, cfg, a.no_latency);
  } else {
    body += section("arch", "Chosen architecture", para("No best.json (the search has not finished); not available."));
  }
  const std::string sn = cfg.value("supernet", std::string());
  const fs::path hist = sn.empty() ? fs::path() : fs::path(sn).parent_path() / "history.json";
  if (!sn.empty() && fs::exists(hist)) body += curves_section(hist);
  else body += section("curves", "Training curves", para("No history.json beside the supernet checkpoint; not available."));
  return page("hwnas search report: " + dir.filename().string(), body);
}

void run(const ReportArgs& a) {
  const fs::path dir(a.dir);
  if (!fs::is_directory(dir)) fail("report: {} is not a folder", a.dir);
  std::string html;
  if (fs::exists(dir / "search_config.json")) {
    html = search_report(dir, a);
  } else if (fs::exists(dir / "history.json")) {
    html = page("hwnas training report: " + fs::absolute(dir).filename().string(),
                summary_table({{"folder", fs::absolute(dir).string()}}) + curves_section(dir / "history.json"));
  } else {
    fail("report: {} is neither a search folder (search_config.json, pareto.json, best.json from `hwnas search`) nor a "
         "training folder (history.json from `hwnas train` or `hwnas supernet train`)",
         a.dir);
  }
  const std::string out = a.out.empty() ? (dir / "report.html").string() : a.out;
  write_file_atomic(out, html);
  std::cout << "report: wrote " << out << "\n";
}

}  // namespace

void add_report_command(CLI::App& app) {
  auto args = std::make_shared<ReportArgs>();
  CLI::App* cmd = app.add_subcommand("report", "Write a self-contained HTML report (inline SVG charts) of a search or training folder");
  cmd->add_option("dir", args->dir, "a search folder (`hwnas search --out`) or a training folder (history.json)")->required();
  cmd->add_option("--out", args->out, "the HTML file to write (default DIR/report.html)");
  cmd->add_flag("--no-latency", args->no_latency, "skip timing the chosen subnet's layers on the search's target");
  cmd->callback([args] { run(*args); });
}

}  // namespace hwnas::cli
