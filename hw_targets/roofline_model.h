#pragma once
// FLASH-style analytical cost of a network on a device described by a handful of coefficients
// (Li et al., "FLASH: Fast Neural Architecture Search with Hardware Optimization", 2021):
//
//   latency = net_overhead + sum over layers of
//               max(flops / peak, bytes / bandwidth) + kernels * layer_overhead
//   energy  = macs * mac_pj + dram_bytes * dram_pj_per_byte + onchip_bytes * onchip_pj_per_byte
//             + static_w * latency
//   area    = mac_units * mac_area_um2 + onchip_capacity_bytes * sram_um2_per_byte
//
// where a layer's flops are 2 x its multiply-adds (element-wise layers: one op per element),
// its bytes the DRAM traffic of layer_profile (weights + input + output + 2 x internal: hidden
// tensors are written and read back once), scaled from f32 to `bits`. The per-device numbers
// live in the target's JSON config (docs/hw-targets.md); calibrate_roofline fits the latency
// coefficients to measured networks.
#include <nlohmann/json.hpp>

#include <string>
#include <vector>

#include "hw_targets/layer_profile.h"

namespace hwnas {

struct RooflineDevice {
  // Latency. Defaults: this machine, 2 Zen3 cores x 16 f32 flop/cycle (AVX2) x ~3 GHz and the
  // DRAM bandwidth a 2-core VM sees.
  double peak_gflops = 90;
  double bandwidth_gbs = 20;
  double layer_overhead_us = 5;  // per kernel launched (an mbconv launches 3)
  double net_overhead_us = 0;    // once per forward pass
  int64_t batch = 1;
  int64_t bits = 32;  // bits per value; byte counts scale by bits / 32 from layer_profile's f32
  // Energy (45 nm figures of Horowitz, ISSCC 2014): f32 multiply 3.7 pJ + add 0.9 pJ; DRAM
  // about 20 pJ/bit; a 32 KiB SRAM about 20 pJ per 64-bit access.
  double mac_pj = 4.6;
  double dram_pj_per_byte = 160;
  double onchip_pj_per_byte = 2.5;
  double onchip_reuse = 1;  // on-chip operand reads per MAC are 2 / onchip_reuse values
  double static_w = 2;
  // Area: mac_units = peak_gflops / (2 * clock_ghz); 45 nm f32 multiplier 7700 um^2 + adder
  // 4184 um^2; SRAM about 0.5 um^2 per bit with its periphery. onchip_kib 0 sizes the on-chip
  // buffer to the network (its largest layer working set), as an accelerator designed for it.
  double clock_ghz = 3;
  double mac_area_um2 = 11884;
  double sram_um2_per_byte = 4;
  double onchip_kib = 0;
};

// Reads a config (TargetConfigReader: unknown keys and bad values throw naming `source`).
RooflineDevice roofline_device(const nlohmann::json& config, const std::string& source);
nlohmann::json roofline_device_to_json(const RooflineDevice& d);

// One layer as the model sees it, before the device coefficients.
struct RooflineWork {
  double flops = 0;    // per forward pass at the device's batch
  double bytes = 0;    // DRAM traffic
  double macs = 0;
  double kernels = 0;  // kernel launches, each paying layer_overhead
  double working_set = 0;  // bytes a layer needs resident at once (weights + input + output)
};
RooflineWork roofline_work(const LayerWork& w, int64_t batch, int64_t bits);

struct RooflineLayer {
  size_t index = 0;
  std::string type;
  double flops = 0, bytes = 0, ms = 0;
  bool compute_bound = false;
};
struct RooflineEstimate {
  double latency_ms = 0, energy_mj = 0, area_mm2 = 0;
  double onchip_bytes = 0;  // the on-chip buffer the area counts
  double dram_bytes = 0, flops = 0;
  std::vector<RooflineLayer> layers;
  nlohmann::json to_json() const;  // totals, the energy/area breakdown and the per-layer rows
  nlohmann::json breakdown = nlohmann::json::object();
};
RooflineEstimate roofline_estimate(const std::vector<LayerWork>& profile, const RooflineDevice& d);

// Latency only, from precomputed work (what calibration evaluates many times).
double roofline_latency_ms(const std::vector<RooflineWork>& work, const RooflineDevice& d);

// Fits peak_gflops, bandwidth_gbs, layer_overhead_us and net_overhead_us (those marked in
// `fit`; the others keep `prior`'s value) to measured latencies of whole networks, minimising
// the squared relative error. The model is linear in (1/peak, 1/bandwidth, overheads) once each
// layer's bound (compute or memory) is fixed, so the fit alternates: fix the bounds from the
// current coefficients, solve that linear problem exactly with non-negative least squares,
// re-derive the bounds; several starts with different compute/memory balances, the best kept.
struct RooflineFit {
  bool peak = true, bandwidth = true, layer_overhead = true, net_overhead = false;
};
struct RooflineCalibration {
  RooflineDevice device;      // prior with the fitted coefficients
  double efficiency = 0;      // fitted peak / prior peak
  double rms_rel_error = 0;   // over the networks, at the fitted coefficients
  int iterations = 0;
  nlohmann::json to_json() const;
};
RooflineCalibration calibrate_roofline(const std::vector<std::vector<LayerWork>>& profiles,
                                       const std::vector<double>& measured_ms, const RooflineDevice& prior = {},
                                       const RooflineFit& fit = {});

}  // namespace hwnas
