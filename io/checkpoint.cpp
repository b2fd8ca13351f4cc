#include "io/checkpoint.h"

#include <bit>
#include <cstdio>
#include <cstring>
#include <filesystem>
#include <memory>
#include <set>

#include "io/atomic_file.h"

namespace hwnas {

static_assert(std::endian::native == std::endian::little, "checkpoints store little-endian data as is");

namespace {

constexpr char kMagic[8] = {'H', 'W', 'N', 'A', 'S', 'C', 'K', 'P'};
constexpr uint64_t kPrefix = 8 + 4 + 8;
constexpr uint64_t kAlign = 64;

uint64_t align_up(uint64_t x) { return (x + kAlign - 1) / kAlign * kAlign; }

DType dtype_from_name(const std::string& s, const std::string& path, const std::string& tensor) {
  for (DType t : {DType::f32, DType::i64, DType::bf16, DType::f16})
    if (s == dtype_name(t)) return t;
  fail("load_checkpoint: {}: tensor '{}' has unknown dtype '{}'", path, tensor, s);
}

struct FileCloser {
  void operator()(FILE* f) const { std::fclose(f); }
};

}  // namespace

const Tensor* Checkpoint::find(const std::string& name) const {
  for (const auto& [n, t] : tensors)
    if (n == name) return &t;
  return nullptr;
}

const Tensor& Checkpoint::at(const std::string& name) const {
  const Tensor* t = find(name);
  if (!t) fail("checkpoint {}: no tensor named '{}'", path, name);
  return *t;
}

void save_checkpoint(const std::string& path, const NamedTensors& tensors, const nlohmann::json& metadata) {
  // Everything is checked and the header built before the temporary is created.
  nlohmann::json entries = nlohmann::json::array();
  std::vector<Tensor> dense;
  std::set<std::string> names;
  uint64_t offset = 0;
  for (const auto& [name, t] : tensors) {
    if (name.empty()) fail("save_checkpoint {}: empty tensor name", path);
    if (!names.insert(name).second) fail("save_checkpoint {}: duplicate tensor name '{}'", path, name);
    if (!t.defined()) fail("save_checkpoint {}: tensor '{}' is undefined", path, name);
    Tensor c = t.cpu().contiguous();  // GPU tensors are saved from a host copy
    const uint64_t nbytes = static_cast<uint64_t>(c.numel()) * dtype_size(c.dtype());
    entries.push_back({{"name", name}, {"dtype", dtype_name(c.dtype())}, {"shape", c.shape()},
                       {"offset", offset}, {"nbytes", nbytes}});
    offset = align_up(offset + nbytes);
    dense.push_back(std::move(c));
  }
  std::string header = nlohmann::json{{"metadata", metadata}, {"tensors", entries}}.dump();
  header.append(align_up(kPrefix + header.size()) - kPrefix - header.size(), ' ');

  AtomicWriter w(path);
  const uint32_t version = kCheckpointVersion;
  const uint64_t hlen = header.size();
  w.write(kMagic, sizeof kMagic);
  w.write(&version, sizeof version);
  w.write(&hlen, sizeof hlen);
  w.write(header);
  const uint64_t data_start = w.bytes_written();
  for (size_t i = 0; i < dense.size(); ++i) {
    const uint64_t off = entries[i]["offset"].get<uint64_t>(), nbytes = entries[i]["nbytes"].get<uint64_t>();
    w.write_zeros(data_start + off - w.bytes_written());
    if (nbytes > 0) w.write(dense[i].raw_data(), nbytes);
  }
  w.write_zeros(data_start + offset - w.bytes_written());
  w.commit();
}

Checkpoint load_checkpoint(const std::string& path) {
  std::unique_ptr<FILE, FileCloser> f(std::fopen(path.c_str(), "rb"));
  if (!f) fail("load_checkpoint: cannot open {}: {}", path, std::strerror(errno));
  std::error_code ec;
  const uint64_t size = std::filesystem::file_size(path, ec);
  if (ec) fail("load_checkpoint: cannot stat {}: {}", path, ec.message());
  if (size < kPrefix)
    fail("load_checkpoint: {}: truncated: {} bytes, expected at least {} for the file prefix", path, size, kPrefix);

  char magic[8];
  uint32_t version = 0;
  uint64_t hlen = 0;
  if (std::fread(magic, 1, 8, f.get()) != 8 || std::fread(&version, 4, 1, f.get()) != 1 ||
      std::fread(&hlen, 8, 1, f.get()) != 1)
    fail("load_checkpoint: {}: read error in the file prefix", path);
  if (std::memcmp(magic, kMagic, 8) != 0) fail("load_checkpoint: {}: not an hwnas checkpoint (bad magic)", path);
  if (version > kCheckpointVersion)
    fail("load_checkpoint: {}: format version {} is newer than this build supports (version {}); upgrade hwnas",
         path, version, kCheckpointVersion);
  if (version == 0) fail("load_checkpoint: {}: invalid format version 0", path);
  if (hlen > size - kPrefix)
    fail("load_checkpoint: {}: truncated: header of {} bytes needs {} bytes, file has {}", path, hlen,
         kPrefix + hlen, size);

  std::string header(hlen, '\0');
  if (std::fread(header.data(), 1, hlen, f.get()) != hlen) fail("load_checkpoint: {}: read error in the header", path);
  Checkpoint ck;
  ck.path = path;
  nlohmann::json h;
  try {
    h = nlohmann::json::parse(header);
  } catch (const nlohmann::json::exception& e) {
    fail("load_checkpoint: {}: corrupt JSON header: {}", path, e.what());
  }
  const uint64_t data_start = kPrefix + hlen;
  try {
    if (!h.is_object() || !h.contains("tensors") || !h["tensors"].is_array())
      fail("load_checkpoint: {}: header has no 'tensors' array", path);
    if (h.contains("metadata")) ck.metadata = h["metadata"];
    for (const auto& e : h["tensors"]) {
      const std::string name = e.at("name").get<std::string>();
      const DType dt = dtype_from_name(e.at("dtype").get<std::string>(), path, name);
      const Shape shape = e.at("shape").get<Shape>();
      for (auto d : shape)
        if (d < 0) fail("load_checkpoint: {}: tensor '{}' has a negative dimension in {}", path, name, shape_str(shape));
      const uint64_t offset = e.at("offset").get<uint64_t>(), nbytes = e.at("nbytes").get<uint64_t>();
      if (nbytes != static_cast<uint64_t>(shape_numel(shape)) * dtype_size(dt))
        fail("load_checkpoint: {}: tensor '{}' {}{} declares {} bytes, expected {}", path, name, dtype_name(dt),
             shape_str(shape), nbytes, shape_numel(shape) * dtype_size(dt));
      if (offset > size || nbytes > size || data_start + offset + nbytes > size)
        fail("load_checkpoint: {}: truncated: tensor '{}' needs bytes up to {}, file has {}", path, name,
             data_start + offset + nbytes, size);
      if (ck.find(name)) fail("load_checkpoint: {}: duplicate tensor name '{}'", path, name);
      Tensor t = Tensor::empty(shape, dt);
      if (nbytes > 0) {
        if (std::fseek(f.get(), static_cast<long>(data_start + offset), SEEK_SET) != 0 ||
            std::fread(t.raw_data(), 1, nbytes, f.get()) != nbytes)
          fail("load_checkpoint: {}: read error in tensor '{}'", path, name);
      }
      ck.tensors.emplace_back(name, std::move(t));
    }
  } catch (const nlohmann::json::exception& e) {
    fail("load_checkpoint: {}: malformed header: {}", path, e.what());
  }
  return ck;
}

void load_into(const Checkpoint& ckpt, const NamedTensors& targets, bool allow_unexpected) {
  std::vector<std::string> missing, unexpected, mismatched;
  std::set<std::string> wanted;
  for (const auto& [name, t] : targets) {
    wanted.insert(name);
    const Tensor* src = ckpt.find(name);
    if (!src) {
      missing.push_back(name);
      continue;
    }
    if (!t.defined()) fail("load_into {}: target tensor '{}' is undefined", ckpt.path, name);
    if (src->shape() != t.shape() || src->dtype() != t.dtype())
      mismatched.push_back(fmt::format("{} (expected {}{}, file {}{})", name, dtype_name(t.dtype()),
                                       shape_str(t.shape()), dtype_name(src->dtype()), shape_str(src->shape())));
  }
  if (!allow_unexpected)
    for (const auto& [name, t] : ckpt.tensors)
      if (!wanted.count(name)) unexpected.push_back(name);
  if (!missing.empty() || !unexpected.empty() || !mismatched.empty()) {
    std::string msg = fmt::format("load_into {}: checkpoint does not match the model:", ckpt.path);
    if (!missing.empty()) msg += fmt::format(" missing [{}];", fmt::join(missing, ", "));
    if (!unexpected.empty()) msg += fmt::format(" unexpected [{}];", fmt::join(unexpected, ", "));
    if (!mismatched.empty()) msg += fmt::format(" shape mismatch [{}];", fmt::join(mismatched, "; "));
    msg.pop_back();
    throw Error(msg);
  }
  for (const auto& [name, t] : targets) {
    Tensor dst = t;  // a handle on the same storage
    dst.copy_(*ckpt.find(name));
  }
}

nlohmann::json generator_state_to_json(const Generator& g) {
  const auto st = g.state();
  uint32_t spare_bits;
  std::memcpy(&spare_bits, &st.spare, 4);
  return {{"s", st.s}, {"has_spare", st.has_spare}, {"spare_bits", spare_bits}};
}

void generator_state_from_json(Generator& g, const nlohmann::json& j) {
  Generator::State st;
  try {
    st.s = j.at("s").get<std::array<uint64_t, 4>>();
    st.has_spare = j.at("has_spare").get<bool>();
    const uint32_t bits = j.at("spare_bits").get<uint32_t>();
    std::memcpy(&st.spare, &bits, 4);
  } catch (const nlohmann::json::exception& e) {
    fail("generator state: malformed JSON {}: {}", j.dump(), e.what());
  }
  g.set_state(st);
}

}  // namespace hwnas
