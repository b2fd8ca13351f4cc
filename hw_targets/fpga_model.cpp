#include "hw_targets/fpga_model.h"

#include <algorithm>
#include <chrono>
#include <cmath>

#include "hw_targets/target.h"
#include "nas/space.h"
#include "tensor/error.h"

namespace hwnas {

using nlohmann::json;

FpgaBoard fpga_board(const json& config, const std::string& source) {
  TargetConfigReader r{config, source};
  r.only({"dsp", "bram18k", "bandwidth_gbs", "clock_mhz", "bits", "pipeline", "max_unroll", "lanes", "power_w",
          "search"});
  FpgaBoard b;
  b.dsp = r.integer("dsp", b.dsp, 1);
  b.bram18k = r.integer("bram18k", b.bram18k, 0);  // 0: LUTRAM only
  b.bandwidth_gbs = r.number("bandwidth_gbs", b.bandwidth_gbs, 1e-9);
  b.clock_mhz = r.number("clock_mhz", b.clock_mhz, 1e-9);
  b.bits = r.integer("bits", b.bits, 1);
  if (b.bits != 8 && b.bits != 16) fail("target {}: \"bits\" must be 8 or 16, got {}", source, b.bits);
  b.pipeline = r.string("pipeline", b.pipeline);
  if (b.pipeline != "stream" && b.pipeline != "frame")
    fail("target {}: \"pipeline\" must be \"stream\" or \"frame\", got \"{}\"", source, b.pipeline);
  b.max_unroll = r.integer("max_unroll", b.max_unroll, 1);
  b.lanes = r.integer("lanes", b.lanes, 1);
  b.power_w = r.number("power_w", b.power_w, 0);
  b.search = r.string("search", b.search);
  if (b.search != "bisection" && b.search != "milp")
    fail("target {}: \"search\" must be \"bisection\" or \"milp\", got \"{}\"", source, b.search);
  return b;
}

json fpga_board_to_json(const FpgaBoard& b) {
  return json{{"dsp", b.dsp},         {"bram18k", b.bram18k},       {"bandwidth_gbs", b.bandwidth_gbs},
              {"clock_mhz", b.clock_mhz}, {"bits", b.bits},         {"pipeline", b.pipeline},
              {"max_unroll", b.max_unroll}, {"lanes", b.lanes},     {"power_w", b.power_w},
              {"search", b.search}};
}

double bram18k_for(double values, double parallel, int64_t bits) {
  const double total_bits = values * double(bits);
  // Buffers under 1 Kib are LUTRAM / registers in practice.
  if (total_bits < 1024) return 0;
  const double words_per_port = std::max<double>(1, std::floor(36.0 / double(bits)));
  const double banks = std::ceil(std::min(parallel, values) / words_per_port);
  return banks * std::ceil(total_bits / (banks * 18432.0));
}

namespace {

double elems(const Shape& s) {
  double e = 1;
  for (int64_t d : s) e *= double(d);
  return e;
}

// {1, 2, 4, ...} below n, and n itself, none above `cap`.
std::vector<int64_t> unroll_set(int64_t n, int64_t cap) {
  std::vector<int64_t> v;
  for (int64_t p = 1; p < n && p <= cap; p *= 2) v.push_back(p);
  if (n <= cap) v.push_back(n);
  return v;
}

int64_t ceil_div(int64_t a, int64_t b) { return (a + b - 1) / b; }

}  // namespace

std::vector<FpgaStage> fpga_stages(const std::vector<LayerWork>& profile, const FpgaBoard& b) {
  std::vector<FpgaStage> st;
  for (const LayerWork& lw : profile) {
    const json& l = lw.layer;
    const std::string& t = lw.type;
    const int64_t c = lw.in.at(0), h = lw.in.at(1), w = lw.in.at(2);
    const std::string base = std::to_string(lw.index) + ".";
    auto conv = [&](const std::string& name, int64_t cin, int64_t cout, int64_t g, int64_t k, int64_t ih, int64_t iw,
                    int64_t oh, int64_t ow, bool bias) {
      FpgaStage s;
      s.layer = lw.index;
      s.name = base + name;
      s.kind = cin / g == 1 ? FpgaStage::Kind::depthwise : FpgaStage::Kind::conv;
      s.cin = cin;
      s.cout = cout;
      s.groups = g;
      s.kernel = k;
      s.in_h = ih;
      s.in_w = iw;
      s.out_h = oh;
      s.out_w = ow;
      s.weights = double(cout * (cin / g) * k * k) + (bias ? double(cout) : 0.0);
      st.push_back(s);
    };
    auto elementwise = [&](const std::string& name, double cycles, double bram) {
      FpgaStage s;
      s.layer = lw.index;
      s.name = base + name;
      s.kind = FpgaStage::Kind::elementwise;
      s.fixed_cycles = std::ceil(cycles);
      s.fixed_bram = bram;
      st.push_back(s);
    };
    const int64_t oh = lw.out.at(1), ow = lw.out.at(2);
    if (t == "conv_bn_act" || t == "conv") {
      conv(t, c, lw.out.at(0), l.value("groups", 1), l.at("kernel").get<int64_t>(), h, w, oh, ow,
           t == "conv_bn_act" || l.value("bias", false));
    } else if (t == "mbconv") {
      const int64_t e = l.at("expand"), g = l.value("groups", 1), r = l.value("radix", 1), k = l.at("kernel");
      const int64_t hid = c * e;
      conv("expand", c, hid, g, 1, h, w, h, w, true);
      conv("dw", hid, hid * r, hid, k, h, w, oh, ow, true);
      if (r > 1) {
        // Split-Attention: fc1 and fc2 on the pooled vector; summing the splits, pooling and
        // the weighted sum are element-wise. The global pool is a frame barrier a streaming
        // design would have to buffer; not modelled.
        const int64_t a = split_attention_width(hid, r);
        conv("fc1", hid, a, 1, 1, 1, 1, 1, 1, true);
        conv("fc2", a, hid * r, 1, 1, 1, 1, 1, 1, true);
        elementwise("attention", 3.0 * double(hid * r * oh * ow) / double(b.lanes), 0);
      }
      conv("project", hid, lw.out.at(0), g, 1, oh, ow, oh, ow, true);
    } else if (t == "linear") {
      conv("linear", c * h * w, lw.out.at(0), 1, 1, 1, 1, 1, 1, l.value("bias", true));
    } else if (t == "batch_norm" || t == "activation" || t == "channel_shuffle") {
      elementwise(t, elems(lw.in) / double(b.lanes), 0);
    } else if (t == "max_pool" || t == "avg_pool") {
      const int64_t k = l.value("kernel", 2);
      elementwise(t, elems(lw.out) * double(k * k) / double(b.lanes),
                  bram18k_for(double(k * w * c), double(b.lanes), b.bits));
    } else if (t == "global_avg_pool") {
      elementwise(t, elems(lw.in) / double(b.lanes), bram18k_for(double(c), double(b.lanes), 32));
    } else if (t != "identity" && t != "flatten" && t != "dropout") {
      fail("fpga: layer {} has type \"{}\", which the FPGA model does not know", lw.index, t);
    }
  }
  if (st.empty()) fail("fpga: the network has no layer that maps to an engine");
  const double value_bytes = double(b.bits) / 8.0;
  st.front().io_bytes += elems(profile.front().in) * value_bytes;
  st.back().io_bytes += elems(profile.back().out) * value_bytes;
  return st;
}

std::vector<FpgaOption> fpga_options(const FpgaStage& s, const FpgaBoard& b) {
  const double clock = b.clock_mhz * 1e6, bandwidth = b.bandwidth_gbs * 1e9, value_bytes = double(b.bits) / 8.0;
  auto finish = [&](FpgaOption& o) {
    o.latency_s = std::max(o.cycles / clock, o.bytes / bandwidth);
  };
  std::vector<FpgaOption> opts;
  if (s.kind == FpgaStage::Kind::elementwise) {
    FpgaOption o;
    o.cycles = s.fixed_cycles;
    o.bram = s.fixed_bram;
    o.bytes = s.io_bytes;
    finish(o);
    opts.push_back(o);
    return opts;
  }
  const bool dw = s.kind == FpgaStage::Kind::depthwise;
  const int64_t cin_g = s.cin / s.groups, cout_g = s.cout / s.groups, kk = s.kernel * s.kernel;
  const double pixels = double(s.out_h * s.out_w * kk);
  const int64_t macs_per_dsp = b.bits <= 8 ? 2 : 1;
  for (int64_t tn : dw ? std::vector<int64_t>{1} : unroll_set(cin_g, b.max_unroll)) {
    for (int64_t tm : unroll_set(dw ? s.cout : cout_g, b.max_unroll)) {
      const double line = bram18k_for(double(s.kernel * s.in_w * s.cin), double(dw ? std::min(tm, s.cin) : tn), b.bits);
      for (bool on_chip : {true, false}) {
        FpgaOption o;
        o.tn = tn;
        o.tm = tm;
        o.weights_on_chip = on_chip;
        o.cycles = dw ? double(ceil_div(s.cout, tm)) * pixels
                      : double(s.groups * ceil_div(cin_g, tn) * ceil_div(cout_g, tm)) * pixels;
        o.dsp = double(ceil_div(tn * tm, macs_per_dsp));
        const double per_cycle = double(tn * tm);
        o.bram = line + (on_chip ? bram18k_for(s.weights, per_cycle, b.bits)
                                 : bram18k_for(2.0 * per_cycle * double(kk), per_cycle, b.bits));
        o.bytes = s.io_bytes + (on_chip ? 0.0 : s.weights * value_bytes * double(s.out_h));
        finish(o);
        opts.push_back(o);
      }
    }
  }
  return opts;
}

FpgaDesign fpga_design(const std::vector<LayerWork>& profile, const FpgaBoard& b, const std::string& what) {
  FpgaDesign d;
  d.stages = fpga_stages(profile, b);
  McProblem p;
  p.what = what;
  p.dsp_budget = double(b.dsp);
  p.bram_budget = double(b.bram18k);
  const bool stream = b.pipeline == "stream";
  p.objective = stream ? McObjective::bottleneck : McObjective::sum;
  p.bandwidth = stream ? b.bandwidth_gbs * 1e9 : 0;
  p.bottleneck_search = b.search == "milp" ? McBottleneckSearch::milp : McBottleneckSearch::bisection;
  std::vector<std::vector<FpgaOption>> options;
  for (const auto& s : d.stages) {
    options.push_back(fpga_options(s, b));
    std::vector<McOption> mc;
    for (const auto& o : options.back()) mc.push_back({o.latency_s, o.dsp, o.bram, o.bytes});
    p.stages.push_back(std::move(mc));
  }
  const auto t0 = std::chrono::steady_clock::now();
  const McSolution sol = solve_multi_choice(p);
  d.solve_ms = std::chrono::duration<double, std::milli>(std::chrono::steady_clock::now() - t0).count();
  for (size_t i = 0; i < d.stages.size(); ++i) d.chosen.push_back(options[i][size_t(sol.choice[i])]);
  // A frame pipeline at batch 1 holds one image at a time: it passes the stages in turn, each
  // with the whole bandwidth (already in its latency), and the next image enters after it.
  d.sum_ms = sol.sum * 1e3;
  d.interval_ms = stream ? sol.bottleneck * 1e3 : d.sum_ms;
  d.latency_ms = stream ? d.interval_ms : d.sum_ms;
  d.dsp = sol.dsp;
  d.bram = sol.bram;
  d.dram_bytes = sol.bytes;
  d.options_total = sol.options_total;
  d.options_kept = sol.options_kept;
  d.optimal = sol.optimal;
  d.gap = sol.gap;
  d.method = sol.method;
  d.tie_break_optimal = sol.tie_break_optimal;
  d.tie_break_gap = sol.tie_break_gap;
  return d;
}

json FpgaDesign::to_json(const FpgaBoard& b) const {
  json rows = json::array();
  const double clock = b.clock_mhz * 1e6;
  for (size_t i = 0; i < stages.size(); ++i) {
    const FpgaStage& s = stages[i];
    const FpgaOption& o = chosen[i];
    json r{{"stage", s.name}, {"layer", s.layer}, {"dsp", o.dsp}, {"bram18k", o.bram}, {"cycles", o.cycles},
           {"dram_bytes", o.bytes}, {"ms", o.latency_s * 1e3},
           {"bound", o.cycles / clock >= o.latency_s ? "compute" : "memory"}};
    if (s.kind != FpgaStage::Kind::elementwise) {
      r["tn"] = o.tn;
      r["tm"] = o.tm;
      r["weights"] = o.weights_on_chip ? "on_chip" : "streamed";
      r["kind"] = s.kind == FpgaStage::Kind::depthwise ? "depthwise" : "conv";
    } else {
      r["kind"] = "elementwise";
    }
    rows.push_back(std::move(r));
  }
  const double interval_s = interval_ms * 1e-3;
  // What sets the pace: the stages one after another (frame), or the slowest stage or the DRAM
  // traffic of all stages together (stream).
  std::string bottleneck = "sum of stages";
  if (b.pipeline == "stream") {
    size_t slowest = 0;
    for (size_t i = 1; i < stages.size(); ++i)
      if (chosen[i].latency_s > chosen[slowest].latency_s) slowest = i;
    bottleneck = chosen[slowest].latency_s * 1e3 >= interval_ms * (1 - 1e-12) ? stages[slowest].name : "bandwidth";
  }
  return json{{"pipeline", b.pipeline},
              {"latency_ms", latency_ms},
              {"interval_ms", interval_ms},
              {"fps", interval_ms > 0 ? 1e3 / interval_ms : 0.0},
              {"sum_ms", sum_ms},
              {"bottleneck", bottleneck},
              {"resources",
               {{"dsp", {{"used", dsp}, {"budget", b.dsp}}},
                {"bram18k", {{"used", bram}, {"budget", b.bram18k}}},
                {"bandwidth_gbs", {{"used", interval_s > 0 ? dram_bytes / interval_s / 1e9 : 0.0}, {"budget", b.bandwidth_gbs}}}}},
              {"dram_bytes_per_image", dram_bytes},
              {"solver",
               {{"solve_ms", solve_ms}, {"options", options_total}, {"options_kept", options_kept},
                {"optimal", optimal}, {"gap", gap}, {"method", method}, {"tie_break_optimal", tie_break_optimal},
                {"tie_break_gap", tie_break_gap}}},
              {"stages", std::move(rows)}};
}

}  // namespace hwnas
