#include "nas/dnas_latency.h"

#include <algorithm>
#include <cmath>
#include <filesystem>
#include <fstream>

#include "hw_targets/layer_profile.h"
#include "hw_targets/latency_predictor.h"
#include "hw_targets/lut_build.h"
#include "io/atomic_file.h"
#include "ops/activation.h"
#include "ops/elementwise.h"
#include "ops/matmul.h"
#include "ops/reduce.h"
#include "ops/shape_ops.h"
#include "ops/softmax.h"
#include "tensor/error.h"

namespace hwnas {

using nlohmann::json;

namespace {

constexpr const char* kFormat = "hwnas-dnas-latency";

// One additive part of a choice-table model: a table over the joint choices of `dims`
// (row-major, first dim outermost), counted when the block is kept (keep_dim < 0: always;
// else the depth dimension keep_dim keeps it when its value > keep_index).
struct Term {
  std::vector<size_t> dims;
  std::vector<double> ms;
  int64_t keep_dim = -1, keep_index = 0;
};

// The depth dimension of `block`'s stage (-1 when the stage's depth is fixed).
int64_t depth_dim_of(const SearchSpace& s, size_t block) {
  for (size_t i = 0; i < s.dims.size(); ++i)
    if (s.dims[i].kind == DimKind::depth && s.dims[i].stage == s.blocks[block].stage) return int64_t(i);
  return -1;
}

std::vector<size_t> block_dims(const SearchSpace& s, size_t block) {
  std::vector<size_t> d;
  for (size_t i = 0; i < s.dims.size(); ++i)
    if (s.dims[i].kind != DimKind::depth && s.dims[i].block == block) d.push_back(i);
  return d;
}

class ChoiceTableModel : public DnasLatencyModel {
 public:
  ChoiceTableModel(const SearchSpace& s, std::string source, double base, std::vector<Term> terms, json describe)
      : DnasLatencyModel(s, std::move(describe)), source_(std::move(source)), base_(base), terms_(std::move(terms)) {
    for (const Term& t : terms_) {
      size_t n = 1;
      for (size_t d : t.dims) n *= s.dims.at(d).size();
      HWNAS_CHECK(n == t.ms.size(), "dnas latency: a term over {} joint choices has {} entries", n, t.ms.size());
      if (t.keep_dim >= 0)
        HWNAS_CHECK(size_t(t.keep_dim) < s.dims.size() && s.dims[size_t(t.keep_dim)].kind == DimKind::depth,
                    "dnas latency: keep dimension {} is not a depth dimension", t.keep_dim);
    }
  }
  std::string source() const override { return source_; }

  Variable expected_ms(const std::vector<Variable>& probs) const override {
    HWNAS_CHECK(probs.size() == space_.dims.size(), "dnas latency: {} probability vectors for {} dimensions",
                probs.size(), space_.dims.size());
    Variable total;
    for (const Term& t : terms_) {
      // Contract the table with each factor's probabilities: [1, n_j] x [n_j, rest] -> [1, rest].
      std::vector<float> v(t.ms.begin(), t.ms.end());
      int64_t rest = int64_t(v.size());
      Variable cur(Tensor::from_vector(v, {rest}));
      for (size_t d : t.dims) {
        const int64_t n = int64_t(space_.dims[d].size());
        rest /= n;
        cur = matmul(reshape(probs[d], {1, n}), reshape(cur, {n, rest}));
      }
      cur = sum(cur);
      if (t.keep_dim >= 0) {
        const Dimension& dd = space_.dims[size_t(t.keep_dim)];
        std::vector<float> mask;
        for (int64_t val : dd.values) mask.push_back(val > t.keep_index ? 1.f : 0.f);
        const Variable m(Tensor::from_vector(mask, {int64_t(mask.size())}));
        cur = mul(cur, sum(mul(probs[size_t(t.keep_dim)], m)));
      }
      total = total.defined() ? add(total, cur) : cur;
    }
    if (!total.defined()) total = Variable(Tensor::scalar(0.f));
    return add_scalar(total, float(base_));
  }

  double latency_ms(const Arch& a) const override {
    const std::vector<size_t> c = arch_choices(space_, a);
    double ms = base_;
    for (const Term& t : terms_) {
      if (t.keep_dim >= 0 && space_.dims[size_t(t.keep_dim)].values[c[size_t(t.keep_dim)]] <= t.keep_index) continue;
      size_t idx = 0;
      for (size_t d : t.dims) idx = idx * space_.dims[d].size() + c[d];
      ms += t.ms[idx];
    }
    return ms;
  }

