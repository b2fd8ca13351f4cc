#pragma once
// Split-Attention (ResNeSt) as the depthwise stage of an MBConv, with the radix searchable and
// weight-shared (FP-NAS), as docs/search-space.md defines it:
//
//   x [N, C, H, W] -> r depthwise kxk convs (stride s, padding k/2), split m with its own filters
//   -> BN + act per split -> sum of the splits -> global average pool -> fc1 (1x1 + bias,
//   C -> A = attention_width(C, r)) -> BN -> ReLU -> fc2 (1x1 + bias, A -> r*C, split-major)
//   -> softmax over the r splits per (n, c) -> sum_m a_m * split_m : [N, C, H', W'].
//
// One module holds the weights of the largest (channels, kernel, radix); every smaller choice
// is a set of views into them, so gradients land in the slices a subnet used:
//   split m        dw rows [m*maxC, m*maxC + C), the centre k x k; bn entries likewise
//   fc1            rows [0, A), input columns [0, C); fc1_bn entries [0, A)
//   fc2 of split m rows [m*maxC, m*maxC + C), input columns [0, A); its bias likewise
// Split m's slots stay put whatever the width and radix, so a split keeps its filters when a
// subnet drops later splits or channels.
//
// radix 1 is a plain depthwise stage (split 0 after BN + act, no attention).
// Training mode needs N >= 2: fc1's batch norm sees one value per channel and sample after the
// pool, and batch_norm refuses batch statistics of a single value.
#include <memory>
#include <vector>

#include "nn/layers.h"
#include "nn/module.h"
#include "ops/activation.h"

namespace hwnas {

class SplitAttentionConv : public Module {
 public:
  SplitAttentionConv(int64_t max_channels, int64_t max_kernel, int64_t max_radix, int64_t stride, Activation act,
                     Generator& gen);

  // The largest configuration.
  Variable forward(const Variable& x) override;
  // x [N, channels, H, W] -> [N, channels, H', W'].
  Variable forward(const Variable& x, int64_t channels, int64_t kernel, int64_t radix);
  std::string type_name() const override { return "SplitAttentionConv"; }

  // ResNeSt's attention width for `channels` x `radix` split channels: max(channels*radix/4, 32).
  // (The same rule as nas/space.h's split_attention_width, which nn/ cannot include.)
  static int64_t attention_width(int64_t channels, int64_t radix);

  // The views a configuration uses (autograd narrows of the shared parameters).
  Variable dw_weight(int64_t split, int64_t channels, int64_t kernel) const;  // [C, 1, k, k]
  Variable fc1_weight(int64_t channels, int64_t radix) const;                 // [A, C, 1, 1]
  Variable fc1_bias(int64_t channels, int64_t radix) const;                   // [A]
  Variable fc2_weight(int64_t split, int64_t channels, int64_t radix) const;  // [C, A, 1, 1]
  Variable fc2_bias(int64_t split, int64_t channels) const;                   // [C]

  int64_t max_channels, max_kernel, max_radix, stride, max_attention;
  Activation act;
  // dw: depthwise weights [maxR*maxC, 1, maxK, maxK]; bn over maxR*maxC with `act` fused.
  std::shared_ptr<Conv2d> dw, fc1, fc2;
  std::shared_ptr<BatchNorm2d> bn, fc1_bn;
};

}  // namespace hwnas
