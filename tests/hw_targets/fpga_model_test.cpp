// The FPGA model and target against hand-computed designs.
#include <gtest/gtest.h>

#include <cmath>
#include <iostream>

#include "hw_targets/fpga_model.h"
#include "hw_targets/fpga_target.h"
#include "nas/builtin_networks.h"
#include "tests/hw_targets/hw_test_util.h"
#include "tests/test_util.h"

namespace hwnas {
namespace {

using nlohmann::json;

using test::tiny_net;

json board(int dsp, int bram) {
  return json{{"dsp", dsp}, {"bram18k", bram}, {"clock_mhz", 100}, {"bandwidth_gbs", 1}, {"lanes", 4}};
}

TEST(FpgaModel, BramCountsBanksAndCapacity) {
  EXPECT_EQ(bram18k_for(60, 4, 16), 0);        // 960 bits: registers
  EXPECT_EQ(bram18k_for(112, 12, 16), 6);      // 6 banks of 2 x 16-bit words, 1792 bits fit
  EXPECT_EQ(bram18k_for(100000, 2, 16), 87);   // 1 bank, 1.6 Mib / 18 Kib
  EXPECT_EQ(bram18k_for(100000, 8, 8), 44);    // 2 banks of 4 bytes, 21.7 BRAM each -> 22 x 2
  EXPECT_EQ(bram18k_for(72, 3, 16), 2);        // 1152 bits, 2 banks
}

TEST(FpgaModel, StagesOfAGroupedMbconv) {
  const NetworkSpec net = parse_network_spec(
      json{{"name", "m"},
           {"input", {16, 8, 8}},
           {"classes", 24},
           {"layers",
            {{{"type", "mbconv"}, {"out", 24}, {"kernel", 5}, {"stride", 2}, {"expand", 3}, {"groups", 2}},
             {{"type", "global_avg_pool"}}}}},
      "m");
  const auto st = fpga_stages(layer_profile(net), FpgaBoard{});
  ASSERT_EQ(st.size(), 4u);
  EXPECT_EQ(st[0].name, "0.expand");
  EXPECT_EQ(st[0].kind, FpgaStage::Kind::conv);
  EXPECT_EQ(st[0].groups, 2);
  EXPECT_EQ(st[0].weights, 48 * 8 + 48);
  EXPECT_EQ(st[1].name, "0.dw");
  EXPECT_EQ(st[1].kind, FpgaStage::Kind::depthwise);
  EXPECT_EQ(st[1].out_h, 4);
  EXPECT_EQ(st[1].weights, 48 * 25 + 48);
  EXPECT_EQ(st[2].name, "0.project");
  EXPECT_EQ(st[2].cin, 48);
  EXPECT_EQ(st[2].cout, 24);
  EXPECT_EQ(st[2].in_h, 4);
  EXPECT_EQ(st[3].kind, FpgaStage::Kind::elementwise);
  EXPECT_EQ(st[0].io_bytes, 16 * 64 * 2);  // 16-bit input image
  EXPECT_EQ(st[3].io_bytes, 24 * 2);

  // Depthwise: parallel over channels only; cycles = ceil(48 / tm) * 4 * 4 * 25.
  const auto dw = fpga_options(st[1], FpgaBoard{});
  for (const auto& o : dw) {
    EXPECT_EQ(o.tn, 1);
    EXPECT_EQ(o.cycles, std::ceil(48.0 / double(o.tm)) * 400);
  }
  // Grouped expand: per group 8 -> 24, two groups one after the other.
  for (const auto& o : fpga_options(st[0], FpgaBoard{})) {
    EXPECT_LE(o.tn, 8);
    EXPECT_LE(o.tm, 24);
    EXPECT_EQ(o.cycles, 2 * std::ceil(8.0 / double(o.tn)) * std::ceil(24.0 / double(o.tm)) * 64);
  }
}

TEST(FpgaModel, OptionsOfAConvStageByHand) {
  const FpgaBoard b = fpga_board(board(100, 100), "test");
  const auto st = fpga_stages(layer_profile(tiny_net()), b);
  ASSERT_EQ(st.size(), 3u);
  const auto opts = fpga_options(st[0], b);
  EXPECT_EQ(opts.size(), 3u * 3u * 2u);  // tn {1,2,3} x tm {1,2,4} x weights on chip / streamed
  bool seen = false;
  for (const auto& o : opts) {
    if (o.tn != 3 || o.tm != 4) continue;
    EXPECT_EQ(o.cycles, 576);  // 1 * 1 * 8 * 8 * 9
    EXPECT_EQ(o.dsp, 12);
    if (o.weights_on_chip) {
      EXPECT_EQ(o.bram, 8);    // weights 112 x 16 bit in 6 banks + line buffer 72 x 16 bit in 2
      EXPECT_EQ(o.bytes, 384);  // the 16-bit input image only
      EXPECT_DOUBLE_EQ(o.latency_s, 5.76e-6);
    } else {
      EXPECT_EQ(o.bram, 8);                  // tile 2 x 12 x 9 in 6 banks + line buffer 2
      EXPECT_EQ(o.bytes, 384 + 112 * 2 * 8);  // weights once per output row
    }
    seen = true;
  }
  EXPECT_TRUE(seen);
}

double cost_ms(const json& config) { return make_fpga_target(config, "test")->cost(tiny_net()).latency_ms; }

TEST(FpgaTarget, SmallNetworkMatchesHandComputedDesigns) {
  // Budget to spare: the conv at full parallelism (576 cycles at 100 MHz) is the bottleneck.
  const CostResult full = make_fpga_target(board(100, 100), "test")->cost(tiny_net());
  EXPECT_NEAR(full.latency_ms, 5.76e-3, 1e-12);
  EXPECT_EQ(full.details["bottleneck"], "0.conv_bn_act");
  // 6 DSPs, one kept for the linear: the conv's best under 5 is tn 1 x tm 4 (1728 cycles).
  const CostResult r = make_fpga_target(board(6, 100), "test")->cost(tiny_net());
  EXPECT_EQ(r.method, CostMethod::model);
  EXPECT_NEAR(r.latency_ms, 17.28e-3, 1e-12);
  EXPECT_EQ(r.details["resources"]["dsp"]["used"], 6);  // the linear gets the 2 left over
  EXPECT_EQ(r.details["resources"]["bram18k"]["used"], 3);
  EXPECT_NEAR(r.details["sum_ms"].get<double>(), (17.28 + 0.64 + 0.04) * 1e-3, 1e-12);
  EXPECT_EQ(*r.memory_bytes, 3 * 18432 / 8);
  // Frame pipeline: the same design, latency the sum of the stages.
  json frame = board(6, 100);
  frame["pipeline"] = "frame";
  EXPECT_NEAR(cost_ms(frame), (17.28 + 0.64 + 0.04) * 1e-3, 1e-12);
  // 8 bits: two MACs per DSP, so 6 MACs (tn 3 x tm 2) fit in 3 DSPs: 1152 cycles.
  json q8 = board(6, 100);
  q8["bits"] = 8;
  EXPECT_NEAR(cost_ms(q8), 11.52e-3, 1e-12);
  // Energy only with a board power.
  json p = board(100, 100);
  p["power_w"] = 10;
  EXPECT_NEAR(*make_fpga_target(p, "test")->cost(tiny_net()).energy_mj, 10 * 5.76e-3, 1e-12);
  EXPECT_FALSE(make_fpga_target(board(100, 100), "test")->cost(tiny_net()).energy_mj.has_value());
}

TEST(FpgaTarget, TooSmallBudgetsAreClearErrors) {
  std::string e = test::error_of([] { cost_ms(board(1, 100)); });
  EXPECT_TRUE(test::contains(e, "dsp = 1")) << e;
  EXPECT_TRUE(test::contains(e, "needs 2 DSPs")) << e;
  // The conv's smallest buffering is its line buffer (72 x 16 bit: 1 BRAM18K) with a streamed
  // 1 x 1 weight tile small enough for registers.
  e = test::error_of([] { cost_ms(board(100, 0)); });
  EXPECT_TRUE(test::contains(e, "bram18k = 0")) << e;
  EXPECT_TRUE(test::contains(e, "needs 1 BRAM18K")) << e;
}

TEST(FpgaTarget, ConfigErrorsNameTheKey) {
  EXPECT_TRUE(test::contains(test::error_of([] { make_fpga_target(json{{"bits", 12}}, "zcu.json"); }),
                             "zcu.json: \"bits\" must be 8 or 16, got 12"));
  EXPECT_TRUE(test::contains(test::error_of([] { make_fpga_target(json{{"pipeline", "x"}}, "zcu.json"); }),
                             "\"pipeline\" must be \"stream\" or \"frame\""));
  EXPECT_TRUE(test::contains(test::error_of([] { make_fpga_target(json{{"search", "lp"}}, "zcu.json"); }),
                             "\"search\" must be \"bisection\" or \"milp\""));
  EXPECT_TRUE(test::contains(test::error_of([] { make_fpga_target(json{{"dsps", 5}}, "zcu.json"); }),
                             "unknown key \"dsps\""));
  EXPECT_TRUE(test::contains(test::error_of([] { make_fpga_target(json{{"dsp", 0}}, "zcu.json"); }), "\"dsp\""));
  const json c = make_fpga_target(json{{"name", "z"}}, "z")->config();
  EXPECT_EQ(c["dsp"], 2520);
  EXPECT_EQ(c["bram18k"], 912);
  EXPECT_EQ(c["name"], "z");
}

// The full FBNet subnet on the default board: the design fits, and its reported resources and
// latency are those recomputed from its per-stage configuration.
TEST(FpgaTarget, FbnetDesignReportsWhatItUses) {
  const NetworkSpec net = fbnet_network(fbnet_arch_ops(test::kFbnetArch0), "fbnet:0");
  for (const char* pipeline : {"stream", "frame"}) {
    for (int bits : {16, 8}) {
      const json config{{"pipeline", pipeline}, {"bits", bits}};
      if (std::string(pipeline) == "stream") {
        // The one-MILP search reaches the same bottleneck.
        json milp = config;
        milp["search"] = "milp";
        const CostResult m = make_fpga_target(milp, "zcu102")->cost(net);
        EXPECT_TRUE(m.details["solver"]["optimal"].get<bool>());
        EXPECT_NEAR(m.latency_ms, make_fpga_target(config, "zcu102")->cost(net).latency_ms, 1e-9);
        std::cout << "[ fbnet:0 ] search milp bits " << bits << ": solve " << m.details["solver"]["solve_ms"] << " ms\n";
      }
      const CostResult r = make_fpga_target(config, "zcu102")->cost(net);
      const json& d = r.details;
      double dsp = 0, bram = 0, bytes = 0, slowest = 0, sum = 0;
      for (const auto& s : d["stages"]) {
        if (s.contains("tn")) {
          const int64_t macs = s["tn"].get<int64_t>() * s["tm"].get<int64_t>();
          EXPECT_EQ(s["dsp"].get<double>(), double(bits == 8 ? (macs + 1) / 2 : macs)) << s.dump();
        }
        dsp += s["dsp"].get<double>();
        bram += s["bram18k"].get<double>();
        bytes += s["dram_bytes"].get<double>();
        slowest = std::max(slowest, s["ms"].get<double>());
        sum += s["ms"].get<double>();
      }
      EXPECT_EQ(d["resources"]["dsp"]["used"].get<double>(), dsp);
      EXPECT_EQ(d["resources"]["bram18k"]["used"].get<double>(), bram);
      EXPECT_LE(dsp, 2520);
      EXPECT_LE(bram, 912);
      EXPECT_DOUBLE_EQ(d["dram_bytes_per_image"].get<double>(), bytes);
      EXPECT_NEAR(d["sum_ms"].get<double>(), sum, 1e-12 * sum);
      if (std::string(pipeline) == "stream")
        EXPECT_NEAR(r.latency_ms, std::max(slowest, bytes / 19.2e9 * 1e3), 1e-12);
      else
        EXPECT_NEAR(r.latency_ms, sum, 1e-12 * sum);
      std::cout << "[ fbnet:0 ] pipeline " << pipeline << " bits " << bits << ": latency " << r.latency_ms
                << " ms, dsp " << dsp << ", bram " << bram << ", stages " << d["stages"].size() << ", options "
                << d["solver"]["options"] << " (kept " << d["solver"]["options_kept"] << "), solve "
                << d["solver"]["solve_ms"] << " ms, " << d["solver"]["method"] << "\n";
    }
  }
}

// More DSPs never make the best design slower (the optimum of a relaxed problem).
TEST(FpgaTarget, LargerBudgetsNeverSlowTheDesign) {
  const NetworkSpec net = fbnet_network(fbnet_arch_ops(test::kFbnetArch0), "fbnet:0");
  double prev = INFINITY;
  for (int dsp : {300, 600, 1200, 2520}) {
    const double ms = make_fpga_target(json{{"dsp", dsp}}, "zcu102")->cost(net).latency_ms;
    EXPECT_LE(ms, prev * (1 + 1e-9)) << "dsp " << dsp;
    prev = ms;
  }
}

}  // namespace
}  // namespace hwnas
