#include "nas/weight_export.h"

#include <algorithm>
#include <filesystem>
#include <map>
#include <set>

namespace hwnas {

using nlohmann::json;

namespace {

// A layer with its defaults spelled out (network JSON files may omit them), for comparing a
// network with a peer's structure.
json canonical_layer(const json& l) {
  if (!l.is_object() || !l.contains("type")) return l;
  const std::string type = l.at("type").get<std::string>();
  if (type == "conv_bn_act")
    return {{"type", type}, {"out", l.at("out")}, {"kernel", l.at("kernel")}, {"stride", l.value("stride", 1)},
            {"groups", l.value("groups", 1)}, {"act", l.value("act", "relu")}};
  if (type == "mbconv")
    return {{"type", type},       {"out", l.at("out")},      {"kernel", l.at("kernel")},
            {"stride", l.value("stride", 1)}, {"expand", l.at("expand")}, {"groups", l.value("groups", 1)},
            {"radix", l.value("radix", 1)},   {"act", l.value("act", "relu")}};
  if (type == "linear") return {{"type", type}, {"out", l.at("out")}, {"bias", l.value("bias", true)}};
  return l;
}

bool same_structure(const NetworkSpec& a, const NetworkSpec& b) {
  if (a.input != b.input || a.classes != b.classes || a.layers.size() != b.layers.size()) return false;
  for (size_t i = 0; i < a.layers.size(); ++i)
    if (canonical_layer(a.layers[i]) != canonical_layer(b.layers[i])) return false;
  return true;
}

const int kEmOuts[] = {24, 40, 64, 96}, kEmStrides[] = {2, 2, 1, 2}, kEmMaxDepth[] = {2, 3, 3, 2};
constexpr int64_t kEmStem = 16, kEmMaxExpand = 6, kEmMaxKernel = 5;

std::string layer_prefix(const NetworkSpec& spec, size_t i) {
  return spec.layers.at(i).at("type").get<std::string>() + std::to_string(i);
}

class LayoutBuilder {
 public:
  LayoutBuilder(const Module& net, WeightNaming naming) : naming_(naming) {
    for (auto& [n, t] : net.state()) state_.emplace(n, t);
  }

  // Our tensor `ours` (a state name) as file tensor `file`, of shape `file_shape` (default: ours).
  void map(const std::string& ours, const std::string& file, Shape file_shape = {}, Shape offset = {}, float fill = 0) {
    auto it = state_.find(ours);
    if (it == state_.end())
      fail("safetensors export: the network has no tensor \"{}\" that the {} naming expects (is it built from this "
           "spec?)", ours, weight_naming_name(naming_));
    if (!used_.insert(ours).second) fail("safetensors export: tensor \"{}\" mapped twice (internal error)", ours);
    const Shape& s = it->second.shape();
    if (file_shape.empty() && offset.empty()) file_shape = s;
    if (offset.empty()) offset.assign(s.size(), 0);
    if (file_shape.size() != s.size() || offset.size() != s.size())
      fail("safetensors export: tensor \"{}\" {} does not fit {} {} of the {} naming", ours, shape_str(s), file,
           shape_str(file_shape), weight_naming_name(naming_));
    for (size_t d = 0; d < s.size(); ++d)
      if (offset[d] < 0 || offset[d] + s[d] > file_shape[d])
        fail("safetensors export: tensor \"{}\" {} does not fit {} {} of the {} naming (is the network the peer's?)",
             ours, shape_str(s), file, shape_str(file_shape), weight_naming_name(naming_));
    out_.push_back({file, file_shape, DType::f32, ours, offset, fill});
  }
  // A tensor only the peer has.
  void filler(const std::string& file, Shape shape, float fill, DType dtype = DType::f32) {
    out_.push_back({file, std::move(shape), dtype, "", {}, fill});
  }
  // PyTorch's BatchNorm2d state of `prefix` (channels `c`), ours from `bn` ("" when absent).
  void batch_norm(const std::string& bn, const std::string& prefix, int64_t c) {
    static const std::pair<const char*, float> fields[] = {
        {"weight", 1.f}, {"bias", 0.f}, {"running_mean", 0.f}, {"running_var", 1.f}};
    for (const auto& [f, fill] : fields) {
      if (bn.empty()) filler(prefix + "." + f, {c}, fill);
      else map(bn + "." + f, prefix + "." + f, {c}, {0}, fill);
    }
    filler(prefix + ".num_batches_tracked", {}, 0, DType::i64);
  }
  // ConvBnAct `p` as a PyTorch Sequential(Conv2d, BatchNorm2d, ...) named `q`.
  void conv_bn(const std::string& p, const std::string& q) {
    map(p + ".conv.weight", q + ".0.weight");
    batch_norm(p + ".bn", q + ".1", state_.at(p + ".conv.weight").size(0));
  }

