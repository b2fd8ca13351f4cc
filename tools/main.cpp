// The hwnas command line: parses arguments and calls the library; every error becomes one
// line on stderr and a non-zero exit.
#include <cstdio>
#include <exception>

#include "tools/commands.h"

int main(int argc, char** argv) {
  CLI::App app{"hwnas: a deep-learning engine with hardware-aware neural architecture search"};
  app.require_subcommand(1);
  app.set_version_flag("--version", std::string("hwnas ") + HWNAS_VERSION);
  hwnas::cli::add_train_command(app);
  hwnas::cli::add_bench_command(app);
  hwnas::cli::add_info_command(app);
  hwnas::cli::add_net_command(app);
  hwnas::cli::add_space_command(app);
  hwnas::cli::add_supernet_command(app);
  hwnas::cli::add_eval_command(app);
  hwnas::cli::add_extract_command(app);
  hwnas::cli::add_export_command(app);
  hwnas::cli::add_measure_command(app);
  hwnas::cli::add_lut_command(app);
  hwnas::cli::add_predictor_command(app);
  hwnas::cli::add_search_command(app);
  hwnas::cli::add_report_command(app);
  // CLI11 reports a mistyped command as "a subcommand is required"; name it instead.
  bool known = argc < 2 || argv[1][0] == '-';
  for (const CLI::App* sub : app.get_subcommands([](CLI::App*) { return true; })) known |= sub->get_name() == argv[1];
  if (!known) {
    std::fprintf(stderr, "hwnas: error: unknown command \"%s\" (commands: train, supernet, search, eval, extract, export, measure, lut, predictor, report, bench, net, space, info; see --help)\n", argv[1]);
    return 2;
  }
  try {
    app.parse(argc, argv);
  } catch (const CLI::ParseError& e) {
    return app.exit(e);
  } catch (const std::exception& e) {
    std::fprintf(stderr, "hwnas: error: %s\n", e.what());
    return 1;
  }
  return 0;
}
