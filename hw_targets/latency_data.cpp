#include "hw_targets/latency_data.h"

#include <algorithm>
#include <cerrno>
#include <cmath>
#include <cstdlib>
#include <filesystem>
#include <fstream>
#include <unordered_set>

#include "ops/shape_ops.h"

namespace hwnas {

namespace fs = std::filesystem;

ArchEncoding::ArchEncoding(const SearchSpace& s) : space_(std::make_shared<const SearchSpace>(s)) {
  for (const Dimension& d : s.dims) {
    offsets_.push_back(width_);
    sizes_.push_back(d.size());
    width_ += d.size();
  }
  if (width_ == 0) fail("arch encoding: space {} has no searchable dimension", s.name);
}

std::vector<size_t> ArchEncoding::active(const Arch& a) const {
  std::vector<size_t> c = arch_choices(*space_, a);
  for (size_t d = 0; d < c.size(); ++d) c[d] += offsets_[d];
  return c;
}

std::vector<double> ArchEncoding::one_hot(const Arch& a) const {
  std::vector<double> v(width_, 0.0);
  for (size_t i : active(a)) v[i] = 1.0;
  return v;
}

Arch ArchEncoding::arch_from_active(const std::vector<size_t>& act) const {
  HWNAS_CHECK(act.size() == dims(), "arch encoding: {} active entries, expected {}", act.size(), dims());
  std::vector<size_t> c(act.size());
  for (size_t d = 0; d < act.size(); ++d) {
    HWNAS_CHECK(act[d] >= offsets_[d] && act[d] < offsets_[d] + sizes_[d],
                "arch encoding: entry {} is not a choice of dimension {}", act[d], d);
    c[d] = act[d] - offsets_[d];
  }
  return arch_from_choices(*space_, c);
}

std::string ArchEncoding::entry_name(size_t i) const {
  HWNAS_CHECK(i < width_, "arch encoding: entry {} out of range (width {})", i, width_);
  const size_t d = std::upper_bound(offsets_.begin(), offsets_.end(), i) - offsets_.begin() - 1;
  const Dimension& dim = space_->dims[d];
  const size_t c = i - offsets_[d];
  return fmt::format("{}[{}]={}", dim_name(dim.kind), dim.pos,
                     dim.kind == DimKind::ops ? dim.names[c] : std::to_string(dim.values[c]));
}

Variable ArchEncoding::flatten_soft(const Variable& probs) const {
  const Shape& sh = probs.shape();
  const bool uniform = std::all_of(sizes_.begin(), sizes_.end(), [&](size_t n) { return n == sizes_[0]; });
  if (sh.size() == 2 && sh[1] == int64_t(width_)) return probs;
  if (sh.size() == 2 && uniform && sh[0] == int64_t(dims()) && sh[1] == int64_t(sizes_[0]))
    return reshape(probs, {1, int64_t(width_)});
  if (sh.size() == 1 && sh[0] == int64_t(width_)) return reshape(probs, {1, int64_t(width_)});
  fail("{} soft encoding: got shape {}, expected {}[{}] or [B, {}]", space_->name, shape_str(sh),
       uniform ? fmt::format("[{}, {}], ", dims(), sizes_[0]) : std::string(), width_, width_);
}

Variable ArchEncoding::soft_from_weights(const std::vector<Variable>& per_dim) const {
  HWNAS_CHECK(per_dim.size() == dims(), "{} soft encoding: {} weight vectors, expected one per dimension ({})",
              space_->name, per_dim.size(), dims());
  std::vector<Variable> rows;
  for (size_t d = 0; d < dims(); ++d) {
    HWNAS_CHECK(per_dim[d].numel() == int64_t(sizes_[d]), "{} soft encoding: dimension {} has {} weights, expected {}",
                space_->name, d, per_dim[d].numel(), sizes_[d]);
    rows.push_back(reshape(per_dim[d], {1, int64_t(sizes_[d])}));
  }
  return concat(rows, 1);
}

namespace {

std::vector<std::string> split_cells(const std::string& line) {
  std::vector<std::string> out;
  size_t start = 0;
  while (true) {
    const size_t comma = line.find(',', start);
    std::string cell = line.substr(start, comma == std::string::npos ? std::string::npos : comma - start);
    const size_t a = cell.find_first_not_of(" \t\r"), b = cell.find_last_not_of(" \t\r");
    out.push_back(a == std::string::npos ? std::string() : cell.substr(a, b - a + 1));
    if (comma == std::string::npos) break;
    start = comma + 1;
  }
  return out;
}

int64_t parse_id(const std::string& cell, const std::string& file, size_t line) {
  char* end = nullptr;
  errno = 0;
  const long long v = std::strtoll(cell.c_str(), &end, 10);
  if (cell.empty() || *end != '\0' || errno != 0 || v < 0)
    fail("{}:{}: arch_id \"{}\" is not a non-negative integer", file, line, cell);
  return v;
}

bool blank(const std::string& line) { return line.find_first_not_of(" \t\r") == std::string::npos; }

}  // namespace

const Arch& ArchTable::at_id(int64_t id) const {
  auto it = row_of_id.find(id);
  if (it == row_of_id.end()) fail("{}: no arch_id {}", source, id);
  return archs[it->second];
}

ArchTable read_arch_table(const SearchSpace& s, const std::string& path) {
  if (s.dims.empty() || s.count(DimKind::ops) != s.dims.size())
    fail("{}: an arch table needs a space whose only dimensions are ops (one op per layer); {} is not", path, s.name);
  std::ifstream f(path);
  if (!f) fail("{}: cannot open the architecture table", path);
  ArchTable t;
  t.source = path;
  std::string line;
  size_t lineno = 0;
  bool header = true;
  const size_t cols = s.dims.size() + 1;
  while (std::getline(f, line)) {
    ++lineno;
    if (blank(line)) continue;
    auto cells = split_cells(line);
    if (header) {
      header = false;
      if (cells.size() != cols || cells[0] != "arch_id")
        fail("{}:{}: header must be arch_id and {} layer columns ({} columns), got {} columns starting \"{}\"", path,
             lineno, s.dims.size(), cols, cells.size(), cells[0]);
      continue;
    }
    if (cells.size() != cols) fail("{}:{}: {} columns, expected {} (arch_id + {} ops)", path, lineno, cells.size(), cols, s.dims.size());
    const int64_t id = parse_id(cells[0], path, lineno);
    Arch a;
    a.ops.assign(cells.begin() + 1, cells.end());
    for (size_t d = 0; d < s.dims.size(); ++d) {
      const auto& names = s.dims[d].names;
      if (std::find(names.begin(), names.end(), a.ops[d]) == names.end())
        fail("{}:{}: layer {} op \"{}\" is not one of {}", path, lineno, d, a.ops[d], fmt::join(names, ", "));
    }
    if (!t.row_of_id.emplace(id, t.ids.size()).second) fail("{}:{}: duplicate arch_id {}", path, lineno, id);
    t.ids.push_back(id);
    t.archs.push_back(std::move(a));
  }
  if (header) fail("{}: empty file, expected a header arch_id,layer0,...", path);
  if (t.ids.empty()) fail("{}: no architectures after the header", path);
  return t;
}

std::string default_archs_path(const std::string& latency_path) {
  return (fs::path(latency_path).parent_path() / "archs.csv").string();
}

LatencyData read_latency_csv(const SearchSpace& s, const std::string& path, const std::string& archs_path) {
  if (!fs::exists(path)) fail("{}: no such latency file", path);
  return read_latency_csv(path, read_arch_table(s, archs_path.empty() ? default_archs_path(path) : archs_path));
}

LatencyData read_latency_csv(const std::string& path, const ArchTable& archs) {
  std::ifstream f(path);
  if (!f) fail("{}: cannot open the latency file", path);
  LatencyData d;
  d.source = path;
  d.device = fs::path(path).stem().string();
  std::unordered_set<int64_t> seen;
  std::string line;
  size_t lineno = 0;
  bool header = true;
  while (std::getline(f, line)) {
    ++lineno;
    if (blank(line)) continue;
    auto cells = split_cells(line);
    if (header) {
      header = false;
      if (cells.size() != 2 || cells[0] != "arch_id" || cells[1] != "latency_ms")
        fail("{}:{}: header must be \"arch_id,latency_ms\", got \"{}\"", path, lineno, line);
      continue;
    }
    if (cells.size() != 2) fail("{}:{}: {} columns, expected 2 (arch_id,latency_ms)", path, lineno, cells.size());
    const int64_t id = parse_id(cells[0], path, lineno);
    auto it = archs.row_of_id.find(id);
    if (it == archs.row_of_id.end()) fail("{}:{}: arch_id {} is not in {}", path, lineno, id, archs.source);
    if (!seen.insert(id).second) fail("{}:{}: duplicate arch_id {}", path, lineno, id);
    char* end = nullptr;
    const double ms = std::strtod(cells[1].c_str(), &end);
    if (cells[1].empty() || *end != '\0' || !std::isfinite(ms) || ms <= 0)
      fail("{}:{}: latency_ms \"{}\" is not a positive number", path, lineno, cells[1]);
    d.ids.push_back(id);
    d.archs.push_back(archs.archs[it->second]);
    d.latency_ms.push_back(ms);
  }
  if (header) fail("{}: empty file, expected a header arch_id,latency_ms", path);
  if (d.ids.empty()) fail("{}: no latencies after the header", path);
  return d;
}

std::vector<std::string> latency_files_in(const std::string& dir) {
  if (!fs::is_directory(dir)) fail("{}: not a directory", dir);
  std::vector<std::string> out;
  for (const auto& e : fs::directory_iterator(dir))
    if (e.is_regular_file() && e.path().extension() == ".csv" && e.path().filename() != "archs.csv")
      out.push_back(e.path().string());
  std::sort(out.begin(), out.end());
  if (out.empty()) fail("{}: no latency files (*.csv besides archs.csv)", dir);
  return out;
}

}  // namespace hwnas
