#pragma once
// Checkpoints: named tensors plus JSON metadata in one file.
//
// Layout (little-endian): "HWNASCKP", u32 format version, u64 header length L, L bytes of JSON
// header (space-padded so the data section starts 64-byte aligned), then the data section.
// Header: {"metadata": {...}, "tensors": [{"name", "dtype", "shape", "offset", "nbytes"}]},
// offsets relative to the start of the data section, each a multiple of 64.
// Files are written atomically (io/atomic_file.h): a failed save never destroys the old file.
#include <cstdint>
#include <string>
#include <utility>
#include <vector>

#include <nlohmann/json.hpp>

#include "tensor/tensor.h"

namespace hwnas {

inline constexpr uint32_t kCheckpointVersion = 1;

using NamedTensors = std::vector<std::pair<std::string, Tensor>>;

struct Checkpoint {
  std::string path;  // where it was loaded from, for messages
  nlohmann::json metadata = nlohmann::json::object();
  NamedTensors tensors;  // in file order, contiguous

  const Tensor* find(const std::string& name) const;
  const Tensor& at(const std::string& name) const;  // throws naming the missing tensor
};

// Names must be unique and non-empty; tensors must be defined, on the CPU, f32/i64/bf16/f16.
void save_checkpoint(const std::string& path, const NamedTensors& tensors,
                     const nlohmann::json& metadata = nlohmann::json::object());
Checkpoint load_checkpoint(const std::string& path);

// Copies the checkpoint's tensors into `targets` (existing tensors, any strides: parameters,
// buffers). Every target must be in the file with the same dtype and shape and every file tensor
// must be a target; otherwise nothing is copied and the error lists the missing names, the
// unexpected names and each mismatch (name, expected shape, file shape). allow_unexpected
// permits file tensors that are not targets (a partial load).
void load_into(const Checkpoint& ckpt, const NamedTensors& targets, bool allow_unexpected = false);

// Generator state to and from JSON, for resumable runs.
nlohmann::json generator_state_to_json(const Generator& g);
void generator_state_from_json(Generator& g, const nlohmann::json& j);

}  // namespace hwnas
