#pragma once
// The two benchmark spaces of ../shared/peers/README.md as search-space specs, loading a space
// by name or from a spec file, and reading an arch from text.
#include <string>
#include <vector>

#include "nas/space.h"

namespace hwnas {

// fbnet: 22 mixed-op layers x 9 ops (CIFAR-100 variant); arch {"ops":[22 names]}.
nlohmann::json fbnet_space_spec();
// elastic-mobile: 4 stages, 10 MBConv blocks, kernel {3,5} x expand {2,4,6} per block, depth
// 1..max per stage; arch {"kernel":[10],"expand":[10],"depth":[4]}.
nlohmann::json elastic_mobile_space_spec();
const SearchSpace& fbnet_space();
const SearchSpace& elastic_mobile_space();
const std::vector<std::string>& builtin_space_names();

// A built-in name or a path to a spec file (docs/search-space.md).
SearchSpace load_space(const std::string& name_or_path);

// "max", "min", arch JSON, a path to an arch JSON file, and for spaces whose only dimension is
// ops a comma-separated op list; for fbnet also a row id of archs.csv (see fbnet_arch_ops).
// A file may hold the arch itself or an object with it under "arch" (a search's best.json).
Arch parse_arch(const SearchSpace& s, const std::string& text);

}  // namespace hwnas