  json to_json() const override {
    json terms = json::array();
    for (const Term& t : terms_)
      terms.push_back({{"dims", t.dims}, {"ms", t.ms}, {"keep_dim", t.keep_dim}, {"keep_index", t.keep_index}});
    return {{"format", kFormat}, {"source", source_}, {"space", space_.name}, {"describe", describe_},
            {"base_ms", base_}, {"terms", terms}};
  }

 private:
  std::string source_;
  double base_;
  std::vector<Term> terms_;
};

class PredictorModel : public DnasLatencyModel {
 public:
  PredictorModel(const SearchSpace& s, std::shared_ptr<const LatencyPredictor> p, json describe)
      : DnasLatencyModel(s, std::move(describe)), p_(std::move(p)) {
    const ArchEncoding& e = p_->encoding();
    bool ok = p_->space().name == s.name && e.dims() == s.dims.size();
    for (size_t i = 0; ok && i < s.dims.size(); ++i) ok = e.choices(i) == s.dims[i].size();
    if (!ok)
      fail("dnas latency: the predictor is for space \"{}\" ({} dimensions), not {} ({} dimensions)", p_->space().name,
           e.dims(), s.name, s.dims.size());
  }
  std::string source() const override { return "predictor"; }
  Variable expected_ms(const std::vector<Variable>& probs) const override {
    return sum(p_->predict_soft(p_->encoding().soft_from_weights(probs)));
  }
  double latency_ms(const Arch& a) const override { return p_->predict(a); }
  json to_json() const override {
    return {{"format", kFormat}, {"source", "predictor"}, {"space", space_.name}, {"describe", describe_},
            {"predictor", predictor_to_json(*p_, json::object())}};
  }

