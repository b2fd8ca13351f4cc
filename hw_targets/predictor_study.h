#pragma once
// The leave-one-device-out study of few-shot latency prediction: for each device of a data
// folder, (1) the ceiling: the additive model fit on `ceiling_train` random archs of that
// device, evaluated on the rest; (2) the additive model on N samples alone; (3) the transfer
// predictor on the same N samples plus the other devices' full data; (2) and (3) evaluated on
// all the device's other archs. Repeats use seeds seed, seed+1, ...; reported values are the
// medians over repeats. A device passes at N when the transfer's Kendall tau and within-10%
// are within tol(N) of its ceiling: 0.05 (5 points) for N < 100, 0.03 (3 points) for N >= 100.
#include <nlohmann/json.hpp>

#include <string>
#include <vector>

#include "hw_targets/predictor_transfer.h"

namespace hwnas {

struct LodoOptions {
  std::vector<size_t> samples{20, 100};
  uint64_t seed = 0;
  int repeats = 1;
  size_t ceiling_train = 4000;
  std::string archs_path;  // empty: archs.csv in the folder
  TransferOptions transfer;
  bool progress = false;
};

struct LodoCell {
  size_t n = 0;
  double ridge_w10 = 0, ridge_tau = 0, transfer_w10 = 0, transfer_tau = 0, transfer_mape = 0;
  double tolerance = 0;
  bool pass = false;
  // Per repeat: the transfer's tau and within-10%, and whether that repeat alone passes
  // against that repeat's ceiling.
  std::vector<double> repeat_tau, repeat_w10;
  int repeats_passing = 0;
};
struct LodoRow {
  std::string device;
  double ceiling_w10 = 0, ceiling_tau = 0;
  std::vector<LodoCell> cells;  // one per LodoOptions::samples
};
struct LodoResult {
  std::vector<LodoRow> rows;
  double seconds = 0;
};

double lodo_tolerance(size_t n);
LodoResult run_lodo(const SearchSpace& s, const std::string& dir, const LodoOptions& o);
std::string lodo_markdown(const LodoResult& r, const LodoOptions& o);
nlohmann::json lodo_json(const LodoResult& r, const LodoOptions& o);

}  // namespace hwnas
