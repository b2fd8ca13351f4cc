#include <iostream>
#include <nlohmann/json.hpp>

#include "nas/builtin_networks.h"
#include "tools/commands.h"

namespace hwnas::cli {

void add_net_command(CLI::App& app) {
  auto net = std::make_shared<std::string>();
  auto* cmd = app.add_subcommand("net", "Print a network's JSON description, parameters and multiply-adds");
  cmd->add_option("NET", *net, "fbnet:ARCH_ID, elastic-mobile:max|min|ARCH_JSON, or a network JSON file")->required();
  cmd->callback([net] {
    const NetworkSpec spec = resolve_network(*net);
    nlohmann::json j = network_spec_to_json(spec);
    j["parameters"] = build_network(spec, 0)->num_parameters();
    j["macs_per_image"] = network_macs(spec);
    std::cout << j.dump(2) << std::endl;
  });
}

}  // namespace hwnas::cli
