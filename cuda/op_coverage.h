#pragma once
// Which ops of the single op list (ops/op_list.def) run on CUDA tensors, forward and backward:
// those with a kernel in cuda/ or composed of device-aware ops (the composed ones are listed as
// such in cuda/op_coverage.cpp), checked on a GPU by tests/cuda/ops_cuda_test.cpp against the
// CPU. Plain C++, built with or without CUDA, so the coverage test runs everywhere.
#include <optional>
#include <string_view>
#include <vector>

#include "ops/op_list.h"

namespace hwnas {

bool has_cuda_kernel(OpKind op);
std::vector<OpKind> ops_without_cuda_kernel();
std::optional<OpKind> op_kind_from_name(std::string_view name);  // nullopt when not in the list
inline std::string_view op_name(OpKind op) { return kOpNames[static_cast<size_t>(op)]; }

}  // namespace hwnas
