#include "hw_targets/predictor_features.h"

#include <map>

#include "hw_targets/latency_data.h"

namespace hwnas {

using nlohmann::json;

namespace {

constexpr const char* kStats[] = {"macs", "in_bytes", "out_bytes", "params", "count"};

// The parts of one layer given its JSON and input shape [C, H, W], each costed by layers_cost.
std::map<std::string, std::vector<double>> layer_parts(const json& l, const Shape& in) {
  std::map<std::string, std::vector<double>> parts;
  auto part = [&](const std::string& name, const json& layer, const Shape& shape) {
    std::vector<Shape> outs;
    const SubnetCost c = layers_cost(shape, json::array({layer}), &outs);
    parts[name] = {double(c.macs), 4.0 * double(shape_numel(shape)), double(c.activation_bytes), double(c.params), 1.0};
    return outs.back();
  };
  const std::string type = l.at("type").get<std::string>();
  if (type == "identity") return parts;
  if (type == "conv_bn_act" || type == "conv") {
    part(fmt::format("conv_k{}", l.at("kernel").get<int64_t>()), l, in);
    return parts;
  }
  if (type != "mbconv") fail("layer features: layer type \"{}\" is not supported (mbconv, conv_bn_act, identity)", type);
  if (l.value("radix", 1) > 1) fail("layer features: Split-Attention (radix > 1) layers are not supported");
  const int64_t out = l.at("out"), k = l.at("kernel"), s = l.value("stride", 1), e = l.at("expand"),
                g = l.value("groups", 1), hid = in[0] * e;
  const std::string act = l.value("act", "relu");
  Shape x = part("expand_1x1", {{"type", "conv_bn_act"}, {"out", hid}, {"kernel", 1}, {"stride", 1}, {"groups", g}, {"act", act}}, in);
  if (g > 1) x = part("channel_shuffle", {{"type", "channel_shuffle"}}, x);
  x = part(fmt::format("depthwise_k{}", k),
           {{"type", "conv_bn_act"}, {"out", hid}, {"kernel", k}, {"stride", s}, {"groups", hid}, {"act", act}}, x);
  x = part("project_1x1", {{"type", "conv"}, {"out", out}, {"kernel", 1}, {"groups", g}, {"bias", false}}, x);
  if (s == 1 && in[0] == out) {
    const double bytes = 4.0 * double(shape_numel(x));
    parts["residual_add"] = {0.0, 2 * bytes, bytes, 0.0, 1.0};
  }
  return parts;
}

}  // namespace

LayerOpFeatures layer_op_features(const SearchSpace& s) {
  if (s.dims.empty() || s.count(DimKind::ops) != s.dims.size())
    fail("layer features: space {} has dimensions other than ops; per-(layer, op) features need one op per layer",
         s.name);
  const ArchEncoding enc(s);
  const size_t stem = s.stem.is_array() ? s.stem.size() : 0;
  const Arch base = min_arch(s);
  // Rows: per encoding entry, the parts of the layer with that op.
  std::vector<std::map<std::string, std::vector<double>>> rows(enc.width());
  std::map<std::string, bool> kinds;
  for (size_t d = 0; d < s.dims.size(); ++d) {
    const Dimension& dim = s.dims[d];
    for (size_t c = 0; c < dim.size(); ++c) {
      Arch a = base;
      a.ops[dim.pos] = dim.names[c];
      const json layers = arch_layers(s, a);
      std::vector<Shape> outs;
      layers_cost(s.input, layers, &outs);
      const size_t idx = stem + dim.block;
      HWNAS_CHECK(idx < layers.size(), "layer features: block {} has no layer in {}", dim.block, s.name);
      const Shape in = idx == 0 ? s.input : outs[idx - 1];
      rows[enc.offset(d) + c] = layer_parts(layers[idx], in);
      for (const auto& [name, v] : rows[enc.offset(d) + c]) kinds[name] = true;
    }
  }
  LayerOpFeatures f;
  std::vector<std::pair<std::string, size_t>> cols;
  for (const auto& [kind, _] : kinds)
    for (size_t st = 0; st < std::size(kStats); ++st) cols.push_back({kind, st});
  Eigen::MatrixXd v = Eigen::MatrixXd::Zero(Eigen::Index(enc.width()), Eigen::Index(cols.size()));
  for (size_t r = 0; r < rows.size(); ++r)
    for (size_t j = 0; j < cols.size(); ++j) {
      auto it = rows[r].find(cols[j].first);
      if (it != rows[r].end()) v(Eigen::Index(r), Eigen::Index(j)) = it->second[cols[j].second];
    }
  std::vector<Eigen::Index> keep;
  for (size_t j = 0; j < cols.size(); ++j)
    if (v.col(Eigen::Index(j)).cwiseAbs().maxCoeff() > 0) {
      keep.push_back(Eigen::Index(j));
      f.names.push_back(cols[j].first + "." + kStats[cols[j].second]);
    }
  f.values.resize(v.rows(), Eigen::Index(keep.size()));
  for (size_t j = 0; j < keep.size(); ++j) f.values.col(Eigen::Index(j)) = v.col(keep[j]);
  return f;
}

}  // namespace hwnas
