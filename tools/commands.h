#pragma once
// Each `hwnas` subcommand registers its flags on the CLI11 app and runs through the library.
#include <CLI/CLI.hpp>

namespace hwnas::cli {

void add_info_command(CLI::App& app);
void add_bench_command(CLI::App& app);
void add_train_command(CLI::App& app);
void add_net_command(CLI::App& app);

// Sets the OpenMP thread count (0 = leave as is: OMP_NUM_THREADS or all cores).
void set_threads(int threads);

}  // namespace hwnas::cli
