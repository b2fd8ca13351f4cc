// The roofline model's evaluation (latency, energy, area); its calibration lives in
// roofline_calibrate.cpp.
#include "hw_targets/roofline_model.h"

#include <algorithm>

#include "hw_targets/target.h"
#include "tensor/error.h"

namespace hwnas {

using nlohmann::json;

RooflineDevice roofline_device(const json& config, const std::string& source) {
  TargetConfigReader r{config, source};
  r.only({"peak_gflops", "bandwidth_gbs", "layer_overhead_us", "net_overhead_us", "batch", "bits", "mac_pj",
          "dram_pj_per_byte", "onchip_pj_per_byte", "onchip_reuse", "static_w", "clock_ghz", "mac_area_um2",
          "sram_um2_per_byte", "onchip_kib"});
  RooflineDevice d;
  d.peak_gflops = r.number("peak_gflops", d.peak_gflops, 1e-9);
  d.bandwidth_gbs = r.number("bandwidth_gbs", d.bandwidth_gbs, 1e-9);
  d.layer_overhead_us = r.number("layer_overhead_us", d.layer_overhead_us, 0);
  d.net_overhead_us = r.number("net_overhead_us", d.net_overhead_us, 0);
  d.batch = r.integer("batch", d.batch, 1);
  d.bits = r.integer("bits", d.bits, 1);
  d.mac_pj = r.number("mac_pj", d.mac_pj, 0);
  d.dram_pj_per_byte = r.number("dram_pj_per_byte", d.dram_pj_per_byte, 0);
  d.onchip_pj_per_byte = r.number("onchip_pj_per_byte", d.onchip_pj_per_byte, 0);
  d.onchip_reuse = r.number("onchip_reuse", d.onchip_reuse, 1e-9);
  d.static_w = r.number("static_w", d.static_w, 0);
  d.clock_ghz = r.number("clock_ghz", d.clock_ghz, 1e-9);
  d.mac_area_um2 = r.number("mac_area_um2", d.mac_area_um2, 0);
  d.sram_um2_per_byte = r.number("sram_um2_per_byte", d.sram_um2_per_byte, 0);
  d.onchip_kib = r.number("onchip_kib", d.onchip_kib, 0);
  return d;
}

json roofline_device_to_json(const RooflineDevice& d) {
  return json{{"peak_gflops", d.peak_gflops},
              {"bandwidth_gbs", d.bandwidth_gbs},
              {"layer_overhead_us", d.layer_overhead_us},
              {"net_overhead_us", d.net_overhead_us},
              {"batch", d.batch},
              {"bits", d.bits},
              {"mac_pj", d.mac_pj},
              {"dram_pj_per_byte", d.dram_pj_per_byte},
              {"onchip_pj_per_byte", d.onchip_pj_per_byte},
              {"onchip_reuse", d.onchip_reuse},
              {"static_w", d.static_w},
              {"clock_ghz", d.clock_ghz},
              {"mac_area_um2", d.mac_area_um2},
              {"sram_um2_per_byte", d.sram_um2_per_byte},
              {"onchip_kib", d.onchip_kib}};
}

RooflineWork roofline_work(const LayerWork& w, int64_t batch, int64_t bits) {
  RooflineWork r;
  const double n = double(batch), scale = double(bits) / 32.0;
  auto elems = [](const Shape& s) {
    double e = 1;
    for (int64_t d : s) e *= double(d);
    return e;
  };
  const std::string& t = w.type;
  // Views and no-ops at inference: no kernel, no traffic.
  if (t == "identity" || t == "flatten" || t == "dropout") return r;
  r.macs = double(w.macs) * n;
  r.kernels = 1;
  if (w.macs > 0) {
    r.flops = 2.0 * r.macs;
    if (t == "mbconv") {
      // expand, depthwise, project; a channel shuffle when grouped; Split-Attention's sum,
      // pool, fc1, fc2, softmax and weighted sum when radix > 1.
      r.kernels = 3 + (w.layer.value("groups", 1) > 1 ? 1 : 0) + (w.layer.value("radix", 1) > 1 ? 6 : 0);
    }
  } else if (t == "batch_norm") {
    r.flops = 2.0 * elems(w.out) * n;
  } else if (t == "max_pool" || t == "avg_pool") {
    const double k = double(w.layer.value("kernel", 2));
    r.flops = elems(w.out) * k * k * n;
  } else if (t == "global_avg_pool") {
    r.flops = elems(w.in) * n;
  } else if (t == "activation") {
    r.flops = elems(w.out) * n;
  }  // channel_shuffle moves data only
  r.bytes = (w.weight_bytes + n * (w.input_bytes + w.output_bytes + 2.0 * w.internal_bytes)) * scale;
  r.working_set = (w.weight_bytes + n * (w.input_bytes + w.output_bytes + w.internal_bytes)) * scale;
  return r;
}

namespace {

// Milliseconds of one layer (without its launch overhead) and whether compute bounds it.
std::pair<double, bool> layer_ms(const RooflineWork& w, const RooflineDevice& d) {
  const double compute = w.flops / (d.peak_gflops * 1e6), memory = w.bytes / (d.bandwidth_gbs * 1e6);
  return {std::max(compute, memory), compute >= memory && w.flops > 0};
}

}  // namespace

double roofline_latency_ms(const std::vector<RooflineWork>& work, const RooflineDevice& d) {
  double ms = d.net_overhead_us * 1e-3;
  for (const auto& w : work) ms += layer_ms(w, d).first + w.kernels * d.layer_overhead_us * 1e-3;
  return ms;
}

RooflineEstimate roofline_estimate(const std::vector<LayerWork>& profile, const RooflineDevice& d) {
  RooflineEstimate e;
  e.latency_ms = d.net_overhead_us * 1e-3;
  double macs = 0, working_set = 0;
  for (const auto& lw : profile) {
    const RooflineWork w = roofline_work(lw, d.batch, d.bits);
    const auto [ms, compute_bound] = layer_ms(w, d);
    RooflineLayer l;
    l.index = lw.index;
    l.type = lw.type;
    l.flops = w.flops;
    l.bytes = w.bytes;
    l.ms = ms + w.kernels * d.layer_overhead_us * 1e-3;
    l.compute_bound = compute_bound;
    e.layers.push_back(l);
    e.latency_ms += l.ms;
    e.flops += w.flops;
    e.dram_bytes += w.bytes;
    macs += w.macs;
    working_set = std::max(working_set, w.working_set);
  }
  const double value_bytes = double(d.bits) / 8.0;
  const double onchip_traffic = 2.0 * macs * value_bytes / d.onchip_reuse;
  const double mac_mj = macs * d.mac_pj * 1e-9, dram_mj = e.dram_bytes * d.dram_pj_per_byte * 1e-9;
  const double onchip_mj = onchip_traffic * d.onchip_pj_per_byte * 1e-9;
  const double static_mj = d.static_w * e.latency_ms;  // W x ms = mJ
  e.energy_mj = mac_mj + dram_mj + onchip_mj + static_mj;
  e.onchip_bytes = d.onchip_kib > 0 ? d.onchip_kib * 1024.0 : working_set;
  const double mac_units = d.peak_gflops / (2.0 * d.clock_ghz);
  const double mac_mm2 = mac_units * d.mac_area_um2 * 1e-6, sram_mm2 = e.onchip_bytes * d.sram_um2_per_byte * 1e-6;
  e.area_mm2 = mac_mm2 + sram_mm2;
  e.breakdown = json{{"energy_mj", {{"mac", mac_mj}, {"dram", dram_mj}, {"onchip", onchip_mj}, {"static", static_mj}}},
                     {"area_mm2", {{"mac_units", mac_units}, {"mac", mac_mm2}, {"sram", sram_mm2}}},
                     {"onchip_traffic_bytes", onchip_traffic}};
  return e;
}

json RooflineEstimate::to_json() const {
  json rows = json::array();
  for (const auto& l : layers)
    rows.push_back(json{{"index", l.index}, {"type", l.type}, {"flops", l.flops}, {"bytes", l.bytes},
                        {"bound", l.compute_bound ? "compute" : "memory"}, {"ms", l.ms}});
  json j = breakdown;
  j["flops"] = flops;
  j["dram_bytes"] = dram_bytes;
  j["onchip_bytes"] = onchip_bytes;
  j["layers"] = std::move(rows);
  return j;
}

}  // namespace hwnas
