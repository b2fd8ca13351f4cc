#pragma once
// An FPGA accelerator model after HAO (Dong et al., "HAO: Hardware-aware neural Architecture
// Optimization for Efficient Inference", FCCM 2021): a layer-pipelined dataflow design in which
// every conv / linear of the network gets its own engine, all engines share the board's DSPs,
// BRAM and DRAM bandwidth, and integer programming (fpga_ilp.h) picks each engine's
// parallelism so that the design is as fast as the budget allows.
//
// Per engine (a conv with Cin/g inputs and Cout/g outputs per group, kernel K, output Ho x Wo):
//   parallelism   Tn input x Tm output channels, each from {1, 2, 4, ...} below the channel
//                 count plus the count itself, capped at max_unroll; depthwise convs (one input
//                 channel per group) unroll over channels only (Tn = 1)
//   cycles        g * ceil(Cin/g / Tn) * ceil(Cout/g / Tm) * Ho * Wo * K * K
//   DSPs          ceil(Tn * Tm / p), p = 2 MACs per DSP48 at 8 bits (two products sharing an
//                 operand), 1 at 16 bits
//   BRAM18K       line buffer of K input rows (K * Win * Cin values, Tn read per cycle) plus
//                 weights: all of them on chip (read Tn*Tm per cycle), or streamed from DRAM
//                 through a double-buffered K*K*Tn*Tm tile; a buffer of V values of b bits read
//                 P at a time takes n = ceil(P / floor(36 / b)) banks of
//                 ceil(V*b / (n * 18432)) BRAM18K each (36-bit ports, 18 Kib per BRAM)
//   DRAM bytes    streamed weights are fetched once per output row (the input arrives as a row
//                 stream and only K rows are kept): weights * b/8 * Ho; the network's input
//                 image and its output are read / written by the first / last stage;
//                 activations between engines stay on chip
//   latency       max(cycles / clock, bytes / bandwidth)
// Element-wise layers left in the network (pools, global pool, BN, activation, shuffle) are
// LUT stages of `lanes` elements per cycle with no DSP and no choice; identity, flatten and
// dropout vanish. Convs fuse their BN and activation.
//
// pipeline "stream" (HAO's, the default): engines work on the same image at once, connected by
// line buffers, so an image takes the slowest stage's time (and the total DRAM traffic shares
// the bandwidth): latency = max(max_s stage_s, bytes / bandwidth); the pipeline fill is
// ignored. The integer program minimises that bottleneck, then, at the bottleneck, the sum.
// pipeline "frame": engines hand whole feature maps on, one image passes the stages one after
// another: latency = sum_s stage_s, and the program minimises that sum.
#include <nlohmann/json.hpp>

#include <string>
#include <vector>

#include "hw_targets/fpga_ilp.h"
#include "hw_targets/layer_profile.h"

namespace hwnas {

struct FpgaBoard {
  // A ZCU102-like board (Zynq UltraScale+ XCZU9EG): 2520 DSP48E2, 912 BRAM18K (32.1 Mib),
  // 64-bit DDR4-2400 = 19.2 GB/s, 200 MHz.
  int64_t dsp = 2520;
  int64_t bram18k = 912;
  double bandwidth_gbs = 19.2;
  double clock_mhz = 200;
  int64_t bits = 16;  // 8 or 16: weights and activations
  std::string pipeline = "stream";  // stream | frame
  int64_t max_unroll = 128;         // largest Tn / Tm
  int64_t lanes = 16;               // elements per cycle of element-wise stages
  double power_w = 0;               // board power for an energy estimate (0: none)
  std::string search = "bisection";  // how the stream bottleneck is minimised: bisection | milp
};
FpgaBoard fpga_board(const nlohmann::json& config, const std::string& source);
nlohmann::json fpga_board_to_json(const FpgaBoard& b);

struct FpgaStage {
  size_t layer = 0;  // index in net.layers
  std::string name;  // e.g. "3.expand", "3.dw", "3.project", "0.conv", "24.linear", "23.global_avg_pool"
  enum class Kind { conv, depthwise, elementwise } kind = Kind::conv;
  int64_t cin = 1, cout = 1, groups = 1, kernel = 1;
  int64_t in_h = 1, in_w = 1, out_h = 1, out_w = 1;
  double weights = 0;      // values, biases included (BN folded)
  double fixed_cycles = 0;  // elementwise
  double fixed_bram = 0;    // elementwise (pool line buffers, accumulators)
  double io_bytes = 0;      // the network's input or output moved by this stage
};

// The engines of a network, in order.
std::vector<FpgaStage> fpga_stages(const std::vector<LayerWork>& profile, const FpgaBoard& b);

struct FpgaOption {
  int64_t tn = 1, tm = 1;
  bool weights_on_chip = true;
  double cycles = 0, dsp = 0, bram = 0, bytes = 0, latency_s = 0;
};
// Every implementation of a stage (elementwise stages: exactly one).
std::vector<FpgaOption> fpga_options(const FpgaStage& s, const FpgaBoard& b);

struct FpgaDesign {
  std::vector<FpgaStage> stages;
  std::vector<FpgaOption> chosen;
  double latency_ms = 0;   // per the pipeline style
  double interval_ms = 0;  // time between images at steady state (stream: = latency)
  double sum_ms = 0;       // sum of stage latencies
  double dsp = 0, bram = 0, dram_bytes = 0;
  double solve_ms = 0;
  int options_total = 0, options_kept = 0;
  bool optimal = true;  // false: a search hit its node limit (gap in details.solver)
  double gap = 0;
  bool tie_break_optimal = true;  // stream: the sum of stage latencies at the optimal interval
  double tie_break_gap = 0;
  std::string method;
  nlohmann::json to_json(const FpgaBoard& b) const;  // resources vs budget, per-stage configuration
};
FpgaDesign fpga_design(const std::vector<LayerWork>& profile, const FpgaBoard& b, const std::string& what = "fpga");

// BRAM18K holding `values` of `bits` each, `parallel` of them read per cycle.
double bram18k_for(double values, double parallel, int64_t bits);

}  // namespace hwnas
