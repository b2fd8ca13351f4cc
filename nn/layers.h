#pragma once
// The building blocks of the benchmark networks. ConvBnAct is the workhorse: conv (no bias),
// batch norm with the activation fused into it for training, and, after prepare_inference(),
// a single conv with batch norm folded into its weights and the activation in its epilogue.
#include <memory>
#include <vector>

#include "nn/module.h"
#include "ops/activation.h"
#include "ops/conv.h"
#include "ops/pool.h"

namespace hwnas {

class Conv2d : public Module {
 public:
  Conv2d(int64_t in, int64_t out, int64_t kernel, Conv2dOptions opts, bool bias, Generator& gen);
  Variable forward(const Variable& x) override;
  std::string type_name() const override { return "Conv2d"; }
  Variable weight, bias;
  Conv2dOptions opts;
  int64_t in_channels, out_channels, kernel;
};

class BatchNorm2d : public Module {
 public:
  explicit BatchNorm2d(int64_t channels, float eps = 1e-5f, float momentum = 0.1f, Activation act = Activation::none);
  Variable forward(const Variable& x) override;
  std::string type_name() const override { return "BatchNorm2d"; }
  Variable weight, bias;
  Tensor running_mean, running_var;
  float eps, momentum;
  Activation act;
};

class Linear : public Module {
 public:
  Linear(int64_t in, int64_t out, bool bias, Generator& gen);
  Variable forward(const Variable& x) override;
  std::string type_name() const override { return "Linear"; }
  Variable weight, bias;
};

class ActivationLayer : public Module {
 public:
  explicit ActivationLayer(Activation a) : act(a) {}
  Variable forward(const Variable& x) override { return activate(x, act); }
  std::string type_name() const override { return activation_name(act); }
  Activation act;
};

class Identity : public Module {
 public:
  Variable forward(const Variable& x) override { return x; }
  std::string type_name() const override { return "Identity"; }
};

class GlobalAvgPool : public Module {
 public:
  Variable forward(const Variable& x) override { return global_avg_pool(x); }
  std::string type_name() const override { return "GlobalAvgPool"; }
};

class Pool2d : public Module {
 public:
  Pool2d(bool max, Pool2dOptions o) : is_max(max), opts(o) {}
  Variable forward(const Variable& x) override { return is_max ? max_pool2d(x, opts) : avg_pool2d(x, opts); }
  std::string type_name() const override { return is_max ? "MaxPool2d" : "AvgPool2d"; }
  bool is_max;
  Pool2dOptions opts;
};

class Flatten : public Module {
 public:
  Variable forward(const Variable& x) override;
  std::string type_name() const override { return "Flatten"; }
};

class Dropout : public Module {
 public:
  Dropout(float p, uint64_t seed) : p(p), gen(seed) {}
  Variable forward(const Variable& x) override;
  std::string type_name() const override { return "Dropout"; }
  float p;
  Generator gen;
};

class ChannelShuffle : public Module {
 public:
  explicit ChannelShuffle(int64_t groups) : groups(groups) {}
  Variable forward(const Variable& x) override;
  std::string type_name() const override { return "ChannelShuffle"; }
  int64_t groups;
};

class Sequential : public Module {
 public:
  Sequential() = default;
  void add(const std::string& name, ModulePtr m) { layers_.push_back(register_module(name, std::move(m))); }
  void add(ModulePtr m) { add(std::to_string(layers_.size()), std::move(m)); }
  Variable forward(const Variable& x) override;
  std::string type_name() const override { return "Sequential"; }
  const std::vector<ModulePtr>& layers() const { return layers_; }

 private:
  std::vector<ModulePtr> layers_;
};

class ConvBnAct : public Module {
 public:
  ConvBnAct(int64_t in, int64_t out, int64_t kernel, int64_t stride, int64_t groups, Activation act, Generator& gen,
            float bn_eps = 1e-5f, float bn_momentum = 0.1f);
  Variable forward(const Variable& x) override;
  // Inference with an optional residual added after the activation (MBConv's skip connection),
  // all in the conv's epilogue. Uses the folded weights when prepared, else the unfused ops.
  Variable forward_with_residual(const Variable& x, const Variable& residual);
  std::string type_name() const override { return "ConvBnAct"; }
  std::shared_ptr<Conv2d> conv;
  std::shared_ptr<BatchNorm2d> bn;

 protected:
  void on_train_mode_change() override { folded_w_ = Tensor(); }
  void prepare_inference_self() override;

 private:
  bool use_folded() const;
  Tensor folded_w_, folded_b_;
};

// MBConv (inverted residual), as in both benchmark networks:
// 1x1 expand (groups g) -> BN -> act [-> channel shuffle when g > 1] -> kxk depthwise (stride s)
// -> BN -> act -> 1x1 project (groups g) -> BN, plus identity when stride 1 and C_in == C_out.
// expand == 1 with groups == 1 still has the expand conv (as in the FBNet space's k*_e1 ops).
// radix > 1 replaces the depthwise stage by Split-Attention (nn/split_attention.h) over `radix`
// depthwise filters per channel; then dw_conv is null and split_attention holds the stage.
class SplitAttentionConv;
class MBConv : public Module {
 public:
  MBConv(int64_t in, int64_t out, int64_t kernel, int64_t stride, int64_t expand, int64_t groups, Activation act,
         Generator& gen, int64_t radix = 1);
  Variable forward(const Variable& x) override;
  std::string type_name() const override { return "MBConv"; }
  std::shared_ptr<ConvBnAct> expand_conv, dw_conv, project_conv;
  std::shared_ptr<SplitAttentionConv> split_attention;
  int64_t shuffle_groups = 1;
  bool residual = false;
};

}  // namespace hwnas
