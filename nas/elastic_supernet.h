#pragma once
// The elastic-mobile supernet (../shared/peers/elastic_torch.py, the space of
// elastic_mobile_space()): one set of max-size weights, and any subnet run on slices of them
// (first C_in*e hidden channels and their BN entries, the centre kxk of the 5x5 depthwise
// weights, the first d blocks of each stage). The slices are autograd views of the parameters,
// so a subnet's backward lands in (and accumulates into) the shared gradients, and its training
// statistics update the shared running stats in place.
#include <cstdint>
#include <memory>
#include <vector>

#include "nas/dnas.h"
#include "nas/space.h"
#include "nn/layers.h"
#include "nn/measure.h"

namespace hwnas {

// MBConv with max-size weights: expand 1x1 [C_in*6, C_in], depthwise [C_in*6, 1, 5, 5],
// project 1x1 [C_out, C_in*6], three batch norms sized to the max.
class ElasticMBConv : public Module {
 public:
  static constexpr int64_t kMaxExpand = 6, kMaxKernel = 5;
  ElasticMBConv(int64_t in, int64_t out, int64_t stride, Generator& gen);
  Variable forward(const Variable& x, int64_t kernel, int64_t expand);
  Variable forward(const Variable& x) override { return forward(x, kMaxKernel, kMaxExpand); }
  // DNAS (FBNet/FBNetV2): the kernels' depthwise outputs mixed by `kernel_w` (a weighted-sum
  // mixed op), the expand choices by FBNetV2 channel masking of the max-width hidden layers
  // with `expand_w`.
  Variable forward_weighted(const Variable& x, const std::vector<int64_t>& kernels, const Variable& kernel_w,
                            const std::vector<int64_t>& expands, const Variable& expand_w);
  std::string type_name() const override { return "ElasticMBConv"; }

  // The slices a subnet (kernel, expand) uses, as autograd views of the parameters.
  Variable pw_weight(int64_t expand) const;
  Variable dw_weight(int64_t kernel, int64_t expand) const;
  Variable pj_weight(int64_t expand) const;

  int64_t in_channels, out_channels, stride;
  bool residual;
  Variable pw, dw, pj;
  std::shared_ptr<BatchNorm2d> bn1, bn2, bn3;
};

// Samples [begin, end) of a batch and the subnet they run through (ordered dropout).
struct ArchGroup {
  Arch arch;
  int64_t begin = 0, end = 0;
};

class ElasticMobileSupernet : public Module {
 public:
  explicit ElasticMobileSupernet(uint64_t seed = 0);
  // arch over elastic_mobile_space() (validated).
  Variable forward(const Variable& x, const Arch& arch);
  // Ordered dropout (NetAdaptV2): each group of consecutive samples runs through its own
  // subnet in this one forward-backward, on its batch slice with that subnet's weight slices,
  // so no masked-out channel is computed; the logits are concatenated in batch order. Batch
  // norm statistics are per group, so the gradient equals the sum of the groups' separate
  // passes (tested).
  // `groups` must cover [0, N) in order.
  Variable forward_groups(const Variable& x, const std::vector<ArchGroup>& groups);
  // DNAS: every choice mixed by `w` (DnasState::sample_weights); a stage's output is the
  // weighted sum of its outputs after each depth choice.
  Variable forward_weighted(const Variable& x, const ArchWeights& w);
  Variable forward(const Variable& x) override;  // the max subnet
  std::string type_name() const override { return "ElasticMobileSupernet"; }

  std::shared_ptr<ConvBnAct> stem, head;
  std::vector<std::shared_ptr<ElasticMBConv>> blocks;

 private:
  Variable forward_subnet(const Variable& x, const Arch& arch);  // arch already validated

 public:  // all stages' blocks in order
  std::vector<size_t> stage_first, stage_blocks;
  std::shared_ptr<Linear> fc;
};

// The subnet as a fixed network (build_network(arch_network(space, arch))) holding copies of
// the supernet's sliced weights and BN statistics: same outputs as supernet.forward(x, arch).
std::shared_ptr<Sequential> extract_subnet(const ElasticMobileSupernet& supernet, const Arch& arch);

// The peer's sandwich step (elastic_torch.py sandwich): SGD(lr 0.05, momentum 0.9, wd 4e-5);
// per step, for the max, min and two random subnets a forward and backward on one fixed random
// batch (gradients accumulate), then one optimizer step. images_per_s counts subnet-images:
// 4 * batch per step.
// On a GPU (`device`), each timed step ends when the device is idle.
TrainMeasurement measure_sandwich(int64_t batch, int warmup, int steps, uint64_t seed = 0, Device device = {});

// The ordered-dropout step of `hwnas supernet train --sampler ordered-dropout` on the same kind
// of fixed random batch: the batch split into `groups` equal groups (max, min, then random
// subnets) in one forward-backward, then one SGD step with the sandwich's settings.
// images_per_s counts subnet-images: batch per step (each image goes through one subnet).
TrainMeasurement measure_ordered_dropout(int64_t batch, int64_t groups, int warmup, int steps, uint64_t seed = 0,
                                         Device device = {});

// Equal consecutive groups of a batch: max, min, then random subnets (the ordered-dropout
// sampler's draw).
std::vector<ArchGroup> ordered_dropout_groups(int64_t batch, int64_t groups, Generator& gen);

}  // namespace hwnas
