#pragma once
#include <array>
#include <string_view>

namespace hwnas {

enum class OpKind {
#define HWNAS_OP(name, family) name,
#include "ops/op_list.def"
#undef HWNAS_OP
};

inline constexpr std::array<std::string_view, 0
#define HWNAS_OP(name, family) +1
#include "ops/op_list.def"
#undef HWNAS_OP
                            >
    kOpNames = {
#define HWNAS_OP(name, family) #name,
#include "ops/op_list.def"
#undef HWNAS_OP
};

}  // namespace hwnas