 private:
  std::shared_ptr<const LatencyPredictor> p_;
};

std::vector<size_t> unflatten(size_t idx, const std::vector<size_t>& sizes) {
  std::vector<size_t> c(sizes.size());
  for (size_t j = sizes.size(); j-- > 0;) {
    c[j] = idx % sizes[j];
    idx /= sizes[j];
  }
  return c;
}

// The table of a `lut` target, from its config (a "table" file, inline entries, or the file it
// was read from).
LatencyTable table_of_lut_target(const Target& t) {
  const json c = t.config();
  if (c.contains("entries")) return latency_table_from_json(c, t.name());
  if (c.contains("table") && c.at("table").is_string()) {
    std::filesystem::path p = c.at("table").get<std::string>();
    if (p.is_relative() && c.contains("source") && c.at("source").is_string()) {
      const auto dir = std::filesystem::path(c.at("source").get<std::string>()).parent_path();
      if (!dir.empty() && !std::filesystem::exists(p)) p = dir / p;
    }
    return load_latency_table(p.string());
  }
  if (c.contains("source") && c.at("source").is_string()) {
    const std::string f = c.at("source").get<std::string>();
    std::ifstream in(f);
    if (!in) fail("dnas latency: cannot read the lookup table of target {} from {}", t.name(), f);
    return latency_table_from_json(json::parse(in), f);
  }
  fail("dnas latency: cannot find the table of lookup-table target {} (config {})", t.name(), c.dump());
}

}  // namespace

double DnasLatencyModel::norm_ms() const { return latency_ms(max_arch(space_)); }

const std::vector<std::string>& dnas_latency_sources() {
  static const std::vector<std::string> n = {"lut", "swap", "predictor"};
  return n;
}

DnasLatencyPtr dnas_latency_from_table(const SearchSpace& s, const LatencyTable& t, json describe) {
  const Arch ref = max_arch(s);  // every block kept, so block b is layer n_stem + b
  const std::vector<size_t> ref_c = arch_choices(s, ref);
  auto lookup = [&](const LayerWork& w) {
    auto it = t.entries.find(w.key);
    if (it != t.entries.end()) return it->second;
    if (w.type == "identity" || w.type == "flatten" || w.type == "dropout") return 0.0;
    fail("dnas latency: lookup table {} has no entry for layer \"{}\"; build it for space {}", t.name, w.key, s.name);
  };
  const std::vector<LayerWork> ref_layers = layer_profile(arch_network(s, ref));
  if (ref_layers.size() < s.blocks.size())
    fail("dnas latency: the max subnet of {} has fewer layers than blocks", s.name);
  const size_t n_head = s.head.is_array() ? s.head.size() : 1;
  HWNAS_CHECK(ref_layers.size() >= s.blocks.size() + n_head, "dnas latency: unexpected layer count in {}", s.name);
  const size_t n_stem = ref_layers.size() - s.blocks.size() - n_head;
  double base = t.overhead_ms;
  for (size_t i = 0; i < ref_layers.size(); ++i)
    if (i < n_stem || i >= n_stem + s.blocks.size()) base += lookup(ref_layers[i]);
  std::vector<Term> terms;
  for (size_t b = 0; b < s.blocks.size(); ++b) {
    Term term;
    term.dims = block_dims(s, b);
    term.keep_dim = depth_dim_of(s, b);
    term.keep_index = int64_t(s.blocks[b].index_in_stage);
    std::vector<size_t> sizes;
    size_t n = 1;
    for (size_t d : term.dims) {
      sizes.push_back(s.dims[d].size());
      n *= s.dims[d].size();
    }
    for (size_t idx = 0; idx < n; ++idx) {
      std::vector<size_t> c = ref_c;
      const std::vector<size_t> own = unflatten(idx, sizes);
      for (size_t j = 0; j < own.size(); ++j) c[term.dims[j]] = own[j];
      const std::vector<LayerWork> layers = layer_profile(arch_network(s, arch_from_choices(s, c)));
      term.ms.push_back(lookup(layers.at(n_stem + b)));
    }
    terms.push_back(std::move(term));
  }
  if (describe.is_null()) describe = json{{"source", "lut"}, {"table", t.name}};
  auto m = std::make_shared<ChoiceTableModel>(s, "lut", base, std::move(terms), std::move(describe));
  // The decomposition is exact only when no layer's input shape depends on other blocks'
  // choices: check it on the min arch and seeded random archs against the table itself.
  std::vector<Arch> check = {min_arch(s)};
  Generator gen(12345);
  for (int i = 0; i < 24; ++i) check.push_back(sample_arch(s, gen));
  for (const Arch& a : check) {
    const double want = table_cost(t, arch_network(s, a), t.name).latency_ms, got = m->latency_ms(a);
    if (std::abs(want - got) > 1e-6 * (1 + std::abs(want)))
      fail("dnas latency: space {} does not decompose per block (a layer's input depends on other blocks' "
           "choices): table gives {} ms for {}, the per-block model {} ms; use --latency-source swap or predictor",
           s.name, want, arch_to_json(s, a).dump(), got);
  }
  return m;
}

DnasLatencyPtr dnas_latency_from_swaps(const SearchSpace& s, Target& target, json describe) {
  const Arch ref = max_arch(s);
  const std::vector<size_t> ref_c = arch_choices(s, ref);
  std::vector<NetworkSpec> nets = {arch_network(s, ref)};
  std::vector<std::pair<size_t, size_t>> which;  // (dim, choice) of nets[1 + i]
  for (size_t d = 0; d < s.dims.size(); ++d)
    for (size_t c = 0; c < s.dims[d].size(); ++c) {
      if (c == ref_c[d]) continue;
      std::vector<size_t> ch = ref_c;
      ch[d] = c;
      nets.push_back(arch_network(s, arch_from_choices(s, ch)));
      which.emplace_back(d, c);
    }
  const std::vector<CostResult> r = target.cost_many(nets);
  HWNAS_CHECK(r.size() == nets.size(), "dnas latency: target {} returned {} costs for {} subnets", target.name(),
              r.size(), nets.size());
  const double base = r[0].latency_ms;
  std::vector<Term> terms;
  for (size_t d = 0; d < s.dims.size(); ++d) {
    Term t;
    t.dims = {d};
    t.ms.assign(s.dims[d].size(), 0.0);
    if (s.dims[d].kind != DimKind::depth) {
      t.keep_dim = depth_dim_of(s, s.dims[d].block);
      t.keep_index = int64_t(s.blocks[s.dims[d].block].index_in_stage);
    }
    terms.push_back(std::move(t));
  }
  for (size_t i = 0; i < which.size(); ++i) terms[which[i].first].ms[which[i].second] = r[1 + i].latency_ms - base;
  if (describe.is_null()) describe = json{{"source", "swap"}, {"target", target.config()}};
  return std::make_shared<ChoiceTableModel>(s, "swap", base, std::move(terms), std::move(describe));
}

DnasLatencyPtr dnas_latency_from_predictor(const SearchSpace& s, std::shared_ptr<const LatencyPredictor> p,
                                           json describe) {
  if (describe.is_null()) describe = json{{"source", "predictor"}, {"kind", p->kind()}};
  return std::make_shared<PredictorModel>(s, std::move(p), std::move(describe));
}

DnasLatencyPtr make_dnas_latency(const SearchSpace& s, const std::string& source, Target& target, bool progress) {
  const json describe = {{"source", source}, {"target", target.config()}};
  if (source == "lut") {
    if (target.kind() == "lut") return dnas_latency_from_table(s, table_of_lut_target(target), describe);
    LutBuildOptions o;
    o.progress = progress;
    return dnas_latency_from_table(s, build_latency_table(target, s, o), describe);
  }
  if (source == "swap") return dnas_latency_from_swaps(s, target, describe);
  if (source == "predictor")
    fail("dnas latency: source predictor needs a predictor file, not a hardware target ({})", target.name());
  fail("dnas latency: unknown source \"{}\" (known: lut, swap, predictor)", source);
}

DnasLatencyPtr make_dnas_latency(const SearchSpace& s, const std::string& source, const std::string& target,
                                 bool progress) {
  if (source == "predictor") {
    if (target.empty()) fail("dnas latency: source predictor needs a predictor file (--latency-target FILE)");
    PredictorFile f = load_predictor(target);
    return dnas_latency_from_predictor(s, std::shared_ptr<const LatencyPredictor>(std::move(f.model)),
                                       json{{"source", "predictor"}, {"file", target}});
  }
  if (target.empty()) fail("dnas latency: source {} needs a hardware target (--latency-target NAME or FILE)", source);
  TargetPtr t = make_target(target);
  return make_dnas_latency(s, source, *t, progress);
}

DnasLatencyPtr dnas_latency_from_json(const SearchSpace& s, const json& j, const std::string& where) {
  if (!j.is_object() || j.value("format", "") != kFormat) fail("{}: not a DNAS latency model (format {})", where, kFormat);
  if (j.value("space", "") != s.name) fail("{}: model of space \"{}\", not {}", where, j.value("space", ""), s.name);
  const std::string src = j.value("source", "");
  const json describe = j.value("describe", json());
  if (src == "predictor") {
    PredictorFile f = predictor_from_json(j.at("predictor"), where);
    return dnas_latency_from_predictor(s, std::shared_ptr<const LatencyPredictor>(std::move(f.model)), describe);
  }
  if (src != "lut" && src != "swap") fail("{}: unknown source \"{}\"", where, src);
  std::vector<Term> terms;
  for (const json& t : j.at("terms")) {
    Term x;
    x.dims = t.at("dims").get<std::vector<size_t>>();
    x.ms = t.at("ms").get<std::vector<double>>();
    x.keep_dim = t.at("keep_dim").get<int64_t>();
    x.keep_index = t.at("keep_index").get<int64_t>();
    for (size_t d : x.dims) HWNAS_CHECK(d < s.dims.size(), "{}: dimension {} out of range", where, d);
    terms.push_back(std::move(x));
  }
  return std::make_shared<ChoiceTableModel>(s, src, j.at("base_ms").get<double>(), std::move(terms), describe);
}

DnasLatencyPtr load_or_build_dnas_latency(const SearchSpace& s, const std::string& path, const json& describe,
                                          const std::function<DnasLatencyPtr()>& build) {
  namespace fs = std::filesystem;
  if (!path.empty() && fs::exists(path)) {
    std::ifstream in(path);
    json j;
    try {
      j = json::parse(in);
    } catch (const json::exception&) {
      j = json();  // a torn file: rebuild
    }
    if (j.is_object() && j.value("describe", json()) == describe) return dnas_latency_from_json(s, j, path);
  }
  DnasLatencyPtr m = build();
  if (!path.empty()) {
    if (fs::path(path).has_parent_path()) fs::create_directories(fs::path(path).parent_path());
    write_file_atomic(path, m->to_json().dump(1) + "\n");
  }
  return m;
}

Variable dnas_latency_loss(const DnasLatencyModel& m, const std::vector<Variable>& probs, float coef, float budget_ms) {
  Variable e = m.expected_ms(probs);
  if (budget_ms > 0.f) e = relu(add_scalar(e, -budget_ms));
  return mul_scalar(e, float(coef / m.norm_ms()));
}

double logits_entropy(const std::vector<Variable>& logits) {
  if (logits.empty()) return 0;
  double h = 0;
  for (const Variable& l : logits) {
    const std::vector<float> p = softmax(l.detach(), 0).data().to_vector();
    for (float q : p)
      if (q > 0) h -= double(q) * std::log(double(q));
  }
  return h / double(logits.size());
}

double expected_latency_ms(const DnasLatencyModel& m, const std::vector<Variable>& logits) {
  NoGradGuard ng;
  std::vector<Variable> p;
  for (const Variable& l : logits) p.push_back(softmax(l.detach(), 0));
  return m.expected_ms(p).item();
}

}  // namespace hwnas
