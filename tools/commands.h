#pragma once
// Each `hwnas` subcommand registers its flags on the CLI11 app and runs through the library.
#include <CLI/CLI.hpp>

namespace hwnas::cli {

void add_info_command(CLI::App& app);
void add_bench_command(CLI::App& app);
void add_train_command(CLI::App& app);
void add_net_command(CLI::App& app);
void add_space_command(CLI::App& app);
void add_supernet_command(CLI::App& app);
void add_eval_command(CLI::App& app);
void add_extract_command(CLI::App& app);
void add_export_command(CLI::App& app);
void add_measure_command(CLI::App& app);
void add_lut_command(CLI::App& app);
void add_predictor_command(CLI::App& app);
void add_search_command(CLI::App& app);
void add_report_command(CLI::App& app);

// Flag validators with messages a person can read (CLI11's PositiveNumber prints the range as
// "0 to 1.79e308" spelled out).
inline CLI::Validator positive() {
  return CLI::Validator(
      [](std::string& v) -> std::string {
        try {
          if (std::stod(v) > 0) return {};
        } catch (const std::exception&) {
        }
        return "must be a positive number, got " + v;
      },
      "> 0");
}
inline CLI::Validator non_negative() {
  return CLI::Validator(
      [](std::string& v) -> std::string {
        try {
          if (std::stod(v) >= 0) return {};
        } catch (const std::exception&) {
        }
        return "must be 0 or more, got " + v;
      },
      ">= 0");
}

// Sets the OpenMP thread count (0 = leave as is: OMP_NUM_THREADS or all cores).
void set_threads(int threads);

}  // namespace hwnas::cli
