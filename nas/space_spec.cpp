// Parsing a search-space spec (docs/search-space.md) into a SearchSpace.
#include <charconv>
#include <iterator>
#include <set>
#include <string_view>

#include "nas/space.h"
#include "ops/activation.h"

namespace hwnas {

using nlohmann::json;

const char* dim_name(DimKind k) {
  switch (k) {
    case DimKind::depth: return "depth";
    case DimKind::kernel: return "kernel";
    case DimKind::expand: return "expand";
    case DimKind::width: return "width";
    case DimKind::ops: return "ops";
    case DimKind::radix: return "radix";
  }
  return "?";
}

size_t SearchSpace::count(DimKind k) const {
  size_t n = 0;
  for (const auto& d : dims) n += d.kind == k;
  return n;
}

namespace {

bool parse_positive(std::string_view s, int64_t& out) {
  if (s.empty() || s[0] == '-' || s[0] == '+') return false;
  auto [p, ec] = std::from_chars(s.data(), s.data() + s.size(), out);
  return ec == std::errc() && p == s.data() + s.size() && out > 0;
}

const char* kOpGrammar = "skip, k<kernel>_e<expand>[_g<groups>] or conv<kernel>";

struct Parser {
  std::string source;

  [[noreturn]] void error(const std::string& where, const std::string& what) const {
    fail("{}: {}: {}", source, where, what);
  }

  // A fixed positive integer, or a non-empty array of distinct positive integers (searchable).
  std::vector<int64_t> ints(const json& o, const char* key, const std::string& where, bool& searchable,
                            bool ascending = false, int64_t max = 0) const {
    const json& v = o.at(key);
    auto bad = [&] {
      error(where, fmt::format("\"{}\" must be a positive integer or a non-empty array of distinct {}positive integers{}, got {}",
                               key, ascending ? "ascending " : "", max ? fmt::format(" up to {}", max) : "", v.dump()));
    };
    std::vector<int64_t> out;
    searchable = v.is_array();
    for (const json& x : searchable ? v : json::array({v})) {
      if (!x.is_number_integer() || x.get<int64_t>() < 1 || (max && x.get<int64_t>() > max)) bad();
      const int64_t n = x.get<int64_t>();
      if (std::find(out.begin(), out.end(), n) != out.end() || (ascending && !out.empty() && n < out.back())) bad();
      out.push_back(n);
    }
    if (out.empty()) bad();
    return out;
  }

  int64_t fixed_int(const json& o, const char* key, const std::string& where, int64_t dflt) const {
    if (!o.contains(key)) return dflt;
    const json& v = o.at(key);
    if (!v.is_number_integer() || v.get<int64_t>() < 1)
      error(where, fmt::format("\"{}\" must be a positive integer (it is not searchable), got {}", key, v.dump()));
    return v.get<int64_t>();
  }

  void check_keys(const json& o, const std::set<std::string>& allowed, const std::string& where,
                  const std::string& what) const {
    for (const auto& [k, v] : o.items()) {
      if (allowed.count(k)) continue;
      if (k == "stride") error(where, "\"stride\" belongs to the stage (the stride of its first block)");
      error(where, fmt::format("unknown key \"{}\" for {} (keys: {})", k, what, fmt::join(allowed, ", ")));
    }
  }

