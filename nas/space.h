#pragma once
// Search spaces: a JSON spec (docs/search-space.md) of a fixed stem, stages of blocks with
// searchable dimensions, and a fixed head; architectures (subnets) that pick one choice per
// dimension; and what can be said about any subnet without building it: its fixed network
// (nn/network.h), multiply-adds, parameters and activation memory.
//
// Dimensions an arch chooses, each an array in block (or stage) order:
//   depth   one per stage that lists depth choices (the first d blocks run)
//   kernel  one per block that lists kernel choices        (mbconv, conv)
//   expand  one per block that lists expand-ratio choices  (mbconv)
//   width   one per block that lists output-width choices  (ordered: elastic width keeps the first)
//   ops     one per mixed-op block (candidate op names such as the FBNet ops)
//   radix   one per block that lists Split-Attention radix choices (mbconv; 1 = no attention)
// A key given as a single number in the spec is fixed and has no entry in the arch.
#include <nlohmann/json.hpp>

#include <algorithm>
#include <optional>
#include <string>
#include <vector>

#include "nn/network.h"
#include "tensor/rng.h"

namespace hwnas {

enum class DimKind { depth, kernel, expand, width, ops, radix };
inline constexpr DimKind kDimKinds[] = {DimKind::depth, DimKind::kernel, DimKind::expand,
                                        DimKind::width, DimKind::ops,    DimKind::radix};
const char* dim_name(DimKind k);

enum class BlockType { mbconv, conv, skip, mixed };

// A named op of a mixed block (or a block type given by name): "k3_e6" (MBConv kernel 3,
// expand 6), "k5_e1_g2" (grouped 1x1 convs with a channel shuffle), "conv3" (3x3 conv-BN-act),
// "skip" (identity, or 1x1 conv-BN-act when the stride or the width changes).
struct OpDesc {
  BlockType type = BlockType::skip;
  int64_t kernel = 1, expand = 1, groups = 1;
};
std::optional<OpDesc> parse_op_name(const std::string& name);

struct BlockSpec {
  BlockType type = BlockType::mbconv;
  // Choices of each dimension; a single entry when fixed. Empty when the type has no such key.
  std::vector<int64_t> width, kernel, expand, radix;
  std::vector<std::string> ops;  // mixed: the candidate ops
  int64_t stride = 1, groups = 1;
  std::string act = "relu";
  size_t stage = 0, index_in_stage = 0;
};

struct StageSpec {
  size_t first_block = 0, num_blocks = 0;
  std::vector<int64_t> depth;  // choices; {num_blocks} when the depth is fixed
};

// One searchable choice of an arch.
struct Dimension {
  DimKind kind = DimKind::depth;
  size_t pos = 0;    // index in the arch's array of this kind
  size_t stage = 0;
  size_t block = 0;  // global block index (depth: the stage's first block)
  std::vector<int64_t> values;     // the choices (all kinds but ops)
  std::vector<std::string> names;  // the choices of ops
  size_t size() const { return kind == DimKind::ops ? names.size() : values.size(); }
};

struct SearchSpace {
  std::string name;
  Shape input;  // C, H, W
  int64_t classes = 0;
  nlohmann::json stem, head;  // fixed layers in the network JSON format
  std::vector<StageSpec> stages;
  std::vector<BlockSpec> blocks;  // all stages' blocks in order
  std::vector<Dimension> dims;    // in sampling order: per stage its depth, then per block
                                  // kernel, expand, width, ops, radix
  nlohmann::json spec;            // the JSON it was parsed from
  size_t count(DimKind k) const;  // entries an arch has for `k`
};

struct Arch {
  std::vector<int64_t> depth, kernel, expand, width, radix;
  std::vector<std::string> ops;
  bool operator==(const Arch&) const = default;
};

// Parses and validates a spec (keys, choice lists, and the max and min subnets as networks);
// errors name `source`, the stage and block, and the key.
SearchSpace parse_space(const nlohmann::json& j, const std::string& source);

// Number of distinct networks: per stage, the sum over its depth choices d of the product of the
// choice counts of its first d blocks. The choices of blocks a depth drops do not change the
// network, so they are not counted (a plain product of all choice counts would over-count).
struct SpaceSize {
  double count = 0;
  double log10 = 0;
};
SpaceSize space_size(const SearchSpace& s);

// Every dimension at its largest (deepest, widest, biggest kernel/expand/radix, the op with the
// most multiply-adds) or smallest choice.
Arch max_arch(const SearchSpace& s);
Arch min_arch(const SearchSpace& s);
// Each dimension's choice uniform and independent (the usual supernet sampler; not uniform over
// distinct networks). The draws are in `s.dims` order, so a seed gives one sequence of archs.
Arch sample_arch(const SearchSpace& s, Generator& gen);
// The same draw restricted to `allowed[i]` (indices into s.dims[i]'s choices; an empty list
// allows every choice), for searches that shrink a space (HURRICANE's per-target candidates).
// Throws naming the dimension when an index is out of range; `allowed` is empty or one per dim.
using ChoiceSets = std::vector<std::vector<size_t>>;
Arch sample_arch_within(const SearchSpace& s, const ChoiceSets& allowed, Generator& gen);
// The largest / smallest arch of a restricted space (per dimension, the last / first allowed
// choice: every dimension's choices are listed smallest first).
Arch max_arch_within(const SearchSpace& s, const ChoiceSets& allowed);
Arch min_arch_within(const SearchSpace& s, const ChoiceSets& allowed);
// Subnets at full depth that together take every choice of every dimension: subnet i sets each
// non-depth dimension to its choice min(i, count - 1), as many subnets as the largest choice
// count. Every layer thus runs at each of its own choices (the supernet trainer runs them once on
// a GPU to build the convolution plans of a space's shapes); combinations of neighbouring
// layers' choices are not all covered.
std::vector<Arch> choice_covering_archs(const SearchSpace& s);
// The choices of blocks that the depth drops set to their first choice, so that archs giving
// the same network compare equal.
Arch canonical_arch(const SearchSpace& s, const Arch& a);

// Throws naming the dimension and position, e.g. `elastic-mobile: kernel[9] = 7 is not one of
// {3, 5} (stage 3, block 1)`.
void validate_arch(const SearchSpace& s, const Arch& a);
// The index of each dimension's choice, in `s.dims` order (validates).
std::vector<size_t> arch_choices(const SearchSpace& s, const Arch& a);
Arch arch_from_choices(const SearchSpace& s, const std::vector<size_t>& choices);
Arch arch_from_json(const SearchSpace& s, const nlohmann::json& j);  // validates
nlohmann::json arch_to_json(const SearchSpace& s, const Arch& a);
std::string arch_json_hint(const SearchSpace& s);  // {"depth":[4 ints],...}

// The subnet as fixed layers (network JSON format): stem, the blocks its depths keep, head.
// An mbconv with radix > 1 carries "radix" (Split-Attention; see docs/search-space.md).
nlohmann::json arch_layers(const SearchSpace& s, const Arch& a);
// The subnet as a fixed network (radix > 1 becomes the mbconv layer's Split-Attention "radix").
NetworkSpec arch_network(const SearchSpace& s, const Arch& a, const std::string& name = "");

// Analytic cost of one forward pass at batch 1: multiply-adds of convs and linears (what
// network_macs counts), parameters (weights, biases, BN affine; not running statistics), and
// activation memory: every layer output in f32 (a conv-BN-act, each MBConv conv and a residual
// add fused into the project conv count as one tensor each; identity, flatten and dropout
// produce none; the input is not counted) summed, and the largest single one.
struct SubnetCost {
  int64_t macs = 0, params = 0, activation_bytes = 0, peak_activation_bytes = 0;
};
// `outputs`, when given, receives each layer's output shape [C, H, W] (flat layers: [C, 1, 1]).
SubnetCost layers_cost(const Shape& input, const nlohmann::json& layers, std::vector<Shape>* outputs = nullptr);  // layers must be valid
SubnetCost subnet_cost(const SearchSpace& s, const Arch& a);

// Split-Attention's attention width for `channels` x `radix` split channels (ResNeSt's rule).
inline int64_t split_attention_width(int64_t channels, int64_t radix) {
  return std::max<int64_t>(channels * radix / 4, 32);
}

}  // namespace hwnas
