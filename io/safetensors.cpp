#include "io/safetensors.h"

#include <algorithm>
#include <bit>
#include <cerrno>
#include <cstring>
#include <fstream>
#include <set>

#include "io/atomic_file.h"

namespace hwnas {

static_assert(std::endian::native == std::endian::little, "safetensors data is little-endian; we copy it as is");

namespace {

constexpr const char* kMetaKey = "__metadata__";

// Every dtype the format defines, so that a valid file with a dtype we do not hold gets a message
// saying so rather than "unknown dtype".
const std::set<std::string>& all_format_dtypes() {
  static const std::set<std::string> s = {"BOOL", "U8",  "I8",  "F8_E5M2", "F8_E4M3", "I16", "U16", "F16",
                                          "BF16", "I32", "U32", "F32", "F64",     "I64",     "U64"};
  return s;
}

bool dtype_from_format(const std::string& s, DType* out) {
  for (DType t : {DType::f32, DType::i64, DType::f16, DType::bf16})
    if (s == safetensors_dtype_name(t)) {
      *out = t;
      return true;
    }
  return false;
}

struct Prepared {
  std::string header;  // padded
  std::vector<std::pair<std::string, Tensor>> dense;  // in buffer order, row-major contiguous
  uint64_t data_bytes = 0;
};

Prepared prepare(const NamedTensors& tensors, const SafetensorsMetadata& metadata, const std::string& where) {
  std::set<std::string> names;
  std::vector<size_t> order(tensors.size());
  for (size_t i = 0; i < tensors.size(); ++i) {
    const auto& [name, t] = tensors[i];
    if (name.empty()) fail("safetensors {}: tensor {} has an empty name", where, i);
    if (name == kMetaKey) fail("safetensors {}: \"{}\" is reserved for the metadata, not a tensor name", where, kMetaKey);
    if (!names.insert(name).second) fail("safetensors {}: duplicate tensor name \"{}\"", where, name);
    if (!t.defined()) fail("safetensors {}: tensor \"{}\" is undefined", where, name);
    if (!t.device().is_cpu()) fail("safetensors {}: tensor \"{}\" is on {}, expected cpu", where, name, t.device().str());
    order[i] = i;
  }
  // Larger elements first (stable), so every tensor starts aligned to its element size.
  std::stable_sort(order.begin(), order.end(), [&](size_t a, size_t b) {
    return dtype_size(tensors[a].second.dtype()) > dtype_size(tensors[b].second.dtype());
  });
  Prepared p;
  nlohmann::ordered_json h = nlohmann::ordered_json::object();
  if (!metadata.empty()) {
    nlohmann::ordered_json m = nlohmann::ordered_json::object();
    for (const auto& [k, v] : metadata) m[k] = v;
    h[kMetaKey] = m;
  }
  for (size_t i : order) {
    const auto& [name, t] = tensors[i];
    Tensor c = t.is_contiguous() ? t : t.contiguous();  // logical (row-major) order
    const uint64_t nbytes = static_cast<uint64_t>(c.numel()) * dtype_size(c.dtype());
    h[name] = {{"dtype", safetensors_dtype_name(c.dtype())},
               {"shape", c.shape()},
               {"data_offsets", {p.data_bytes, p.data_bytes + nbytes}}};
    p.data_bytes += nbytes;
    p.dense.emplace_back(name, std::move(c));
  }
  try {
    p.header = h.dump();
  } catch (const nlohmann::json::exception& e) {  // invalid UTF-8 in a name or the metadata
    fail("safetensors {}: the header cannot be written as UTF-8 JSON: {}", where, e.what());
  }
  p.header.append((8 - p.header.size() % 8) % 8, ' ');
  return p;
}

}  // namespace

const char* safetensors_dtype_name(DType t) {
  switch (t) {
    case DType::f32: return "F32";
    case DType::i64: return "I64";
    case DType::f16: return "F16";
    case DType::bf16: return "BF16";
  }
  return "?";
}

const Tensor* SafetensorsFile::find(const std::string& name) const {
  for (const auto& [n, t] : tensors)
    if (n == name) return &t;
  return nullptr;
}

const Tensor& SafetensorsFile::at(const std::string& name) const {
  const Tensor* t = find(name);
  if (!t) fail("safetensors {}: no tensor named \"{}\"", path, name);
  return *t;
}

void save_safetensors(const std::string& path, const NamedTensors& tensors, const SafetensorsMetadata& metadata) {
  const Prepared p = prepare(tensors, metadata, path);  // everything checked before the temporary exists
  AtomicWriter w(path);
  const uint64_t n = p.header.size();
  w.write(&n, sizeof n);
  w.write(p.header);
  for (const auto& [name, t] : p.dense) {
    const size_t nbytes = static_cast<size_t>(t.numel()) * dtype_size(t.dtype());
    if (nbytes > 0) w.write(t.raw_data(), nbytes);
  }
  w.commit();
}

std::string safetensors_bytes(const NamedTensors& tensors, const SafetensorsMetadata& metadata, const std::string& source) {
  const Prepared p = prepare(tensors, metadata, source);
  std::string out;
  out.reserve(8 + p.header.size() + p.data_bytes);
  const uint64_t n = p.header.size();
  out.append(reinterpret_cast<const char*>(&n), sizeof n);
  out += p.header;
  for (const auto& [name, t] : p.dense)
    out.append(static_cast<const char*>(t.raw_data()), static_cast<size_t>(t.numel()) * dtype_size(t.dtype()));
  return out;
}

SafetensorsFile load_safetensors(const std::string& path) {
  std::ifstream f(path, std::ios::binary | std::ios::ate);
  if (!f) fail("safetensors {}: cannot open: {}", path, std::strerror(errno));
  const std::streamoff size = f.tellg();
  if (size < 0) fail("safetensors {}: cannot tell its size", path);
  std::string bytes(static_cast<size_t>(size), '\0');
  f.seekg(0);
  if (!f.read(bytes.data(), size)) fail("safetensors {}: read error", path);
  return parse_safetensors(bytes, path);
}

SafetensorsFile parse_safetensors(std::string_view bytes, const std::string& source) {
  const std::string& src = source;
  const uint64_t size = bytes.size();
  if (size < 8) fail("safetensors {}: truncated: {} bytes, shorter than the 8-byte header length", src, size);
  uint64_t n = 0;
  std::memcpy(&n, bytes.data(), 8);
  if (n > kSafetensorsMaxHeader)
    fail("safetensors {}: header length {} is over the format's limit of {} bytes (corrupt or not a safetensors file)",
         src, n, kSafetensorsMaxHeader);
  if (n > size - 8)
    fail("safetensors {}: truncated: the header length says {} bytes but only {} follow the length field", src, n,
         size - 8);
  if (n < 2 || bytes[8] != '{') fail("safetensors {}: the header must be a JSON object starting with '{{'", src);
  const std::string_view header = bytes.substr(8, n);

  // Duplicate names would silently keep the last one in nlohmann::json; catch them while parsing.
  std::string duplicate;
  std::set<std::string> seen;
  nlohmann::json h;
  try {
    h = nlohmann::json::parse(header, [&](int depth, nlohmann::json::parse_event_t ev, nlohmann::json& v) {
      if (ev == nlohmann::json::parse_event_t::key && depth == 1 && v.is_string() &&
          !seen.insert(v.get<std::string>()).second && duplicate.empty())
        duplicate = v.get<std::string>();
      return true;
    });
  } catch (const nlohmann::json::exception& e) {
    fail("safetensors {}: the header is not valid UTF-8 JSON: {}", src, e.what());
  }
  if (!duplicate.empty()) fail("safetensors {}: the header names \"{}\" twice", src, duplicate);
  if (!h.is_object()) fail("safetensors {}: the header must be a JSON object", src);

  SafetensorsFile out;
  out.path = src;
  const uint64_t data_start = 8 + n, data_size = size - data_start;
  struct Entry {
    std::string name;
    DType dtype;
    Shape shape;
    uint64_t begin, end;
  };
  std::vector<Entry> entries;
  for (const auto& [name, v] : h.items()) {
    if (name == kMetaKey) {
      if (!v.is_object()) fail("safetensors {}: \"{}\" must be an object of strings", src, kMetaKey);
      for (const auto& [k, mv] : v.items()) {
        if (!mv.is_string())
          fail("safetensors {}: metadata \"{}\" must be a string, got {}", src, k, mv.dump());
        out.metadata[k] = mv.get<std::string>();
      }
      continue;
    }
    auto bad = [&](const std::string& what) { fail("safetensors {}: tensor \"{}\": {}", src, name, what); };
    if (!v.is_object()) bad("its entry must be an object {\"dtype\", \"shape\", \"data_offsets\"}");
    for (const auto& [k, unused] : v.items())
      if (k != "dtype" && k != "shape" && k != "data_offsets") bad(fmt::format("unknown key \"{}\"", k));
    if (!v.contains("dtype") || !v["dtype"].is_string()) bad("needs a string \"dtype\"");
    if (!v.contains("shape") || !v["shape"].is_array()) bad("needs a \"shape\" array");
    if (!v.contains("data_offsets") || !v["data_offsets"].is_array() || v["data_offsets"].size() != 2)
      bad("needs \"data_offsets\" [BEGIN, END]");
    Entry e{name, DType::f32, {}, 0, 0};
    const std::string dt = v["dtype"].get<std::string>();
    if (!dtype_from_format(dt, &e.dtype)) {
      if (all_format_dtypes().count(dt))
        bad(fmt::format("dtype {} is valid safetensors, but hwnas tensors hold only F32, I64, F16 and BF16", dt));
      bad(fmt::format("unknown dtype \"{}\"", dt));
    }
    uint64_t count = 1;
    for (const auto& d : v["shape"]) {
      if (!d.is_number_unsigned()) bad(fmt::format("shape {} must hold non-negative integers", v["shape"].dump()));
      const uint64_t dim = d.get<uint64_t>();
      if (dim > static_cast<uint64_t>(INT64_MAX) || __builtin_mul_overflow(count, dim, &count))
        bad(fmt::format("shape {} is too large", v["shape"].dump()));
      e.shape.push_back(static_cast<int64_t>(dim));
    }
    for (const auto& o : v["data_offsets"])
      if (!o.is_number_unsigned()) bad(fmt::format("data_offsets {} must be non-negative integers", v["data_offsets"].dump()));
    e.begin = v["data_offsets"][0].get<uint64_t>();
    e.end = v["data_offsets"][1].get<uint64_t>();
    if (e.begin > e.end) bad(fmt::format("data_offsets [{}, {}] end before they begin", e.begin, e.end));
    uint64_t nbytes = 0;
    if (__builtin_mul_overflow(count, static_cast<uint64_t>(dtype_size(e.dtype)), &nbytes))
      bad(fmt::format("shape {} is too large", v["shape"].dump()));
    if (e.end - e.begin != nbytes)
      bad(fmt::format("data_offsets [{}, {}] span {} bytes, but {} {} needs {}", e.begin, e.end, e.end - e.begin, dt,
                      v["shape"].dump(), nbytes));
    if (e.end > data_size)
      bad(fmt::format("truncated: data_offsets [{}, {}] reach past the {} bytes of data in the file", e.begin, e.end,
                      data_size));
    entries.push_back(std::move(e));
  }
  // Sorted by position, the tensors must tile the buffer exactly: no overlap, no hole, no tail.
  std::stable_sort(entries.begin(), entries.end(), [](const Entry& a, const Entry& b) {
    return a.begin != b.begin ? a.begin < b.begin : a.end < b.end;
  });
  uint64_t at = 0;
  const Entry* prev = nullptr;
  for (const Entry& e : entries) {
    if (e.begin < at)
      fail("safetensors {}: tensors \"{}\" and \"{}\" overlap (bytes [{}, {}) of the data)", src, prev->name, e.name,
           e.begin, at);
    if (e.begin > at)
      fail("safetensors {}: bytes [{}, {}) of the data belong to no tensor (the format allows no holes)", src, at,
           e.begin);
    at = e.end;
    prev = &e;
  }
  if (at != data_size)
    fail("safetensors {}: {} bytes after the last tensor's data belong to no tensor (trailing garbage?)", src,
         data_size - at);

  for (const Entry& e : entries) {
    Tensor t = Tensor::empty(e.shape, e.dtype);
    if (e.end > e.begin) std::memcpy(t.raw_data(), bytes.data() + data_start + e.begin, e.end - e.begin);
    out.tensors.emplace_back(e.name, std::move(t));
  }
  return out;
}

}  // namespace hwnas