  // Fills `b` from the block object; `searched` gets the dimensions given as arrays.
  void block(const json& o, const std::string& where, BlockSpec& b, std::vector<DimKind>& searched) const {
    if (!o.is_object()) error(where, "a block must be a JSON object, got " + o.dump());
    std::string type = o.contains("ops") ? "mixed" : "";
    if (o.contains("type")) {
      if (!o.at("type").is_string()) error(where, "\"type\" must be a string");
      type = o.at("type").get<std::string>();
    }
    if (type.empty()) error(where, "a block needs a \"type\" (mbconv, conv, skip, an op name) or \"ops\" (a mixed op)");
    std::optional<OpDesc> named;
    std::set<std::string> keys = {"type", "out", "act"};
    if (type == "mbconv") {
      b.type = BlockType::mbconv;
      keys.insert({"kernel", "expand", "groups", "radix"});
    } else if (type == "conv") {
      b.type = BlockType::conv;
      keys.insert({"kernel", "groups"});
    } else if (type == "mixed") {
      b.type = BlockType::mixed;
      keys.insert("ops");
    } else if ((named = parse_op_name(type))) {
      b.type = named->type;
      if (b.type == BlockType::mbconv) keys.insert("radix");
    } else {
      error(where, fmt::format("unknown block type \"{}\" (mbconv, conv, skip, mixed, or an op name: {})", type, kOpGrammar));
    }
    check_keys(o, keys, where, "a " + type + " block");
    bool s = false;
    auto dim = [&](const char* key, DimKind kind, std::vector<int64_t>& out, bool ascending = false) {
      if (!o.contains(key)) error(where, fmt::format("a {} block needs \"{}\"", type, key));
      out = ints(o, key, where, s, ascending);
      if (s) searched.push_back(kind);
    };
    if (keys.count("kernel")) dim("kernel", DimKind::kernel, b.kernel);
    if (keys.count("expand")) dim("expand", DimKind::expand, b.expand);
    dim("out", DimKind::width, b.width, /*ascending=*/true);
    if (b.type == BlockType::mixed) {
      if (!o.contains("ops")) error(where, "a mixed block needs \"ops\": its candidate op names");
      const json& ops = o.at("ops");
      if (!ops.is_array() || ops.empty()) error(where, "\"ops\" must be a non-empty array of op names");
      for (size_t i = 0; i < ops.size(); ++i) {
        if (!ops[i].is_string() || !parse_op_name(ops[i].get<std::string>()))
          error(where, fmt::format("\"ops\"[{}] = {} is not an op name ({})", i, ops[i].dump(), kOpGrammar));
        if (std::find(b.ops.begin(), b.ops.end(), ops[i].get<std::string>()) != b.ops.end())
          error(where, fmt::format("\"ops\" lists {} twice", ops[i].dump()));
        b.ops.push_back(ops[i].get<std::string>());
      }
      searched.push_back(DimKind::ops);
    }
    if (named && named->type != BlockType::skip) {
      b.kernel = {named->kernel};
      if (named->type == BlockType::mbconv) b.expand = {named->expand};
      b.groups = named->groups;
    }
    if (keys.count("groups")) b.groups = fixed_int(o, "groups", where, 1);
    if (b.type == BlockType::mbconv) {
      b.radix = {1};
      if (o.contains("radix")) dim("radix", DimKind::radix, b.radix);
    }
    if (o.contains("act")) {
      if (!o.at("act").is_string()) error(where, "\"act\" must be a string");
      b.act = o.at("act").get<std::string>();
      try {
        activation_from_name(b.act);
      } catch (const Error& e) {
        error(where, e.what());
      }
    }
  }
};

json layer_list(const json& j, const char* key, const std::string& source) {
  if (!j.contains(key)) return json::array();
  const json& v = j.at(key);
  if (v.is_object()) return json::array({v});
  if (!v.is_array()) fail("{}: \"{}\" must be a layer object or an array of layers (network JSON format)", source, key);
  return v;
}

}  // namespace

std::optional<OpDesc> parse_op_name(const std::string& name) {
  if (name == "skip") return OpDesc{BlockType::skip};
  std::string_view s(name);
  OpDesc d;
  if (s.starts_with("conv")) {
    d.type = BlockType::conv;
    if (parse_positive(s.substr(4), d.kernel)) return d;
    return std::nullopt;
  }
  const size_t e = s.find("_e");
  if (!s.starts_with("k") || e == std::string_view::npos) return std::nullopt;
  d.type = BlockType::mbconv;
  if (!parse_positive(s.substr(1, e - 1), d.kernel)) return std::nullopt;
  const std::string_view rest = s.substr(e + 2);
  const size_t g = rest.find("_g");
  if (!parse_positive(rest.substr(0, g), d.expand)) return std::nullopt;
  if (g != std::string_view::npos && !parse_positive(rest.substr(g + 2), d.groups)) return std::nullopt;
  return d;
}

SearchSpace parse_space(const json& j, const std::string& source) {
  Parser p{source};
  if (!j.is_object()) fail("{}: a search space must be a JSON object", source);
  p.check_keys(j, {"name", "input", "classes", "stem", "stages", "head"}, "the space", "a search space");
  SearchSpace s;
  s.spec = j;
  s.name = j.contains("name") && j.at("name").is_string() ? j.at("name").get<std::string>() : source;
  if (!j.contains("input") || !j.at("input").is_array() || j.at("input").size() != 3)
    fail("{}: \"input\" must be [C, H, W]", source);
  for (const auto& d : j.at("input")) {
    if (!d.is_number_integer() || d.get<int64_t>() <= 0)
      fail("{}: \"input\" entries must be positive integers, got {}", source, j.at("input").dump());
    s.input.push_back(d.get<int64_t>());
  }
  if (!j.contains("classes") || !j.at("classes").is_number_integer() || j.at("classes").get<int64_t>() <= 0)
    fail("{}: \"classes\" must be a positive integer", source);
  s.classes = j.at("classes").get<int64_t>();
  s.stem = layer_list(j, "stem", source);
  s.head = layer_list(j, "head", source);
  if (!j.contains("stages") || !j.at("stages").is_array() || j.at("stages").empty())
    fail("{}: \"stages\" must be a non-empty array", source);

  size_t pos[std::size(kDimKinds)] = {};
  auto add_dim = [&](DimKind k, size_t stage, size_t block, const std::vector<int64_t>& values,
                     const std::vector<std::string>& names) {
    s.dims.push_back(Dimension{k, pos[static_cast<int>(k)]++, stage, block, values, names});
  };
  for (size_t si = 0; si < j.at("stages").size(); ++si) {
    const json& st = j.at("stages")[si];
    const std::string where = fmt::format("stages[{}]", si);
    if (!st.is_object()) p.error(where, "a stage must be a JSON object");
    p.check_keys(st, {"blocks", "block", "depth", "stride"}, where, "a stage");
    if (st.contains("block") && !st.at("block").is_object()) p.error(where, "\"block\" must be a block object");
    const json tmpl = st.value("block", json::object());
    std::vector<json> blocks;
    if (st.contains("blocks") && st.at("blocks").is_array() && !st.at("blocks").empty()) {
      for (const json& b : st.at("blocks")) {
        json merged = tmpl;
        if (b.is_object()) merged.update(b);
        blocks.push_back(b.is_object() ? merged : b);
      }
    } else if (st.contains("blocks") && st.at("blocks").is_number_integer() && st.at("blocks").get<int64_t>() >= 1 &&
               st.contains("block")) {
      blocks.assign(st.at("blocks").get<size_t>(), tmpl);
    } else {
      p.error(where, "\"blocks\" must be a number of copies of \"block\", or a non-empty array of block objects");
    }
    StageSpec stage;
    stage.first_block = s.blocks.size();
    stage.num_blocks = blocks.size();
    bool depth_searched = false;
    stage.depth = st.contains("depth") ? p.ints(st, "depth", where, depth_searched, false, stage.num_blocks)
                                       : std::vector<int64_t>{static_cast<int64_t>(stage.num_blocks)};
    if (depth_searched) add_dim(DimKind::depth, si, stage.first_block, stage.depth, {});
    const int64_t stride = p.fixed_int(st, "stride", where, 1);
    for (size_t bi = 0; bi < blocks.size(); ++bi) {
      BlockSpec b;
      std::vector<DimKind> searched;
      p.block(blocks[bi], fmt::format("{}.blocks[{}]", where, bi), b, searched);
      b.stride = bi == 0 ? stride : 1;
      b.stage = si;
      b.index_in_stage = bi;
      const size_t gi = s.blocks.size();
      for (DimKind k : kDimKinds) {
        if (std::find(searched.begin(), searched.end(), k) == searched.end()) continue;
        const auto& values = k == DimKind::kernel ? b.kernel : k == DimKind::expand ? b.expand
                             : k == DimKind::width ? b.width : b.radix;
        if (k == DimKind::ops) add_dim(k, si, gi, {}, b.ops);
        else add_dim(k, si, gi, values, {});
      }
      s.blocks.push_back(std::move(b));
    }
    s.stages.push_back(std::move(stage));
  }
  // Depth never changes the spatial size (a stage keeps at least its first, strided block), so
  // the largest and smallest subnets being valid networks catches the stem, head and stride
  // mistakes; arch-specific ones (groups against a width) are caught per arch.
  for (bool largest : {true, false}) {
    try {
      subnet_cost(s, largest ? max_arch(s) : min_arch(s));
    } catch (const Error& e) {
      fail("{}: the {} subnet is not a valid network: {}", source, largest ? "largest" : "smallest", e.what());
    }
  }
  return s;
}

}  // namespace hwnas
