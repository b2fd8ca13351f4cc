#include "nas/builtin_networks.h"

#include <cstdlib>
#include <filesystem>
#include <fstream>
#include <sstream>

#include "nas/builtin_spaces.h"

namespace hwnas {

using nlohmann::json;

namespace {
json conv_bn_act(int64_t out, int64_t k, int64_t s, const char* act) {
  return {{"type", "conv_bn_act"}, {"out", out}, {"kernel", k}, {"stride", s}, {"act", act}};
}
json mbconv(int64_t out, int64_t k, int64_t s, int64_t e, int64_t g, const char* act) {
  return {{"type", "mbconv"}, {"out", out}, {"kernel", k}, {"stride", s}, {"expand", e}, {"groups", g}, {"act", act}};
}
std::vector<std::string> split_csv_line(const std::string& line) {
  std::vector<std::string> out;
  std::stringstream ss(line);
  std::string cell;
  while (std::getline(ss, cell, ',')) {
    while (!cell.empty() && (cell.back() == '\r' || cell.back() == ' ')) cell.pop_back();
    out.push_back(cell);
  }
  return out;
}
}  // namespace

std::string default_fbnet_archs_path() {
  if (const char* p = std::getenv("HWNAS_FBNET_ARCHS")) return p;
  for (const auto& base : {std::filesystem::path(HWNAS_SOURCE_DIR) / "..", std::filesystem::current_path() / "..",
                           std::filesystem::current_path()}) {
    auto p = base / "shared" / "data" / "fbnet-latency" / "archs.csv";
    if (std::filesystem::exists(p)) return p.lexically_normal().string();
  }
  return (std::filesystem::path(HWNAS_SOURCE_DIR) / ".." / "shared" / "data" / "fbnet-latency" / "archs.csv")
      .lexically_normal()
      .string();
}

std::vector<std::string> fbnet_arch_ops(const std::string& id_or_ops, const std::string& archs_csv) {
  std::vector<std::string> ops;
  if (id_or_ops.find(',') != std::string::npos) {
    ops = split_csv_line(id_or_ops);
  } else {
    const std::string path = archs_csv.empty() ? default_fbnet_archs_path() : archs_csv;
    std::ifstream f(path);
    if (!f) fail("fbnet: cannot open the architecture table {} (set HWNAS_FBNET_ARCHS)", path);
    std::string line;
    while (std::getline(f, line)) {
      auto cells = split_csv_line(line);
      if (!cells.empty() && cells[0] == id_or_ops) {
        ops.assign(cells.begin() + 1, cells.end());
        break;
      }
    }
    if (ops.empty()) fail("fbnet: no arch_id \"{}\" in {}", id_or_ops, path);
  }
  Arch a;
  a.ops = ops;
  validate_arch(fbnet_space(), a);
  return ops;
}

NetworkSpec fbnet_network(const std::vector<std::string>& ops, const std::string& name) {
  static const int depths[] = {1, 4, 4, 4, 4, 4, 1};
  static const int widths[] = {16, 24, 32, 64, 112, 184, 352};
  static const int strides[] = {1, 1, 2, 2, 1, 2, 1};
  json layers = json::array();
  layers.push_back(conv_bn_act(16, 3, 1, "relu"));
  int64_t cin = 16;
  size_t i = 0;
  for (int st = 0; st < 7; ++st) {
    for (int j = 0; j < depths[st]; ++j, ++i) {
      const int64_t cout = widths[st], s = j == 0 ? strides[st] : 1;
      const std::string& op = ops.at(i);
      if (op == "skip") {
        layers.push_back(s == 1 && cin == cout ? json{{"type", "identity"}} : conv_bn_act(cout, 1, s, "relu"));
      } else {
        const int64_t k = op[1] - '0', e = op[4] - '0', g = op.ends_with("_g2") ? 2 : 1;
        layers.push_back(mbconv(cout, k, s, e, g, "relu"));
      }
      cin = cout;
    }
  }
  layers.push_back(conv_bn_act(1504, 1, 1, "relu"));
  layers.push_back({{"type", "global_avg_pool"}});
  layers.push_back({{"type", "linear"}, {"out", 100}});
  return parse_network_spec(json{{"name", name}, {"input", {3, 32, 32}}, {"classes", 100}, {"layers", layers}}, name);
}

ElasticMobileArch elastic_mobile_arch(const std::string& spec) {
  const Arch a = parse_arch(elastic_mobile_space(), spec);
  auto ints = [](const std::vector<int64_t>& v) { return std::vector<int>(v.begin(), v.end()); };
  return {ints(a.kernel), ints(a.expand), ints(a.depth)};
}

NetworkSpec elastic_mobile_network(const ElasticMobileArch& a, const std::string& name) {
  static const int outs[] = {24, 40, 64, 96}, strides[] = {2, 2, 1, 2}, max_depth[] = {2, 3, 3, 2};
  json layers = json::array();
  layers.push_back(conv_bn_act(16, 3, 1, "relu6"));
  int b = 0;
  for (int st = 0; st < 4; ++st) {
    for (int i = 0; i < max_depth[st]; ++i, ++b)
      if (i < a.depth[st]) layers.push_back(mbconv(outs[st], a.kernel[b], i == 0 ? strides[st] : 1, a.expand[b], 1, "relu6"));
  }
  layers.push_back(conv_bn_act(256, 1, 1, "relu6"));
  layers.push_back({{"type", "global_avg_pool"}});
  layers.push_back({{"type", "linear"}, {"out", 10}});
  return parse_network_spec(json{{"name", name}, {"input", {1, 28, 28}}, {"classes", 10}, {"layers", layers}}, name);
}

NetworkSpec resolve_network(const std::string& net) {
  if (net.starts_with("fbnet:")) return fbnet_network(fbnet_arch_ops(net.substr(6)), net);
  if (net.starts_with("elastic-mobile:")) return elastic_mobile_network(elastic_mobile_arch(net.substr(15)), net);
  std::ifstream f(net);
  if (!f) fail("network \"{}\": not a built-in (fbnet:ID, elastic-mobile:max|min|JSON) and not a readable file", net);
  json j;
  try {
    j = json::parse(f);
  } catch (const json::exception& e) {
    fail("{}: invalid JSON: {}", net, e.what());
  }
  return parse_network_spec(j, net);
}

}  // namespace hwnas
