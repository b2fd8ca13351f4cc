#pragma once
// The safetensors format (https://github.com/huggingface/safetensors), written and read exactly
// per its specification, so that PyTorch, JAX, numpy and the Rust/Python `safetensors` packages
// read what we write and we read what they write:
//
//   8 bytes   N, unsigned 64-bit little-endian: the header length
//   N bytes   UTF-8 JSON object starting with '{', right-padded with spaces (we pad N to a multiple
//             of 8, as the reference writer does, so the data starts 8-byte aligned):
//             {"__metadata__": {"key": "value", ...},            (optional; strings only)
//              "NAME": {"dtype": "F32", "shape": [d0, d1, ...], "data_offsets": [BEGIN, END]}, ...}
//   the rest  the byte buffer: every tensor's elements in row-major (C) order, little-endian;
//             offsets are relative to the buffer's start, END is one past the last byte, and the
//             tensors cover the whole buffer without holes or overlaps.
//
// dtypes: F32, I64, F16 and BF16 (the element types hwnas tensors hold). Other valid safetensors
// dtypes (F64, I32, U8, BOOL, ...) are refused on reading with a message naming the tensor and
// the dtype, never converted silently. Shapes may be [] (a scalar) or contain 0 (no data).
//
// Writing stores each tensor in logical (row-major) order whatever its memory layout
// (channels_last included) and is atomic (io/atomic_file.h). Tensors are laid out in the order
// given, except that 8-byte dtypes come before 4-byte before 2-byte ones (a stable sort, as the
// reference writer does) so that every tensor is aligned to its element size.
//
// Reading validates everything and every error names the file and the problem: the header
// length against the file size, the JSON (and duplicate names), each entry's keys, dtype and
// shape, the offsets (in range, END - BEGIN equal to the shape's element count times the dtype
// size, no overlap, no hole, nothing past the last tensor) and the metadata (strings only).
#include <cstdint>
#include <map>
#include <string>
#include <string_view>

#include "io/checkpoint.h"  // NamedTensors

namespace hwnas {

// The reference implementation refuses headers above 100 MB; so do we.
inline constexpr uint64_t kSafetensorsMaxHeader = 100u << 20;

using SafetensorsMetadata = std::map<std::string, std::string>;

struct SafetensorsFile {
  std::string path;  // where it was read from (or the source name given to parse), for messages
  SafetensorsMetadata metadata;
  NamedTensors tensors;  // in the order of their data in the buffer; contiguous

  const Tensor* find(const std::string& name) const;
  const Tensor& at(const std::string& name) const;  // throws naming the file and the tensor
};

// Names must be unique, non-empty and not "__metadata__"; tensors defined, on the CPU.
void save_safetensors(const std::string& path, const NamedTensors& tensors, const SafetensorsMetadata& metadata = {});
// The file's bytes, as save_safetensors writes them.
std::string safetensors_bytes(const NamedTensors& tensors, const SafetensorsMetadata& metadata = {},
                              const std::string& source = "safetensors");

SafetensorsFile load_safetensors(const std::string& path);
// Parses a whole file held in memory; `source` names it in errors.
SafetensorsFile parse_safetensors(std::string_view bytes, const std::string& source);

// "F32" for DType::f32, and so on.
const char* safetensors_dtype_name(DType t);

}  // namespace hwnas
