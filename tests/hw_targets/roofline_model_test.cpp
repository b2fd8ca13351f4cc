// The roofline model against hand-computed values, and its calibration against known
// coefficients.
#include <gtest/gtest.h>

#include <cmath>
#include <random>

#include "hw_targets/roofline_model.h"
#include "hw_targets/roofline_target.h"
#include "tests/hw_targets/hw_test_util.h"
#include "tests/test_util.h"

namespace hwnas {
namespace {

using nlohmann::json;

using test::tiny_net;  // conv 3->4 k3 on 8x8 (6912 MACs, 116 params), global pool, linear 4->2 (8 MACs, 10 params)

// 1 GFLOP/s = 1e6 flop per ms, 1 GB/s = 1e6 bytes per ms: easy numbers to check by hand.
json unit_device() {
  return json{{"peak_gflops", 1},       {"bandwidth_gbs", 1}, {"layer_overhead_us", 10}, {"net_overhead_us", 100},
              {"mac_pj", 1},            {"dram_pj_per_byte", 10}, {"onchip_pj_per_byte", 1}, {"static_w", 1},
              {"clock_ghz", 1},         {"mac_area_um2", 1000},   {"sram_um2_per_byte", 1}};
}

TEST(RooflineTarget, SmallNetworkMatchesHandComputation) {
  const CostResult r = make_roofline_target(unit_device(), "test")->cost(tiny_net());
  EXPECT_EQ(r.method, CostMethod::model);
  // conv: 13824 flop (13.824 us) vs 464 + 768 + 1024 bytes (2.256 us): compute-bound.
  // pool: 256 flop vs 1024 + 16 bytes (1.04 us): memory-bound. linear: 16 flop vs 40 + 16 + 8
  // bytes (0.064 us). Each +10 us launch, +100 us per network.
  const double ms = 0.1 + (0.013824 + 0.01) + (0.00104 + 0.01) + (0.000064 + 0.01);
  EXPECT_NEAR(r.latency_ms, ms, 1e-12);
  const json& layers = r.details["layers"];
  ASSERT_EQ(layers.size(), 3u);
  EXPECT_EQ(layers[0]["bound"], "compute");
  EXPECT_EQ(layers[1]["bound"], "memory");
  EXPECT_EQ(layers[2]["bound"], "memory");
  EXPECT_EQ(layers[0]["flops"], 13824);
  EXPECT_EQ(layers[0]["bytes"], 2256);
  EXPECT_NEAR(layers[1]["ms"].get<double>(), 0.01104, 1e-12);
  // Energy: 6920 MACs x 1 pJ + 3360 DRAM bytes x 10 pJ + 2 x 6920 x 4 on-chip bytes x 1 pJ,
  // plus 1 W over the latency.
  EXPECT_NEAR(*r.energy_mj, (6920 + 33600 + 55360) * 1e-9 + 1.0 * ms, 1e-15);
  // Area: 1 GFLOP/s at 1 GHz is 0.5 MAC units x 1000 um^2; the largest working set (the conv's
  // 2256 bytes) x 1 um^2.
  EXPECT_NEAR(*r.area_mm2, (500 + 2256) * 1e-6, 1e-15);
  EXPECT_EQ(*r.memory_bytes, 2256);
}

TEST(RooflineTarget, BatchAndBitsScaleTheTraffic) {
  json c = unit_device();
  c["batch"] = 2;
  c["onchip_kib"] = 1;
  const CostResult r = make_roofline_target(c, "test")->cost(tiny_net());
  // Weights once, activations per image.
  EXPECT_EQ(r.details["layers"][0]["bytes"], 464 + 2 * (768 + 1024));
  EXPECT_EQ(r.details["layers"][0]["flops"], 2 * 13824);
  EXPECT_EQ(*r.memory_bytes, 1024);
  c["batch"] = 1;
  c["bits"] = 8;
  EXPECT_EQ(make_roofline_target(c, "test")->cost(tiny_net()).details["layers"][0]["bytes"], 2256 / 4);
}

TEST(RooflineTarget, ConfigErrorsNameTheKeyAndDefaultsAreReported) {
  EXPECT_TRUE(test::contains(test::error_of([] { make_roofline_target(json{{"peak_gflop", 3}}, "cpu.json"); }),
                             "unknown key \"peak_gflop\""));
  EXPECT_TRUE(test::contains(test::error_of([] { make_roofline_target(json{{"bandwidth_gbs", 0}}, "cpu.json"); }),
                             "cpu.json: \"bandwidth_gbs\""));
  const json c = make_roofline_target(json::object(), "roofline")->config();
  EXPECT_EQ(c["peak_gflops"], 90);
  EXPECT_EQ(c["bandwidth_gbs"], 20);
}

// Networks of random layers whose arithmetic intensity spans compute- and memory-bound.
std::vector<std::vector<LayerWork>> random_profiles(uint32_t seed, int nets) {
  std::mt19937 rng(seed);
  std::uniform_real_distribution<double> log_macs(4, 8), log_bytes(3, 7);
  std::uniform_int_distribution<int> n_layers(3, 12);
  std::vector<std::vector<LayerWork>> profiles;
  for (int i = 0; i < nets; ++i) {
    std::vector<LayerWork> p;
    const int n = n_layers(rng);
    for (int l = 0; l < n; ++l) {
      LayerWork w;
      w.index = size_t(l);
      w.type = "conv_bn_act";
      w.layer = json{{"type", "conv_bn_act"}};
      w.macs = int64_t(std::pow(10.0, log_macs(rng)));
      const double bytes = std::pow(10.0, log_bytes(rng));
      w.weight_bytes = bytes / 2;
      w.input_bytes = bytes / 4;
      w.output_bytes = bytes / 4;
      p.push_back(w);
    }
    profiles.push_back(std::move(p));
  }
  return profiles;
}

TEST(RooflineCalibration, RecoversKnownCoefficients) {
  RooflineDevice truth;
  truth.peak_gflops = 37;
  truth.bandwidth_gbs = 11;
  truth.layer_overhead_us = 7;
  truth.net_overhead_us = 40;
  const auto profiles = random_profiles(7, 10);
  std::vector<double> ms;
  for (const auto& p : profiles) ms.push_back(roofline_estimate(p, truth).latency_ms);
  RooflineFit fit;
  fit.net_overhead = true;
  const RooflineCalibration c = calibrate_roofline(profiles, ms, RooflineDevice{}, fit);
  EXPECT_NEAR(c.device.peak_gflops, 37, 37 * 1e-6);
  EXPECT_NEAR(c.device.bandwidth_gbs, 11, 11 * 1e-6);
  EXPECT_NEAR(c.device.layer_overhead_us, 7, 1e-4);
  EXPECT_NEAR(c.device.net_overhead_us, 40, 1e-4);
  EXPECT_NEAR(c.efficiency, 37.0 / 90.0, 1e-6);
  EXPECT_LT(c.rms_rel_error, 1e-9);
  // Holding a coefficient fixed at its true value fits the rest.
  RooflineDevice prior;
  prior.net_overhead_us = 40;
  const RooflineCalibration c3 = calibrate_roofline(profiles, ms, prior, RooflineFit{});
  EXPECT_NEAR(c3.device.peak_gflops, 37, 37 * 1e-6);
  EXPECT_NEAR(c3.device.bandwidth_gbs, 11, 11 * 1e-6);
  EXPECT_EQ(c3.device.net_overhead_us, 40);
}

TEST(RooflineCalibration, NoisyMeasurementsGiveCloseCoefficients) {
  RooflineDevice truth;
  truth.peak_gflops = 60;
  truth.bandwidth_gbs = 15;
  truth.layer_overhead_us = 3;
  const auto profiles = random_profiles(11, 24);
  std::mt19937 rng(3);
  std::uniform_real_distribution<double> noise(-0.01, 0.01);
  std::vector<double> ms;
  for (const auto& p : profiles) ms.push_back(roofline_estimate(p, truth).latency_ms * (1 + noise(rng)));
  const RooflineCalibration c = calibrate_roofline(profiles, ms);
  EXPECT_NEAR(c.device.peak_gflops, 60, 60 * 0.05);
  EXPECT_NEAR(c.device.bandwidth_gbs, 15, 15 * 0.05);
  EXPECT_LT(c.rms_rel_error, 0.01);
}

TEST(RooflineCalibration, BadInputsAreClearErrors) {
  const auto profiles = random_profiles(5, 4);
  EXPECT_TRUE(test::contains(test::error_of([&] { calibrate_roofline(profiles, {1, 2, 3}); }),
                             "got 4 networks but 3 measured latencies"));
  EXPECT_TRUE(test::contains(
      test::error_of([&] { calibrate_roofline({profiles[0], profiles[1]}, {1, 2}); }), "at least 3"));
  EXPECT_TRUE(test::contains(test::error_of([&] { calibrate_roofline(profiles, {1, 2, -3, 4}); }),
                             "measured latency -3 of network 2"));
  // Every layer compute-bound: the data say nothing about the bandwidth.
  RooflineDevice truth;
  truth.bandwidth_gbs = 1e9;
  std::vector<double> ms;
  for (const auto& p : profiles) ms.push_back(roofline_estimate(p, truth).latency_ms);
  const std::string e = test::error_of([&] { calibrate_roofline(profiles, ms); });
  EXPECT_TRUE(test::contains(e, "do not determine bandwidth_gbs")) << e;
}

}  // namespace
}  // namespace hwnas
