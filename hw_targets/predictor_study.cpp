#include "hw_targets/predictor_study.h"

#include <algorithm>
#include <chrono>

#include "hw_targets/predictor_metrics.h"
#include "nas/progress_bar.h"

namespace hwnas {

namespace {

double median(std::vector<double> v) {
  std::sort(v.begin(), v.end());
  const size_t m = v.size() / 2;
  return v.size() % 2 ? v[m] : 0.5 * (v[m - 1] + v[m]);
}

struct Eval {
  double w10, tau, mape;
};
Eval evaluate(const LatencyPredictor& p, const LatencyData& d, const std::vector<size_t>& rows) {
  const FitSet t = fit_set(d, rows);
  const std::vector<double> pred = p.predict(t.archs);
  return {within_pct(pred, t.latency_ms, 0.10), kendall_tau(pred, t.latency_ms), mape(pred, t.latency_ms)};
}

}  // namespace

double lodo_tolerance(size_t n) { return n >= 100 ? 0.03 : 0.05; }

LodoResult run_lodo(const SearchSpace& s, const std::string& dir, const LodoOptions& o) {
  const auto start = std::chrono::steady_clock::now();
  HWNAS_CHECK(o.repeats >= 1, "lodo: repeats {} must be at least 1", o.repeats);
  HWNAS_CHECK(!o.samples.empty(), "lodo: no sample sizes");
  const ArchTable archs = read_arch_table(s, o.archs_path.empty() ? dir + "/archs.csv" : o.archs_path);
  std::vector<LatencyData> devices;
  for (const std::string& f : latency_files_in(dir)) devices.push_back(read_latency_csv(f, archs));
  HWNAS_CHECK(devices.size() >= 2, "lodo: {} holds {} device file(s); leaving one out needs at least 2", dir,
              devices.size());
  for (const LatencyData& d : devices) {
    HWNAS_CHECK(o.ceiling_train < d.size(), "lodo: ceiling fit on {} archs leaves none to evaluate in {} ({} archs)",
                o.ceiling_train, d.source, d.size());
    for (size_t n : o.samples)
      HWNAS_CHECK(n >= 3 && n < d.size(), "lodo: {} samples is not between 3 and {} ({})", n, d.size() - 1, d.source);
  }
  const size_t total = devices.size() * (1 + size_t(o.repeats));
  TaskProgress progress(o.progress, "lodo", int64_t(total));
  int64_t done = 0;
  std::vector<TransferSource> sources;
  for (const LatencyData& d : devices) {
    sources.push_back(make_transfer_source(s, d));
    progress.update(++done);
  }
  LodoResult res;
  for (size_t di = 0; di < devices.size(); ++di) {
    const LatencyData& d = devices[di];
    std::vector<TransferSource> others;
    for (size_t j = 0; j < devices.size(); ++j)
      if (j != di) others.push_back(sources[j]);
    std::vector<double> cw, ct;
    std::vector<std::vector<double>> rw(o.samples.size()), rt(o.samples.size()), tw(o.samples.size()),
        tt(o.samples.size()), tm(o.samples.size());
    for (int rep = 0; rep < o.repeats; ++rep) {
      const uint64_t seed = o.seed + uint64_t(rep);
      std::vector<size_t> rest;
      const std::vector<size_t> train = sample_rows(d.size(), o.ceiling_train, seed, &rest);
      const FitSet ts = fit_set(d, train);
      const Eval ce = evaluate(*fit_additive(s, ts.archs, ts.latency_ms), d, rest);
      cw.push_back(ce.w10);
      ct.push_back(ce.tau);
      for (size_t k = 0; k < o.samples.size(); ++k) {
        // Each N draws its own sample (seeded by the repeat and N); ridge and transfer share it.
        const std::vector<size_t> few = sample_rows(d.size(), o.samples[k], seed * 1000003ULL + o.samples[k], &rest);
        const FitSet fs = fit_set(d, few);
        const Eval re = evaluate(*fit_additive(s, fs.archs, fs.latency_ms), d, rest);
        const Eval te = evaluate(*fit_transfer(s, others, fs.archs, fs.latency_ms, o.transfer), d, rest);
        rw[k].push_back(re.w10);
        rt[k].push_back(re.tau);
        tw[k].push_back(te.w10);
        tt[k].push_back(te.tau);
        tm[k].push_back(te.mape);
      }
      progress.update(++done);
    }
    LodoRow row;
    row.device = d.device;
    row.ceiling_w10 = median(cw);
    row.ceiling_tau = median(ct);
    for (size_t k = 0; k < o.samples.size(); ++k) {
      LodoCell c;
      c.n = o.samples[k];
      c.ridge_w10 = median(rw[k]);
      c.ridge_tau = median(rt[k]);
      c.transfer_w10 = median(tw[k]);
      c.transfer_tau = median(tt[k]);
      c.transfer_mape = median(tm[k]);
      c.tolerance = lodo_tolerance(c.n);
      c.pass = c.transfer_tau >= row.ceiling_tau - c.tolerance && c.transfer_w10 >= row.ceiling_w10 - c.tolerance;
      c.repeat_tau = tt[k];
      c.repeat_w10 = tw[k];
      for (size_t r = 0; r < tt[k].size(); ++r)
        c.repeats_passing += tt[k][r] >= ct[r] - c.tolerance && tw[k][r] >= cw[r] - c.tolerance;
      row.cells.push_back(c);
    }
    res.rows.push_back(std::move(row));
  }
  res.seconds = std::chrono::duration<double>(std::chrono::steady_clock::now() - start).count();
  return res;
}

std::string lodo_markdown(const LodoResult& r, const LodoOptions& o) {
  std::string head = "| device | ceiling w10 / tau |", rule = "|---|---|";
  for (size_t n : o.samples) {
    head += fmt::format(" N={0} ridge tau | N={0} transfer w10 / tau | N={0} pass (tol {1:.2f}) |", n, lodo_tolerance(n));
    rule += "---|---|---|";
  }
  std::string out = head + "\n" + rule + "\n";
  size_t passed = 0, cells = 0;
  for (const LodoRow& row : r.rows) {
    out += fmt::format("| {} | {:.1f}% / {:.3f} |", row.device, 100 * row.ceiling_w10, row.ceiling_tau);
    for (const LodoCell& c : row.cells) {
      out += fmt::format(" {:.3f} | {:.1f}% / {:.3f} | {} |", c.ridge_tau, 100 * c.transfer_w10, c.transfer_tau,
                         c.pass ? "pass" : "FAIL");
      passed += c.pass;
      ++cells;
    }
    out += "\n";
  }
  out += fmt::format("\n{} of {} (device, N) pass on the medians of {} repeat(s), seed {}; {:.1f} s\n", passed, cells,
                     o.repeats, o.seed, r.seconds);
  if (o.repeats > 1) {
    std::string per;
    for (const LodoRow& row : r.rows)
      for (const LodoCell& c : row.cells)
        if (c.repeats_passing < o.repeats)
          per += fmt::format("{}{} N={} {}/{}", per.empty() ? "" : ", ", row.device, c.n, c.repeats_passing, o.repeats);
    out += "single repeats passing (where not all): " + (per.empty() ? std::string("none missing") : per) + "\n";
  }
  return out;
}

nlohmann::json lodo_json(const LodoResult& r, const LodoOptions& o) {
  nlohmann::json rows = nlohmann::json::array();
  for (const LodoRow& row : r.rows) {
    nlohmann::json cells = nlohmann::json::array();
    for (const LodoCell& c : row.cells)
      cells.push_back({{"samples", c.n},
                       {"ridge_within_10pct", c.ridge_w10},
                       {"ridge_kendall_tau", c.ridge_tau},
                       {"transfer_within_10pct", c.transfer_w10},
                       {"transfer_kendall_tau", c.transfer_tau},
                       {"transfer_mape", c.transfer_mape},
                       {"tolerance", c.tolerance},
                       {"pass", c.pass},
                       {"repeat_transfer_kendall_tau", c.repeat_tau},
                       {"repeat_transfer_within_10pct", c.repeat_w10},
                       {"repeats_passing", c.repeats_passing}});
    rows.push_back({{"device", row.device},
                    {"ceiling_within_10pct", row.ceiling_w10},
                    {"ceiling_kendall_tau", row.ceiling_tau},
                    {"by_samples", cells}});
  }
  return {{"study", "leave-one-device-out"},
          {"samples", o.samples},
          {"seed", o.seed},
          {"repeats", o.repeats},
          {"ceiling_train", o.ceiling_train},
          {"seconds", r.seconds},
          {"devices", rows}};
}

}  // namespace hwnas
