#include "hw_targets/latency_predictor.h"

#include <algorithm>
#include <fstream>
#include <numeric>

#include "hw_targets/predictor_additive.h"
#include "hw_targets/predictor_mlp.h"
#include "io/atomic_file.h"
#include "nas/builtin_spaces.h"
#include "tensor/rng.h"

namespace hwnas {

using nlohmann::json;

namespace {
constexpr const char* kFormat = "hwnas-latency-predictor";
}

std::vector<double> LatencyPredictor::predict(const std::vector<Arch>& archs) const {
  std::vector<double> out;
  out.reserve(archs.size());
  for (const Arch& a : archs) out.push_back(predict(a));
  return out;
}

std::vector<int64_t> PredictorFile::fit_ids() const {
  std::vector<int64_t> ids;
  if (fit.contains("arch_ids"))
    for (const auto& v : fit.at("arch_ids")) ids.push_back(v.get<int64_t>());
  return ids;
}

json predictor_to_json(const LatencyPredictor& p, const json& fit) {
  // Built-in spaces are recorded by name; a space from a file travels as its spec so the
  // predictor file stands on its own.
  const std::string& name = p.space().name;
  const bool builtin = std::find(builtin_space_names().begin(), builtin_space_names().end(), name) !=
                       builtin_space_names().end();
  return {{"format", kFormat}, {"kind", p.kind()}, {"space", builtin ? json(name) : p.space().spec},
          {"fit", fit},        {"model", p.model_json()}};
}

PredictorFile predictor_from_json(const json& j, const std::string& source) {
  if (!j.is_object() || j.value("format", "") != kFormat)
    fail("{}: not a latency predictor file (expected \"format\": \"{}\")", source, kFormat);
  for (const char* key : {"kind", "space", "model"})
    if (!j.contains(key)) fail("{}: missing key \"{}\"", source, key);
  const std::string kind = j.at("kind").is_string() ? j.at("kind").get<std::string>() : "";
  const SearchSpace space = j.at("space").is_string() ? load_space(j.at("space").get<std::string>())
                                                      : parse_space(j.at("space"), source);
  PredictorFile f;
  f.fit = j.value("fit", json::object());
  if (f.fit.contains("arch_ids")) {
    if (!f.fit.at("arch_ids").is_array()) fail("{}: fit.arch_ids must be an array of integers", source);
    for (const auto& v : f.fit.at("arch_ids"))
      if (!v.is_number_integer()) fail("{}: fit.arch_ids holds {}, expected integers", source, v.dump());
  }
  if (kind == "additive" || kind == "transfer")
    f.model = AdditivePredictor::from_json(space, j.at("model"), kind, source);
  else if (kind == "mlp")
    f.model = MlpPredictor::from_json(space, j.at("model"), source);
  else
    fail("{}: unknown predictor kind {} (expected additive, mlp or transfer)", source, j.at("kind").dump());
  return f;
}

void save_predictor(const std::string& path, const LatencyPredictor& p, const json& fit) {
  write_file_atomic(path, predictor_to_json(p, fit).dump(1) + "\n");
}

PredictorFile load_predictor(const std::string& path) {
  std::ifstream f(path);
  if (!f) fail("{}: cannot open the predictor file", path);
  json j;
  try {
    j = json::parse(f);
  } catch (const json::exception& e) {
    fail("{}: invalid JSON: {}", path, e.what());
  }
  return predictor_from_json(j, path);
}

FitSet fit_set(const LatencyData& d, const std::vector<size_t>& rows) {
  FitSet s;
  for (size_t r : rows) {
    HWNAS_CHECK(r < d.size(), "fit set: row {} out of range ({} rows in {})", r, d.size(), d.source);
    s.archs.push_back(d.archs[r]);
    s.latency_ms.push_back(d.latency_ms[r]);
    s.ids.push_back(d.ids[r]);
  }
  return s;
}

std::vector<size_t> sample_rows(size_t total, size_t n, uint64_t seed, std::vector<size_t>* rest) {
  HWNAS_CHECK(n <= total, "sampling {} architectures from a data set of {}", n, total);
  std::vector<size_t> perm(total);
  std::iota(perm.begin(), perm.end(), 0);
  Generator gen(seed);
  for (size_t i = 0; i < n; ++i) std::swap(perm[i], perm[i + gen.below(total - i)]);
  std::vector<size_t> picked(perm.begin(), perm.begin() + n);
  if (rest) {
    std::vector<char> used(total, 0);
    for (size_t r : picked) used[r] = 1;
    rest->clear();
    for (size_t r = 0; r < total; ++r)
      if (!used[r]) rest->push_back(r);
  }
  return picked;
}

}  // namespace hwnas
