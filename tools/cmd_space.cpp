#include <algorithm>
#include <iostream>
#include <nlohmann/json.hpp>

#include "nas/builtin_spaces.h"
#include "nas/space.h"
#include "tools/commands.h"

namespace hwnas::cli {

void add_space_command(CLI::App& app) {
  auto* cmd = app.add_subcommand("space", "Search spaces: size, cost ranges, sample architectures");
  cmd->require_subcommand(1);
  auto space = std::make_shared<std::string>();
  auto samples = std::make_shared<int>(1000);
  auto seed = std::make_shared<uint64_t>(0);
  auto* info = cmd->add_subcommand("info", "Size and the range of FLOPs, parameters and activation memory of a space");
  info->add_option("--space", *space, "built-in space (fbnet, elastic-mobile) or a space JSON file")->required();
  info->add_option("--samples", *samples, "random architectures for the median costs")->check(positive());
  info->add_option("--seed", *seed, "seed for the random architectures");
  info->callback([=] {
    const SearchSpace s = load_space(*space);
    const SpaceSize size = space_size(s);
    auto cost_json = [&](const Arch& a) {
      const SubnetCost c = subnet_cost(s, a);
      return nlohmann::json{{"macs", c.macs}, {"params", c.params}, {"activation_bytes", c.activation_bytes},
                            {"peak_activation_bytes", c.peak_activation_bytes}};
    };
    Generator gen(*seed);
    std::vector<double> macs;
    for (int i = 0; i < *samples; ++i) macs.push_back(static_cast<double>(subnet_cost(s, sample_arch(s, gen)).macs));
    std::sort(macs.begin(), macs.end());
    nlohmann::json j = {{"space", *space},
                        {"architectures", size.count},
                        {"log10_architectures", size.log10},
                        {"max", {{"arch", arch_to_json(s, max_arch(s))}, {"cost", cost_json(max_arch(s))}}},
                        {"min", {{"arch", arch_to_json(s, min_arch(s))}, {"cost", cost_json(min_arch(s))}}},
                        {"sampled_macs", {{"samples", *samples}, {"min", macs.front()}, {"median", macs[macs.size() / 2]},
                                          {"max", macs.back()}}}};
    std::cout << j.dump(2) << std::endl;
  });
  auto* sample = cmd->add_subcommand("sample", "Print uniformly sampled architectures, one JSON per line");
  sample->add_option("--space", *space, "built-in space (fbnet, elastic-mobile) or a space JSON file")->required();
  sample->add_option("-n", *samples, "how many")->check(positive());
  sample->add_option("--seed", *seed, "seed");
  sample->callback([=] {
    const SearchSpace s = load_space(*space);
    Generator gen(*seed);
    for (int i = 0; i < *samples; ++i) std::cout << arch_to_json(s, sample_arch(s, gen)).dump() << "\n";
  });
}

}  // namespace hwnas::cli
