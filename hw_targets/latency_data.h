#pragma once
// Measured latencies of a space's architectures (the fbnet-latency data set: archs.csv with
// `arch_id, layer0..layerN` op names, and one `arch_id,latency_ms` file per device), and the
// encodings latency predictors work on: one-hot per (dimension, choice), and a soft encoding
// (per-dimension probabilities) for differentiable use in a DNAS loss.
#include <cstdint>
#include <memory>
#include <string>
#include <unordered_map>
#include <vector>

#include "autograd/variable.h"
#include "nas/space.h"

namespace hwnas {

// Every dimension of a space one-hot, concatenated in `space.dims` order: FBNet is 22 layers x
// 9 ops = 198 entries, entry `offset(d) + choice`.
class ArchEncoding {
 public:
  explicit ArchEncoding(const SearchSpace& s);  // keeps its own copy of the space
  const SearchSpace& space() const { return *space_; }
  size_t dims() const { return offsets_.size(); }
  size_t width() const { return width_; }  // total entries (198 for FBNet)
  size_t offset(size_t dim) const { return offsets_[dim]; }
  size_t choices(size_t dim) const { return sizes_[dim]; }
  // The index of each dimension's one (validates the arch); its length is dims().
  std::vector<size_t> active(const Arch& a) const;
  std::vector<double> one_hot(const Arch& a) const;
  // Arch with the choice of entry `dim` set from `index` (the inverse of active()).
  Arch arch_from_active(const std::vector<size_t>& active) const;
  // The name of entry i, e.g. "ops[3]=k5_e6".
  std::string entry_name(size_t i) const;
  // A soft encoding as a [B, width] variable: accepts [dims, choices] (all dimensions with the
  // same choice count, e.g. FBNet's [22, 9]), [width] or [B, width]; throws naming the shape
  // expected. Rows are used as given (probabilities are not re-normalized).
  Variable flatten_soft(const Variable& probs) const;
  // Per-dimension weight vectors (nas/dnas.h ArchWeights::w, each 1-D) as [1, width].
  Variable soft_from_weights(const std::vector<Variable>& per_dim) const;

 private:
  std::shared_ptr<const SearchSpace> space_;
  std::vector<size_t> offsets_, sizes_;
  size_t width_ = 0;
};

// archs.csv: `arch_id, <one column per dimension>`; only spaces whose dimensions are all ops
// (one op name per layer) have this form.
struct ArchTable {
  std::string source;
  std::vector<int64_t> ids;
  std::vector<Arch> archs;
  std::unordered_map<int64_t, size_t> row_of_id;
  const Arch& at_id(int64_t id) const;  // throws naming the table and the id
};
ArchTable read_arch_table(const SearchSpace& s, const std::string& path);

// One device's latencies joined with their architectures, in file order.
struct LatencyData {
  std::string source;  // the latency file
  std::string device;  // its file name without .csv
  std::vector<int64_t> ids;
  std::vector<Arch> archs;
  std::vector<double> latency_ms;
  size_t size() const { return ids.size(); }
};
// `archs_path` empty: archs.csv in the latency file's folder. Errors name the file, the line
// and the value (an unknown arch_id, a latency that is not a positive number, a duplicate id).
LatencyData read_latency_csv(const SearchSpace& s, const std::string& path, const std::string& archs_path = "");
LatencyData read_latency_csv(const std::string& path, const ArchTable& archs);
std::string default_archs_path(const std::string& latency_path);

// The `*.csv` latency files of a folder (all but archs.csv), sorted by name.
std::vector<std::string> latency_files_in(const std::string& dir);

}  // namespace hwnas
