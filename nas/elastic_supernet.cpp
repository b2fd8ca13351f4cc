#include "nas/elastic_supernet.h"

#include "tensor/device_memory.h"

#include "nas/builtin_spaces.h"
#include "nn/init.h"
#include "nn/network.h"
#include "nn/optim.h"
#include "ops/batch_norm.h"
#include "ops/channel_mask.h"
#include "ops/mixed_op.h"
#include "ops/elementwise.h"
#include "ops/loss.h"
#include "ops/shape_ops.h"

namespace hwnas {

namespace {
struct StageDef {
  int64_t out, stride, depth;
};
constexpr StageDef kStages[] = {{24, 2, 2}, {40, 2, 3}, {64, 1, 3}, {96, 2, 2}};
constexpr int64_t kStem = 16, kHead = 256, kClasses = 10;

// A narrow that is skipped when it keeps everything: a full-size "slice" would only add an
// autograd node whose backward copies the whole gradient once more.
Variable narrow_if(const Variable& v, int64_t dim, int64_t start, int64_t len) {
  return start == 0 && len == v.size(dim) ? v : narrow(v, dim, start, len);
}
Tensor narrow_if(const Tensor& t, int64_t dim, int64_t start, int64_t len) {
  return start == 0 && len == t.size(dim) ? t : t.narrow(dim, start, len);
}

// Batch norm on the first c channels of a max-size BatchNorm2d.
Variable sliced_bn(const Variable& x, BatchNorm2d& bn, int64_t c, bool training) {
  return batch_norm(x, narrow_if(bn.weight, 0, 0, c), narrow_if(bn.bias, 0, 0, c),
                    narrow_if(bn.running_mean, 0, 0, c), narrow_if(bn.running_var, 0, 0, c),
                    {training, bn.momentum, bn.eps, bn.act});
}

void check_choice(const char* what, int64_t v, int64_t lo, int64_t hi) {
  if (v < lo || v > hi) fail("ElasticMBConv: {} {} is out of range, expected {}..{}", what, v, lo, hi);
}
}  // namespace

ElasticMBConv::ElasticMBConv(int64_t in, int64_t out, int64_t s, Generator& gen)
    : in_channels(in), out_channels(out), stride(s), residual(s == 1 && in == out) {
  const int64_t h = in * kMaxExpand;
  auto init = [&](const char* name, Shape shape) {
    Tensor w = Tensor::empty(shape);
    kaiming_normal_(w, gen, FanMode::fan_out);
    return register_parameter(name, w);
  };
  pw = init("pw", {h, in, 1, 1});
  dw = init("dw", {h, 1, kMaxKernel, kMaxKernel});
  pj = init("pj", {out, h, 1, 1});
  bn1 = register_module("bn1", std::make_shared<BatchNorm2d>(h, 1e-5f, 0.1f, Activation::relu6));
  bn2 = register_module("bn2", std::make_shared<BatchNorm2d>(h, 1e-5f, 0.1f, Activation::relu6));
  bn3 = register_module("bn3", std::make_shared<BatchNorm2d>(out, 1e-5f, 0.1f, Activation::none));
}

Variable ElasticMBConv::pw_weight(int64_t e) const { return narrow_if(pw, 0, 0, in_channels * e); }

Variable ElasticMBConv::dw_weight(int64_t k, int64_t e) const {
  const int64_t off = (kMaxKernel - k) / 2;
  return narrow_if(narrow_if(narrow_if(dw, 0, 0, in_channels * e), 2, off, k), 3, off, k);
}

Variable ElasticMBConv::pj_weight(int64_t e) const { return narrow_if(pj, 1, 0, in_channels * e); }

Variable ElasticMBConv::forward(const Variable& x, int64_t k, int64_t e) {
  check_choice("expand", e, 1, kMaxExpand);
  check_choice("kernel", k, 1, kMaxKernel);
  if (k % 2 == 0)
    fail("ElasticMBConv: kernel {} must be odd (the centre of the {}x{} weights)", k, kMaxKernel, kMaxKernel);
  const int64_t h = in_channels * e;
  const bool tr = is_training();
  Variable y = sliced_bn(conv2d(x, pw_weight(e), {}, Conv2dOptions::make(1, 0)), *bn1, h, tr);
  y = sliced_bn(conv2d(y, dw_weight(k, e), {}, Conv2dOptions::make(stride, k / 2, 1, h)), *bn2, h, tr);
  y = sliced_bn(conv2d(y, pj_weight(e), {}, Conv2dOptions::make(1, 0)), *bn3, out_channels, tr);
  return residual ? add(x, y) : y;
}

Variable ElasticMBConv::forward_weighted(const Variable& x, const std::vector<int64_t>& kernels,
                                         const Variable& kernel_w, const std::vector<int64_t>& expands,
                                         const Variable& expand_w) {
  const int64_t h = in_channels * kMaxExpand;
  std::vector<int64_t> widths;
  for (int64_t e : expands) {
    check_choice("expand", e, 1, kMaxExpand);
    widths.push_back(in_channels * e);
  }
  const bool tr = is_training();
  Variable y = channel_mask(sliced_bn(conv2d(x, pw, {}, Conv2dOptions::make(1, 0)), *bn1, h, tr), expand_w, widths);
  std::vector<Variable> dws;
  for (int64_t k : kernels) {
    check_choice("kernel", k, 1, kMaxKernel);
    dws.push_back(conv2d(y, dw_weight(k, kMaxExpand), {}, Conv2dOptions::make(stride, k / 2, 1, h)));
  }
  y = dws.size() == 1 ? dws[0] : weighted_sum(dws, kernel_w);
  y = channel_mask(sliced_bn(y, *bn2, h, tr), expand_w, widths);
  y = sliced_bn(conv2d(y, pj, {}, Conv2dOptions::make(1, 0)), *bn3, out_channels, tr);
  return residual ? add(x, y) : y;
}

ElasticMobileSupernet::ElasticMobileSupernet(uint64_t seed) {
  Generator gen(seed);
  stem = register_module("stem", std::make_shared<ConvBnAct>(1, kStem, 3, 1, 1, Activation::relu6, gen));
  int64_t c = kStem;
  for (const auto& st : kStages) {
    stage_first.push_back(blocks.size());
    stage_blocks.push_back(static_cast<size_t>(st.depth));
    for (int64_t i = 0; i < st.depth; ++i) {
      const std::string name = "blocks." + std::to_string(blocks.size());
      blocks.push_back(register_module(name, std::make_shared<ElasticMBConv>(c, st.out, i == 0 ? st.stride : 1, gen)));
      c = st.out;
    }
  }
  head = register_module("head", std::make_shared<ConvBnAct>(c, kHead, 1, 1, 1, Activation::relu6, gen));
  fc = register_module("fc", std::make_shared<Linear>(kHead, kClasses, true, gen));
}

Variable ElasticMobileSupernet::forward(const Variable& x, const Arch& arch) {
  validate_arch(elastic_mobile_space(), arch);
  return forward_subnet(x, arch);
}

Variable ElasticMobileSupernet::forward_subnet(const Variable& x, const Arch& arch) {
  Variable y = stem->forward(x);
  for (size_t s = 0; s < stage_first.size(); ++s) {
    for (size_t i = 0; i < static_cast<size_t>(arch.depth[s]); ++i) {
      const size_t b = stage_first[s] + i;
      y = blocks[b]->forward(y, arch.kernel[b], arch.expand[b]);
    }
  }
  return fc->forward(global_avg_pool(head->forward(y)));
}

Variable ElasticMobileSupernet::forward_groups(const Variable& x, const std::vector<ArchGroup>& groups) {
  const SearchSpace& space = elastic_mobile_space();
  if (groups.empty()) fail("ElasticMobileSupernet::forward_groups: no groups");
  int64_t next = 0;
  for (size_t g = 0; g < groups.size(); ++g) {
    if (groups[g].begin != next || groups[g].end <= groups[g].begin)
      fail("ElasticMobileSupernet::forward_groups: group {} covers samples [{}, {}) but must start at {} and be non-empty",
           g, groups[g].begin, groups[g].end, next);
    validate_arch(space, groups[g].arch);
    next = groups[g].end;
  }
  if (next != x.size(0))
    fail("ElasticMobileSupernet::forward_groups: groups cover {} samples but the batch has {}", next, x.size(0));

  // Each group runs its whole subnet on its slice of the input: slicing the input (which needs
  // no gradient) costs nothing, while slicing a hidden activation per block would give every
  // slice a full-size zero gradient in the backward (measured: 0.8x the sandwich's throughput
  // with per-block slices and concats, against parity this way).
  std::vector<Variable> logits;
  for (const ArchGroup& g : groups) logits.push_back(forward_subnet(narrow_if(x, 0, g.begin, g.end - g.begin), g.arch));
  return logits.size() == 1 ? logits[0] : concat(logits, 0);
}

Variable ElasticMobileSupernet::forward_weighted(const Variable& x, const ArchWeights& w) {
  const SearchSpace& space = elastic_mobile_space();
  auto values = [&](DimKind kind, size_t pos) -> const std::vector<int64_t>& {
    for (const Dimension& d : space.dims)
      if (d.kind == kind && d.pos == pos) return d.values;
    fail("ElasticMobileSupernet: no {} dimension at {}", dim_name(kind), pos);
  };
  if (w.w.size() != space.dims.size())
    fail("ElasticMobileSupernet::forward_weighted: {} weight vectors for {} dimensions", w.w.size(), space.dims.size());
  Variable y = stem->forward(x);
  for (size_t s = 0; s < stage_first.size(); ++s) {
    const std::vector<int64_t>& depths = values(DimKind::depth, s);
    std::vector<Variable> at_depth;
    for (size_t i = 0; i < stage_blocks[s]; ++i) {
      const size_t b = stage_first[s] + i;
      y = blocks[b]->forward_weighted(y, values(DimKind::kernel, b), w.at(space, DimKind::kernel, b),
                                      values(DimKind::expand, b), w.at(space, DimKind::expand, b));
      if (std::find(depths.begin(), depths.end(), static_cast<int64_t>(i + 1)) != depths.end()) at_depth.push_back(y);
    }
    y = at_depth.size() == 1 ? at_depth[0] : weighted_sum(at_depth, w.at(space, DimKind::depth, s));
  }
  return fc->forward(global_avg_pool(head->forward(y)));
}

Variable ElasticMobileSupernet::forward(const Variable& x) { return forward(x, max_arch(elastic_mobile_space())); }

namespace {
void copy_bn(BatchNorm2d& dst, const BatchNorm2d& src, int64_t c) {
  dst.weight.data().copy_(src.weight.data().narrow(0, 0, c));
  dst.bias.data().copy_(src.bias.data().narrow(0, 0, c));
  dst.running_mean.copy_(src.running_mean.narrow(0, 0, c));
  dst.running_var.copy_(src.running_var.narrow(0, 0, c));
}
void copy_conv_bn(ConvBnAct& dst, const ConvBnAct& src) {
  dst.conv->weight.data().copy_(src.conv->weight.data());
  copy_bn(*dst.bn, *src.bn, src.bn->weight.size(0));
}
template <class T>
T& layer_as(const Sequential& net, size_t i, const char* what) {
  auto p = i < net.layers().size() ? std::dynamic_pointer_cast<T>(net.layers()[i]) : nullptr;
  if (!p) fail("extract_subnet: layer {} of the fixed network is not the expected {}", i, what);
  return *p;
}
}  // namespace

std::shared_ptr<Sequential> extract_subnet(const ElasticMobileSupernet& sn, const Arch& arch) {
  const SearchSpace& space = elastic_mobile_space();
  validate_arch(space, arch);
  auto net = build_network(arch_network(space, arch), 0);
  size_t li = 0;
  copy_conv_bn(layer_as<ConvBnAct>(*net, li++, "stem ConvBnAct"), *sn.stem);
  for (size_t s = 0; s < sn.stage_first.size(); ++s) {
    for (size_t i = 0; i < static_cast<size_t>(arch.depth[s]); ++i) {
      const size_t b = sn.stage_first[s] + i;
      const ElasticMBConv& src = *sn.blocks[b];
      const int64_t k = arch.kernel[b], e = arch.expand[b], h = src.in_channels * e;
      auto& dst = layer_as<MBConv>(*net, li++, "MBConv");
      dst.expand_conv->conv->weight.data().copy_(src.pw_weight(e).data());
      dst.dw_conv->conv->weight.data().copy_(src.dw_weight(k, e).data());
      dst.project_conv->conv->weight.data().copy_(src.pj_weight(e).data());
      copy_bn(*dst.expand_conv->bn, *src.bn1, h);
      copy_bn(*dst.dw_conv->bn, *src.bn2, h);
      copy_bn(*dst.project_conv->bn, *src.bn3, src.out_channels);
    }
  }
  copy_conv_bn(layer_as<ConvBnAct>(*net, li++, "head ConvBnAct"), *sn.head);
  layer_as<GlobalAvgPool>(*net, li++, "GlobalAvgPool");
  auto& fc = layer_as<Linear>(*net, li++, "Linear");
  fc.weight.data().copy_(sn.fc->weight.data());
  fc.bias.data().copy_(sn.fc->bias.data());
  net->train(sn.is_training());
  return net;
}

namespace {
// The peer's step benchmark set-up (elastic_torch.py): a fresh supernet in training mode, SGD
// (lr 0.05, momentum 0.9, wd 4e-5) and one fixed random batch with random labels.
struct StepBench {
  StepBench(const char* what, int64_t batch, int steps, uint64_t seed, Device dev)
      : device(dev), net(seed), gen(seed + 1), arch_gen(seed + 2) {
    if (batch <= 0 || steps <= 0) fail("{}: batch and steps must be positive, got {} and {}", what, batch, steps);
    if (!dev.is_cpu()) net.to(dev);  // before the optimizer makes its momentum buffers
    opt = std::make_unique<Sgd>(net.parameters(), SgdOptions{0.05f, 0.9f, 0.f, 4e-5f, false});
    net.train();
    x = Variable(Tensor::randn({batch, space.input[0], space.input[1], space.input[2]}, gen).to(dev));
    y = random_labels(batch, space.classes, gen).to(dev);
  }
  // A step as timed: on a GPU it ends when the queued work is done.
  void finish() const { synchronize_device(device); }
  const SearchSpace& space = elastic_mobile_space();
  Device device;
  ElasticMobileSupernet net;
  std::unique_ptr<Sgd> opt;
  Generator gen, arch_gen;
  Variable x;
  Tensor y;
};
}  // namespace

TrainMeasurement measure_sandwich(int64_t batch, int warmup, int steps, uint64_t seed, Device device) {
  StepBench b("measure_sandwich", batch, steps, seed, device);
  const Arch amax = max_arch(b.space), amin = min_arch(b.space);
  auto step = [&] {
    b.opt->zero_grad();
    for (const Arch& a : {amax, amin, sample_arch(b.space, b.arch_gen), sample_arch(b.space, b.arch_gen)})
      cross_entropy(b.net.forward(b.x, a), b.y).backward();
    b.opt->step();
    b.finish();
  };
  // A subnet-image is one image through one subnet: 4 subnets per step.
  return train_measurement(batch, time_calls(step, warmup, steps), 4.0 * static_cast<double>(batch));
}

std::vector<ArchGroup> ordered_dropout_groups(int64_t batch, int64_t groups, Generator& gen) {
  if (groups < 1 || groups > batch) fail("ordered dropout: groups must be in 1..batch ({}), got {}", batch, groups);
  const SearchSpace& space = elastic_mobile_space();
  std::vector<ArchGroup> out;
  for (int64_t g = 0; g < groups; ++g) {
    ArchGroup ag;
    ag.arch = g == 0 ? max_arch(space) : g == 1 ? min_arch(space) : sample_arch(space, gen);
    ag.begin = batch * g / groups;
    ag.end = batch * (g + 1) / groups;
    out.push_back(std::move(ag));
  }
  return out;
}

TrainMeasurement measure_ordered_dropout(int64_t batch, int64_t groups, int warmup, int steps, uint64_t seed,
                                         Device device) {
  StepBench b("measure_ordered_dropout", batch, steps, seed, device);
  auto step = [&] {
    b.opt->zero_grad();
    cross_entropy(b.net.forward_groups(b.x, ordered_dropout_groups(batch, groups, b.arch_gen)), b.y).backward();
    b.opt->step();
    b.finish();
  };
  return train_measurement(batch, time_calls(step, warmup, steps), static_cast<double>(batch));
}

}  // namespace hwnas