  std::vector<FileWeight> finish() {
    for (const auto& [n, t] : state_)
      if (!used_.count(n))
        fail("safetensors export: the {} naming has no name for tensor \"{}\" (is the network the peer's?)",
             weight_naming_name(naming_), n);
    return std::move(out_);
  }

 private:
  WeightNaming naming_;
  std::map<std::string, Tensor> state_;
  std::set<std::string> used_;
  std::vector<FileWeight> out_;
};

void fbnet_layout(const NetworkSpec& spec, LayoutBuilder& b) {
  const size_t n = spec.layers.size();  // stem, 22 blocks, header, pool, fc
  b.conv_bn(layer_prefix(spec, 0), "stem");
  for (size_t i = 1; i + 3 < n; ++i) {
    const json& l = spec.layers[i];
    const std::string p = layer_prefix(spec, i), q = fmt::format("blocks.{}.body", i - 1);
    const std::string type = l.at("type");
    if (type == "conv_bn_act") {
      b.conv_bn(p, q);
    } else if (type == "mbconv") {
      const bool shuffle = l.value("groups", 1) > 1;  // body.1 is the Shuffle, without weights
      b.conv_bn(p + ".expand", q + ".0");
      b.conv_bn(p + ".dw", q + (shuffle ? ".2" : ".1"));
      b.conv_bn(p + ".project", q + (shuffle ? ".3" : ".2"));
    }
  }
  b.conv_bn(layer_prefix(spec, n - 3), "header");
  b.map(layer_prefix(spec, n - 1) + ".weight", "fc.weight");
  b.map(layer_prefix(spec, n - 1) + ".bias", "fc.bias");
}

void elastic_layout(const NetworkSpec& spec, const ElasticMobileArch& a, LayoutBuilder& b) {
  b.conv_bn(layer_prefix(spec, 0), "stem");
  size_t layer = 1;
  int64_t cin = kEmStem;
  int block = 0;
  for (int s = 0; s < 4; ++s) {
    for (int i = 0; i < kEmMaxDepth[s]; ++i, ++block) {
      const int64_t in = i == 0 ? cin : kEmOuts[s], out = kEmOuts[s], hmax = in * kEmMaxExpand;
      const std::string q = fmt::format("stages.{}.{}", s, i);
      if (i < a.depth[s]) {
        const std::string p = layer_prefix(spec, layer++);
        const int64_t k = a.kernel[block], off = (kEmMaxKernel - k) / 2;
        b.map(p + ".expand.conv.weight", q + ".pw", {hmax, in, 1, 1}, {0, 0, 0, 0});
        b.map(p + ".dw.conv.weight", q + ".dw", {hmax, 1, kEmMaxKernel, kEmMaxKernel}, {0, 0, off, off});
        b.map(p + ".project.conv.weight", q + ".pj", {out, hmax, 1, 1}, {0, 0, 0, 0});
        b.batch_norm(p + ".expand.bn", q + ".bn1", hmax);
        b.batch_norm(p + ".dw.bn", q + ".bn2", hmax);
        b.batch_norm(p + ".project.bn", q + ".bn3", out);
      } else {
        b.filler(q + ".pw", {hmax, in, 1, 1}, 0);
        b.filler(q + ".dw", {hmax, 1, kEmMaxKernel, kEmMaxKernel}, 0);
        b.filler(q + ".pj", {out, hmax, 1, 1}, 0);
        b.batch_norm("", q + ".bn1", hmax);
        b.batch_norm("", q + ".bn2", hmax);
        b.batch_norm("", q + ".bn3", out);
      }
    }
    cin = kEmOuts[s];
  }
  b.conv_bn(layer_prefix(spec, layer), "head");
  b.map(layer_prefix(spec, layer + 2) + ".weight", "fc.weight");
  b.map(layer_prefix(spec, layer + 2) + ".bias", "fc.bias");
}

json arch_json(const ElasticMobileArch& a) { return {{"kernel", a.kernel}, {"expand", a.expand}, {"depth", a.depth}}; }

Tensor narrow_to(Tensor t, const Shape& offset, const Shape& shape) {
  for (size_t d = 0; d < shape.size(); ++d) t = t.narrow(static_cast<int64_t>(d), offset[d], shape[d]);
  return t;
}

}  // namespace

const char* weight_naming_name(WeightNaming n) {
  switch (n) {
    case WeightNaming::hwnas: return "hwnas";
    case WeightNaming::fbnet_torch: return "fbnet_torch.FBNet";
    case WeightNaming::elastic_torch: return "elastic_torch.ElasticNet";
  }
  return "?";
}

std::optional<std::vector<std::string>> fbnet_ops_of(const NetworkSpec& spec) {
  if (spec.input != Shape{3, 32, 32} || spec.classes != 100 || !spec.layers.is_array() || spec.layers.size() != 26)
    return std::nullopt;
  std::vector<std::string> ops;
  for (size_t i = 1; i <= 22; ++i) {
    const json& l = spec.layers[i];
    const std::string type = l.value("type", "");
    if (type == "identity" || type == "conv_bn_act") {
      ops.push_back("skip");
    } else if (type == "mbconv") {
      ops.push_back(fmt::format("k{}_e{}{}", l.value("kernel", 0), l.value("expand", 0),
                                l.value("groups", 1) == 2 ? "_g2" : ""));
    } else {
      return std::nullopt;
    }
  }
  try {
    for (const auto& op : ops)
      if (std::find(kFbnetOps.begin(), kFbnetOps.end(), op) == kFbnetOps.end()) return std::nullopt;
    if (!same_structure(spec, fbnet_network(ops, spec.name))) return std::nullopt;
  } catch (const std::exception&) {
    return std::nullopt;
  }
  return ops;
}

std::optional<ElasticMobileArch> elastic_mobile_arch_of(const NetworkSpec& spec) {
  if (spec.input != Shape{1, 28, 28} || spec.classes != 10 || !spec.layers.is_array() || spec.layers.size() < 8)
    return std::nullopt;
  // Blocks of a stage are the mbconvs of its width; dropped blocks get the max choice (unused).
  ElasticMobileArch a{std::vector<int>(10, 5), std::vector<int>(10, 6), std::vector<int>(4, 0)};
  size_t i = 1;
  int first = 0;
  for (int s = 0; s < 4; ++s) {
    while (i < spec.layers.size() && spec.layers[i].value("type", "") == "mbconv" &&
           spec.layers[i].value("out", 0) == kEmOuts[s]) {
      if (a.depth[s] == kEmMaxDepth[s]) return std::nullopt;
      a.kernel[first + a.depth[s]] = spec.layers[i].value("kernel", 0);
      a.expand[first + a.depth[s]] = spec.layers[i].value("expand", 0);
      ++a.depth[s];
      ++i;
    }
    if (a.depth[s] == 0) return std::nullopt;
    first += kEmMaxDepth[s];
  }
  try {
    if (!same_structure(spec, elastic_mobile_network(elastic_mobile_arch(arch_json(a).dump()), spec.name)))
      return std::nullopt;
  } catch (const std::exception&) {
    return std::nullopt;
  }
  return a;
}

WeightNaming peer_naming(const NetworkSpec& spec) {
  if (fbnet_ops_of(spec)) return WeightNaming::fbnet_torch;
  if (elastic_mobile_arch_of(spec)) return WeightNaming::elastic_torch;
  return WeightNaming::hwnas;
}

std::vector<FileWeight> weight_layout(const NetworkSpec& spec, const Module& net, WeightNaming naming) {
  LayoutBuilder b(net, naming);
  switch (naming) {
    case WeightNaming::hwnas:
      for (auto& [n, t] : net.state()) b.map(n, n);
      break;
    case WeightNaming::fbnet_torch:
      if (!fbnet_ops_of(spec))
        fail("safetensors: network \"{}\" is not an FBNet-space network (fbnet_torch.FBNet); use the hwnas names",
             spec.name);
      fbnet_layout(spec, b);
      break;
    case WeightNaming::elastic_torch: {
      const auto a = elastic_mobile_arch_of(spec);
      if (!a)
        fail("safetensors: network \"{}\" is not an elastic-mobile subnet (elastic_torch.ElasticNet); use the hwnas "
             "names", spec.name);
      elastic_layout(spec, *a, b);
      break;
    }
  }
  return b.finish();
}

WeightNaming resolve_naming(const NetworkSpec& spec, const std::string& names) {
  if (names == "auto") return peer_naming(spec);
  if (names == "hwnas") return WeightNaming::hwnas;
  fail("safetensors: names \"{}\" unknown, expected auto (the PyTorch peer's names where there is a peer) or hwnas",
       names);
}

WeightFile network_weight_file(const NetworkSpec& spec, const Module& net, WeightNaming naming,
                               const SafetensorsMetadata& extra_metadata) {
  WeightFile f;
  f.naming = naming;
  std::map<std::string, Tensor> state;
  for (auto& [n, t] : net.state()) state.emplace(n, t);
  for (const FileWeight& w : weight_layout(spec, net, naming)) {
    if (w.dtype == DType::i64) {
      f.tensors.emplace_back(w.file_name, Tensor::zeros(w.file_shape, DType::i64));
      continue;
    }
    if (w.module_name.empty()) {
      f.tensors.emplace_back(w.file_name, Tensor::full(w.file_shape, w.fill));
      continue;
    }
    const Tensor& ours = state.at(w.module_name);
    if (ours.shape() == w.file_shape) {
      f.tensors.emplace_back(w.file_name, ours);  // written in logical order whatever its layout
    } else {
      Tensor t = Tensor::full(w.file_shape, w.fill);
      narrow_to(t, w.offset, ours.shape()).copy_(ours);
      f.tensors.emplace_back(w.file_name, t);
    }
  }
  f.metadata = extra_metadata;
  f.metadata["format"] = "pt";
  f.metadata["hwnas.naming"] = weight_naming_name(naming);
  f.metadata["hwnas.network"] = network_spec_to_json(spec).dump();
  if (naming == WeightNaming::fbnet_torch) {
    const std::vector<std::string> op_names = fbnet_ops_of(spec).value();
    std::string ops;
    for (const auto& o : op_names) ops += (ops.empty() ? "" : ",") + o;
    f.metadata["hwnas.fbnet_ops"] = ops;
  }
  if (naming == WeightNaming::elastic_torch) f.metadata["hwnas.arch"] = arch_json(*elastic_mobile_arch_of(spec)).dump();
  return f;
}

SafetensorsExport export_safetensors(const NetworkSpec& spec, const Module& net, const std::string& path,
                                     const std::string& names, const SafetensorsMetadata& extra_metadata) {
  const WeightFile f = network_weight_file(spec, net, resolve_naming(spec, names), extra_metadata);
  save_safetensors(path, f.tensors, f.metadata);
  SafetensorsExport r;
  r.naming = f.naming;
  r.tensors = static_cast<int64_t>(f.tensors.size());
  r.bytes = std::filesystem::file_size(path);
  return r;
}

WeightNaming import_safetensors(const NetworkSpec& spec, Module& net, const SafetensorsFile& file) {
  const std::string& src = file.path;
  WeightNaming naming = WeightNaming::hwnas;
  if (auto it = file.metadata.find("hwnas.naming"); it != file.metadata.end()) {
    bool known = false;
    for (WeightNaming n : {WeightNaming::hwnas, WeightNaming::fbnet_torch, WeightNaming::elastic_torch})
      if (it->second == weight_naming_name(n)) naming = n, known = true;
    if (!known) fail("safetensors {}: unknown naming \"{}\" in its metadata", src, it->second);
  } else if (file.find("stem.0.weight")) {  // a peer's state_dict saved by PyTorch
    naming = peer_naming(spec);
    if (naming == WeightNaming::hwnas)
      fail("safetensors {}: it holds PyTorch peer names (stem.0.weight), but network \"{}\" is neither an FBNet-space "
           "network nor an elastic-mobile subnet", src, spec.name);
  }
  // A file written for another network would load "fine" into one with the same tensor shapes.
  if (auto it = file.metadata.find("hwnas.network"); it != file.metadata.end()) {
    NetworkSpec theirs;
    try {
      theirs = parse_network_spec(json::parse(it->second), src);
    } catch (const std::exception& e) {
      fail("safetensors {}: its \"hwnas.network\" metadata is not a valid network: {}", src, e.what());
    }
    if (!same_structure(theirs, spec))
      fail("safetensors {}: its weights are for network \"{}\", which differs from network \"{}\" (layers, widths or "
           "strides)", src, theirs.name, spec.name);
  }
  if (naming == WeightNaming::elastic_torch)
    if (auto it = file.metadata.find("hwnas.arch"); it != file.metadata.end()) {
      const auto ours = elastic_mobile_arch_of(spec);
      NetworkSpec theirs;
      try {
        theirs = elastic_mobile_network(elastic_mobile_arch(it->second), "file");
      } catch (const std::exception& e) {
        fail("safetensors {}: its \"hwnas.arch\" metadata is not an elastic-mobile arch: {}", src, e.what());
      }
      // The file's padding is PyTorch's initial values, not weights: another arch would read them.
      if (!ours || !same_structure(theirs, spec))
        fail("safetensors {}: it holds elastic-mobile arch {}, but network \"{}\" is another subnet", src, it->second,
             spec.name);
    }

  const std::vector<FileWeight> layout = weight_layout(spec, net, naming);
  std::map<std::string, Tensor> state;
  for (auto& [n, t] : net.state()) state.emplace(n, t);
  std::vector<std::string> problems;
  std::set<std::string> expected;
  std::vector<std::pair<Tensor, Tensor>> copies;  // (destination, source view)
  for (const FileWeight& w : layout) {
    expected.insert(w.file_name);
    const Tensor* t = file.find(w.file_name);
    if (!t) {
      if (!w.module_name.empty()) problems.push_back(fmt::format("missing \"{}\"", w.file_name));
      continue;  // the peer's extras (num_batches_tracked, unused blocks) are optional
    }
    if (t->dtype() != w.dtype || t->shape() != w.file_shape) {
      problems.push_back(fmt::format("\"{}\" is {} {}, expected {} {}", w.file_name, safetensors_dtype_name(t->dtype()),
                                     shape_str(t->shape()), safetensors_dtype_name(w.dtype), shape_str(w.file_shape)));
      continue;
    }
    if (w.module_name.empty()) continue;
    const Tensor& dst = state.at(w.module_name);
    copies.emplace_back(dst, narrow_to(*t, w.offset.empty() ? Shape(dst.dim(), 0) : w.offset, dst.shape()));
  }
  for (const auto& [n, t] : file.tensors)
    if (!expected.count(n)) problems.push_back(fmt::format("unexpected \"{}\"", n));
  if (!problems.empty()) {
    std::string msg;
    for (size_t i = 0; i < problems.size() && i < 12; ++i) msg += (i ? "; " : "") + problems[i];
    if (problems.size() > 12) msg += fmt::format("; and {} more", problems.size() - 12);
    fail("safetensors {}: does not fit network \"{}\" ({} names): {}", src, spec.name, weight_naming_name(naming), msg);
  }
  for (auto& [dst, srcv] : copies) dst.copy_(srcv);
  net.train(net.is_training());  // drops folded weights computed from the old values
  return naming;
}

LoadedWeights load_network_safetensors(const std::string& path) {
  const SafetensorsFile f = load_safetensors(path);
  auto it = f.metadata.find("hwnas.network");
  if (it == f.metadata.end())
    fail("safetensors {}: no \"hwnas.network\" metadata, so the network is unknown; give the network (--net) and "
         "this file as its weights (--weights)", path);
  LoadedWeights r;
  try {
    r.spec = parse_network_spec(json::parse(it->second), path);
  } catch (const json::exception& e) {
    fail("safetensors {}: its \"hwnas.network\" metadata is not JSON: {}", path, e.what());
  }
  r.net = build_network(r.spec, 0);
  r.naming = import_safetensors(r.spec, *r.net, f);
  return r;
}

}  // namespace hwnas
