#include "nas/builtin_spaces.h"

#include <filesystem>
#include <fstream>

#include "nas/builtin_networks.h"

namespace hwnas {

using nlohmann::json;

namespace {
json conv_bn_act(int64_t out, int64_t k, const char* act) {
  return {{"type", "conv_bn_act"}, {"out", out}, {"kernel", k}, {"stride", 1}, {"act", act}};
}
json head(int64_t width, int64_t classes, const char* act) {
  return json::array({conv_bn_act(width, 1, act), {{"type", "global_avg_pool"}}, {{"type", "linear"}, {"out", classes}}});
}
std::string trim(const std::string& s) {
  const size_t b = s.find_first_not_of(" \t\r\n"), e = s.find_last_not_of(" \t\r\n");
  return b == std::string::npos ? "" : s.substr(b, e - b + 1);
}
json read_json_file(const std::string& path, std::ifstream& f) {
  try {
    return json::parse(f);
  } catch (const json::exception& e) {
    fail("{}: invalid JSON: {}", path, e.what());
  }
}
}  // namespace

json fbnet_space_spec() {
  static const int depths[] = {1, 4, 4, 4, 4, 4, 1}, widths[] = {16, 24, 32, 64, 112, 184, 352},
                   strides[] = {1, 1, 2, 2, 1, 2, 1};
  json stages = json::array();
  for (int i = 0; i < 7; ++i)
    stages.push_back({{"blocks", depths[i]}, {"stride", strides[i]},
                      {"block", {{"ops", kFbnetOps}, {"out", widths[i]}, {"act", "relu"}}}});
  return {{"name", "fbnet"},           {"input", {3, 32, 32}}, {"classes", 100}, {"stem", conv_bn_act(16, 3, "relu")},
          {"stages", stages}, {"head", head(1504, 100, "relu")}};
}

json elastic_mobile_space_spec() {
  static const int outs[] = {24, 40, 64, 96}, strides[] = {2, 2, 1, 2}, max_depth[] = {2, 3, 3, 2};
  json stages = json::array();
  for (int i = 0; i < 4; ++i) {
    json depth = json::array();
    for (int d = 1; d <= max_depth[i]; ++d) depth.push_back(d);
    stages.push_back({{"blocks", max_depth[i]},
                      {"depth", depth},
                      {"stride", strides[i]},
                      {"block", {{"type", "mbconv"}, {"out", outs[i]}, {"kernel", {3, 5}}, {"expand", {2, 4, 6}},
                                 {"act", "relu6"}}}});
  }
  return {{"name", "elastic-mobile"}, {"input", {1, 28, 28}}, {"classes", 10}, {"stem", conv_bn_act(16, 3, "relu6")},
          {"stages", stages}, {"head", head(256, 10, "relu6")}};
}

const SearchSpace& fbnet_space() {
  static const SearchSpace s = parse_space(fbnet_space_spec(), "fbnet");
  return s;
}

const SearchSpace& elastic_mobile_space() {
  static const SearchSpace s = parse_space(elastic_mobile_space_spec(), "elastic-mobile");
  return s;
}

const std::vector<std::string>& builtin_space_names() {
  static const std::vector<std::string> names = {"fbnet", "elastic-mobile"};
  return names;
}

SearchSpace load_space(const std::string& name_or_path) {
  if (name_or_path == "fbnet") return fbnet_space();
  if (name_or_path == "elastic-mobile") return elastic_mobile_space();
  std::ifstream f(name_or_path);
  if (!f)
    fail("search space \"{}\": not a built-in ({}) and not a readable file", name_or_path,
         fmt::join(builtin_space_names(), ", "));
  json j = read_json_file(name_or_path, f);
  if (j.is_object() && !j.contains("name")) j["name"] = std::filesystem::path(name_or_path).stem().string();
  return parse_space(j, name_or_path);
}

Arch parse_arch(const SearchSpace& s, const std::string& text) {
  const std::string t = trim(text);
  if (t == "max") return max_arch(s);
  if (t == "min") return min_arch(s);
  if (t.starts_with("{")) {
    json j;
    try {
      j = json::parse(t);
    } catch (const json::exception& e) {
      fail("{}: an arch must be max, min or JSON {}: {}", s.name, arch_json_hint(s), e.what());
    }
    return arch_from_json(s, j);
  }
  const bool ops_only = !s.dims.empty() && s.count(DimKind::ops) == s.dims.size();
  Arch a;
  if (ops_only && s.name == "fbnet") {
    a.ops = fbnet_arch_ops(t);
    return a;
  }
  if (ops_only && t.find(',') != std::string::npos) {
    size_t start = 0;
    for (size_t comma; (comma = t.find(',', start)) != std::string::npos; start = comma + 1)
      a.ops.push_back(trim(t.substr(start, comma - start)));
    a.ops.push_back(trim(t.substr(start)));
    validate_arch(s, a);
    return a;
  }
  if (std::ifstream f(t); f && !std::filesystem::is_directory(t)) {
    const json j = read_json_file(t, f);
    // A search's best.json (or a Pareto point) carries the arch under "arch".
    return arch_from_json(s, j.is_object() && j.contains("arch") ? j["arch"] : j);
  }
  fail("{}: an arch must be max, min, JSON {}{} or an arch JSON file; got \"{}\"", s.name, arch_json_hint(s),
       ops_only ? ", a comma-separated op list" : "", t);
}

}  // namespace hwnas
