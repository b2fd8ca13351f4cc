#pragma once
// The flags that name one subnet of a trained supernet (checkpoint, arch, BN recalibration),
// shared by `hwnas eval`, `hwnas extract` and `hwnas export`.
#include <CLI/CLI.hpp>

#include "nas/network_source.h"
#include "tools/commands.h"

namespace hwnas::cli {

struct SubnetArgs {
  std::string checkpoint, arch = "max", data_dir;
  int64_t recal_batches = 40, batch = 128, test_limit = 0;
  uint64_t seed = 0;

  SubnetRequest request() const { return {checkpoint, arch, recal_batches, batch, data_dir, seed}; }
};

// `required`: --checkpoint must be given (eval, extract); export has --net as the alternative.
inline void add_subnet_options(CLI::App* cmd, SubnetArgs& a, bool recal_optional, bool required = true) {
  auto* ck = cmd->add_option("--checkpoint", a.checkpoint, "checkpoint.hwnas of `hwnas supernet train`");
  if (required) ck->required();
  cmd->add_option("--arch", a.arch, "max, min, an arch JSON or a file holding one")->capture_default_str();
  cmd->add_option("--recal-batches", a.recal_batches,
                  recal_optional ? "training batches for BN recalibration (0: keep the supernet's statistics)"
                                 : "training batches for BN recalibration")
      ->capture_default_str()
      ->check(recal_optional ? non_negative() : positive());
  cmd->add_option("--batch", a.batch, "recalibration batch size")->capture_default_str()->check(positive());
  cmd->add_option("--data-dir", a.data_dir, "Fashion-MNIST folder");
  cmd->add_option("--seed", a.seed, "seed of the recalibration batches")->capture_default_str();
}

}  // namespace hwnas::cli
