// Architectures of a search space: size, sampling, validation, JSON, and the fixed network.
#include <cmath>

#include "nas/space.h"

namespace hwnas {

using nlohmann::json;

namespace {

std::vector<int64_t>& ints_of(Arch& a, DimKind k) {
  switch (k) {
    case DimKind::depth: return a.depth;
    case DimKind::kernel: return a.kernel;
    case DimKind::expand: return a.expand;
    case DimKind::width: return a.width;
    case DimKind::radix: return a.radix;
    case DimKind::ops: break;
  }
  fail("space: ops are names, not integers");
}
size_t arch_len(const Arch& a, DimKind k) {
  return k == DimKind::ops ? a.ops.size() : ints_of(const_cast<Arch&>(a), k).size();
}

// FBNet calls its searchable blocks layers; its error texts say so.
const char* unit(DimKind k) { return k == DimKind::depth ? "stage" : k == DimKind::ops ? "layer" : "block"; }

[[noreturn]] void bad_length(const SearchSpace& s, DimKind k, size_t got) {
  const size_t n = s.count(k);
  if (n == 0) fail("{}: this space has no searchable \"{}\", but the arch gives {} entries", s.name, dim_name(k), got);
  fail("{}: \"{}\" has one entry per searchable {}: expected {} {}s, got {}", s.name, dim_name(k), unit(k), n,
       unit(k), got);
}

const Dimension& find_dim(const SearchSpace& s, DimKind k, size_t pos) {
  for (const auto& d : s.dims)
    if (d.kind == k && d.pos == pos) return d;
  fail("{}: no dimension {}[{}]", s.name, dim_name(k), pos);
}

[[noreturn]] void bad_choice(const SearchSpace& s, const Dimension& d, const std::string& value) {
  if (d.kind == DimKind::ops)
    fail("{}: layer {} has unknown op {} (ops[{}] must be one of {})", s.name, d.block, value, d.pos,
         fmt::join(d.names, ", "));
  const std::string where = d.kind == DimKind::depth
                                ? fmt::format("stage {}", d.stage)
                                : fmt::format("stage {}, block {}", d.stage, s.blocks[d.block].index_in_stage);
  fail("{}: {}[{}] = {} is not one of {{{}}} ({})", s.name, dim_name(d.kind), d.pos, value, fmt::join(d.values, ", "),
       where);
}

// Orders ops by their multiply-adds at a large equal width C: first the C^2 coefficient, then
// the C coefficient. Exact costs depend on the neighbours' choices; the order does not.
std::pair<double, double> op_weight(const std::string& name) {
  const OpDesc d = *parse_op_name(name);
  if (d.type == BlockType::skip) return {0, 0};
  if (d.type == BlockType::conv) return {double(d.kernel * d.kernel), 0};
  return {2.0 * d.expand / d.groups, double(d.expand * d.kernel * d.kernel)};
}

Arch extreme_arch(const SearchSpace& s, bool largest) {
  std::vector<size_t> c;
  for (const auto& d : s.dims) {
    size_t best = 0;
    for (size_t i = 1; i < d.size(); ++i) {
      const bool more = d.kind == DimKind::ops ? op_weight(d.names[i]) > op_weight(d.names[best])
                                               : d.values[i] > d.values[best];
      const bool less = d.kind == DimKind::ops ? op_weight(d.names[i]) < op_weight(d.names[best])
                                               : d.values[i] < d.values[best];
      if (largest ? more : less) best = i;
    }
    c.push_back(best);
  }
  return arch_from_choices(s, c);
}

std::vector<int64_t> stage_depths(const SearchSpace& s, const Arch& a) {
  std::vector<int64_t> depth;
  for (const auto& st : s.stages) depth.push_back(st.depth.back());  // fixed: its one entry
  for (const auto& d : s.dims)
    if (d.kind == DimKind::depth) depth[d.stage] = a.depth.at(d.pos);
  return depth;
}

json conv_bn_act(int64_t out, int64_t k, int64_t stride, int64_t groups, const std::string& act) {
  json l = {{"type", "conv_bn_act"}, {"out", out}, {"kernel", k}, {"stride", stride}, {"act", act}};
  if (groups != 1) l["groups"] = groups;
  return l;
}

}  // namespace

SpaceSize space_size(const SearchSpace& s) {
  std::vector<double> choices(s.blocks.size(), 1.0);
  for (const auto& d : s.dims)
    if (d.kind != DimKind::depth) choices[d.block] *= double(d.size());
  SpaceSize r{1.0, 0.0};
  for (const auto& st : s.stages) {
    // Sum over depths of the products, in log10 as well so that huge spaces keep a finite log.
    std::vector<double> logs;
    double count = 0;
    for (int64_t d : st.depth) {
      double prod = 1, lg = 0;
      for (int64_t b = 0; b < d; ++b) {
        prod *= choices[st.first_block + b];
        lg += std::log10(choices[st.first_block + b]);
      }
      count += prod;
      logs.push_back(lg);
    }
    const double m = *std::max_element(logs.begin(), logs.end());
    double sum = 0;
    for (double lg : logs) sum += std::pow(10.0, lg - m);
    r.count *= count;
    r.log10 += m + std::log10(sum);
  }
  return r;
}

Arch max_arch(const SearchSpace& s) { return extreme_arch(s, true); }
Arch min_arch(const SearchSpace& s) { return extreme_arch(s, false); }

Arch sample_arch(const SearchSpace& s, Generator& gen) {
  std::vector<size_t> c;
  c.reserve(s.dims.size());
  for (const auto& d : s.dims) c.push_back(gen.below(d.size()));
  return arch_from_choices(s, c);
}

namespace {
const std::vector<size_t>& checked_allowed(const SearchSpace& s, const ChoiceSets& allowed, size_t i) {
  static const std::vector<size_t> all;
  if (allowed.empty()) return all;
  if (allowed.size() != s.dims.size())
    fail("{}: a restricted space needs one choice list per dimension ({}), got {}", s.name, s.dims.size(), allowed.size());
  for (size_t c : allowed[i])
    if (c >= s.dims[i].size())
      fail("{}: restricted choice {} of {}[{}] is out of range (it has {} choices)", s.name, c,
           dim_name(s.dims[i].kind), s.dims[i].pos, s.dims[i].size());
  return allowed[i];
}
}  // namespace

Arch sample_arch_within(const SearchSpace& s, const ChoiceSets& allowed, Generator& gen) {
  std::vector<size_t> c;
  for (size_t i = 0; i < s.dims.size(); ++i) {
    const auto& al = checked_allowed(s, allowed, i);
    c.push_back(al.empty() ? gen.below(s.dims[i].size()) : al[gen.below(al.size())]);
  }
  return arch_from_choices(s, c);
}

Arch max_arch_within(const SearchSpace& s, const ChoiceSets& allowed) {
  if (allowed.empty()) return max_arch(s);
  std::vector<size_t> c = arch_choices(s, max_arch(s));
  for (size_t i = 0; i < s.dims.size(); ++i) {
    const auto& al = checked_allowed(s, allowed, i);
    if (!al.empty()) c[i] = *std::max_element(al.begin(), al.end());
  }
  return arch_from_choices(s, c);
}

Arch min_arch_within(const SearchSpace& s, const ChoiceSets& allowed) {
  if (allowed.empty()) return min_arch(s);
  std::vector<size_t> c = arch_choices(s, min_arch(s));
  for (size_t i = 0; i < s.dims.size(); ++i) {
    const auto& al = checked_allowed(s, allowed, i);
    if (!al.empty()) c[i] = *std::min_element(al.begin(), al.end());
  }
  return arch_from_choices(s, c);
}

std::vector<Arch> choice_covering_archs(const SearchSpace& s) {
  size_t most = 1;
  for (const Dimension& d : s.dims) most = std::max(most, d.size());
  std::vector<Arch> archs;
  for (size_t i = 0; i < most; ++i) {
    std::vector<size_t> choices;
    for (const Dimension& d : s.dims)
      choices.push_back(d.kind == DimKind::depth ? d.size() - 1 : std::min(i, d.size() - 1));
    archs.push_back(arch_from_choices(s, choices));
  }
  return archs;
}

Arch canonical_arch(const SearchSpace& s, const Arch& a) {
  std::vector<size_t> c = arch_choices(s, a);
  const std::vector<int64_t> depth = stage_depths(s, a);
  for (size_t i = 0; i < s.dims.size(); ++i) {
    const Dimension& d = s.dims[i];
    if (d.kind != DimKind::depth && int64_t(s.blocks[d.block].index_in_stage) >= depth[d.stage]) c[i] = 0;
  }
  return arch_from_choices(s, c);
}

std::vector<size_t> arch_choices(const SearchSpace& s, const Arch& a) {
  for (DimKind k : kDimKinds)
    if (arch_len(a, k) != s.count(k)) bad_length(s, k, arch_len(a, k));
  std::vector<size_t> c;
  c.reserve(s.dims.size());
  for (const auto& d : s.dims) {
    if (d.kind == DimKind::ops) {
      const std::string& v = a.ops[d.pos];
      const auto it = std::find(d.names.begin(), d.names.end(), v);
      if (it == d.names.end()) bad_choice(s, d, json(v).dump());
      c.push_back(it - d.names.begin());
    } else {
      const int64_t v = ints_of(const_cast<Arch&>(a), d.kind)[d.pos];
      const auto it = std::find(d.values.begin(), d.values.end(), v);
      if (it == d.values.end()) bad_choice(s, d, std::to_string(v));
      c.push_back(it - d.values.begin());
    }
  }
  return c;
}

void validate_arch(const SearchSpace& s, const Arch& a) { arch_choices(s, a); }

Arch arch_from_choices(const SearchSpace& s, const std::vector<size_t>& choices) {
  HWNAS_CHECK(choices.size() == s.dims.size(), "{}: {} choices given, the space has {} dimensions", s.name,
              choices.size(), s.dims.size());
  Arch a;
  for (DimKind k : kDimKinds)
    if (k != DimKind::ops) ints_of(a, k).resize(s.count(k));
  a.ops.resize(s.count(DimKind::ops));
  for (size_t i = 0; i < choices.size(); ++i) {
    const Dimension& d = s.dims[i];
    HWNAS_CHECK(choices[i] < d.size(), "{}: choice {} of {}[{}] is out of range (it has {} choices)", s.name,
                choices[i], dim_name(d.kind), d.pos, d.size());
    if (d.kind == DimKind::ops) a.ops[d.pos] = d.names[choices[i]];
    else ints_of(a, d.kind)[d.pos] = d.values[choices[i]];
  }
  return a;
}

std::string arch_json_hint(const SearchSpace& s) {
  std::vector<std::string> parts;
  for (DimKind k : kDimKinds)
    if (size_t n = s.count(k))
      parts.push_back(fmt::format("\"{}\":[{} {}]", dim_name(k), n, k == DimKind::ops ? "op names" : "ints"));
  return "{" + fmt::format("{}", fmt::join(parts, ",")) + "}";
}

Arch arch_from_json(const SearchSpace& s, const json& j) {
  if (!j.is_object()) fail("{}: an arch must be a JSON object {}, got {}", s.name, arch_json_hint(s), j.dump());
  for (const auto& [key, v] : j.items()) {
    const bool known = std::any_of(std::begin(kDimKinds), std::end(kDimKinds),
                                   [&](DimKind k) { return key == dim_name(k) && s.count(k) > 0; });
    if (!known) fail("{}: unknown arch key \"{}\" (an arch is {})", s.name, key, arch_json_hint(s));
  }
  Arch a;
  for (DimKind k : kDimKinds) {
    const size_t n = s.count(k);
    if (n == 0) continue;
    const char* what = k == DimKind::ops ? "op names" : "integers";
    if (!j.contains(dim_name(k))) fail("{}: the arch needs \"{}\": an array of {} {}", s.name, dim_name(k), n, what);
    const json& v = j.at(dim_name(k));
    if (!v.is_array()) fail("{}: \"{}\" must be an array of {} {}, got {}", s.name, dim_name(k), n, what, v.dump());
    if (v.size() != n) bad_length(s, k, v.size());
    for (size_t i = 0; i < n; ++i) {
      const bool ok = k == DimKind::ops ? v[i].is_string() : v[i].is_number_integer();
      if (!ok) bad_choice(s, find_dim(s, k, i), v[i].dump());
      if (k == DimKind::ops) a.ops.push_back(v[i].get<std::string>());
      else ints_of(a, k).push_back(v[i].get<int64_t>());
    }
  }
  validate_arch(s, a);
  return a;
}

json arch_to_json(const SearchSpace& s, const Arch& a) {
  json j = json::object();
  for (DimKind k : kDimKinds) {
    if (s.count(k) == 0) continue;
    if (k == DimKind::ops) j[dim_name(k)] = a.ops;
    else j[dim_name(k)] = ints_of(const_cast<Arch&>(a), k);
  }
  return j;
}

json arch_layers(const SearchSpace& s, const Arch& a) {
  const std::vector<size_t> c = arch_choices(s, a);
  // Each block's chosen values; the fixed ones are their single choice.
  struct Chosen {
    int64_t width = 0, kernel = 0, expand = 0, radix = 1;
    std::string op;
  };
  std::vector<Chosen> ch(s.blocks.size());
  for (size_t b = 0; b < s.blocks.size(); ++b) {
    const BlockSpec& bs = s.blocks[b];
    ch[b].width = bs.width.at(0);
    if (!bs.kernel.empty()) ch[b].kernel = bs.kernel[0];
    if (!bs.expand.empty()) ch[b].expand = bs.expand[0];
    if (!bs.radix.empty()) ch[b].radix = bs.radix[0];
    if (!bs.ops.empty()) ch[b].op = bs.ops[0];
  }
  for (size_t i = 0; i < s.dims.size(); ++i) {
    const Dimension& d = s.dims[i];
    if (d.kind == DimKind::depth) continue;
    Chosen& x = ch[d.block];
    if (d.kind == DimKind::ops) x.op = d.names[c[i]];
    else (d.kind == DimKind::kernel ? x.kernel : d.kind == DimKind::expand ? x.expand
          : d.kind == DimKind::width ? x.width : x.radix) = d.values[c[i]];
  }
  json layers = s.stem;
  int64_t cin = s.input[0];
  for (const json& l : s.stem)
    if (l.is_object() && l.contains("out") && l.at("out").is_number_integer()) cin = l.at("out").get<int64_t>();
  const std::vector<int64_t> depth = stage_depths(s, a);
  for (size_t si = 0; si < s.stages.size(); ++si) {
    for (int64_t i = 0; i < depth[si]; ++i) {
      const size_t b = s.stages[si].first_block + i;
      const BlockSpec& bs = s.blocks[b];
      const Chosen& x = ch[b];
      OpDesc op{bs.type, x.kernel, x.expand, bs.groups};
      if (bs.type == BlockType::mixed) op = *parse_op_name(x.op);
      const int64_t out = x.width, st = bs.stride;
      if (op.type == BlockType::mbconv) {
        json l = {{"type", "mbconv"}, {"out", out},          {"kernel", op.kernel}, {"stride", st},
                  {"expand", op.expand}, {"groups", op.groups}, {"act", bs.act}};
        if (bs.type == BlockType::mbconv && x.radix > 1) l["radix"] = x.radix;
        layers.push_back(std::move(l));
      } else if (op.type == BlockType::conv) {
        layers.push_back(conv_bn_act(out, op.kernel, st, op.groups, bs.act));
      } else {
        layers.push_back(st == 1 && cin == out ? json{{"type", "identity"}} : conv_bn_act(out, 1, st, 1, bs.act));
      }
      cin = out;
    }
  }
  for (const json& l : s.head) layers.push_back(l);
  return layers;
}

NetworkSpec arch_network(const SearchSpace& s, const Arch& a, const std::string& name) {
  const json layers = arch_layers(s, a);
  const std::string n = name.empty() ? s.name : name;
  return parse_network_spec(json{{"name", n}, {"input", s.input}, {"classes", s.classes}, {"layers", layers}}, n);
}

SubnetCost subnet_cost(const SearchSpace& s, const Arch& a) {
  json layers = arch_layers(s, a);
  parse_network_spec(json{{"name", s.name}, {"input", s.input}, {"classes", s.classes}, {"layers", layers}}, s.name);
  return layers_cost(s.input, layers);
}

}  // namespace hwnas
