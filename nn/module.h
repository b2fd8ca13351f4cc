#pragma once
// Modules own parameters (Variables that require grad) and buffers (running statistics),
// named hierarchically ("blocks.3.dw.bn.weight") so checkpoints and safetensors files can
// address them. Children are shared_ptrs: a supernet's subnets share modules, not copies.
#include <memory>
#include <string>
#include <utility>
#include <vector>

#include "autograd/variable.h"

namespace hwnas {

class Module {
 public:
  virtual ~Module() = default;
  virtual Variable forward(const Variable& x) = 0;
  Variable operator()(const Variable& x) { return forward(x); }
  virtual std::string type_name() const = 0;

  // Training mode switches batch norm statistics and dropout; it also drops any inference
  // preparation (folded weights), which is only valid for the weights it was computed from.
  void train(bool on = true);
  void eval() { train(false); }
  bool is_training() const { return training_; }
  // Precomputes inference-only state (e.g. batch norm folded into conv weights); forward()
  // under NoGradGuard in eval mode then uses it. Call again after changing weights.
  void prepare_inference();

  std::vector<std::pair<std::string, Variable>> named_parameters() const;
  std::vector<std::pair<std::string, Tensor>> named_buffers() const;
  std::vector<Variable> parameters() const;
  // Moves every parameter and buffer to `device` in place (their storage moves, so the views
  // layers hold follow) and drops the gradients. Optimizers are made after the move.
  void to(Device device);
  // Parameters then buffers, with their names: what a checkpoint stores.
  std::vector<std::pair<std::string, Tensor>> state() const;
  int64_t num_parameters() const;
  const std::vector<std::pair<std::string, std::shared_ptr<Module>>>& children() const { return children_; }

 protected:
  Variable& register_parameter(const std::string& name, Tensor t);
  Tensor& register_buffer(const std::string& name, Tensor t);
  template <class M>
  std::shared_ptr<M> register_module(const std::string& name, std::shared_ptr<M> m) {
    children_.emplace_back(name, m);
    return m;
  }
  virtual void on_train_mode_change() {}
  virtual void prepare_inference_self() {}

 private:
  void collect_parameters(const std::string& prefix, std::vector<std::pair<std::string, Variable>>& out) const;
  void collect_buffers(const std::string& prefix, std::vector<std::pair<std::string, Tensor>>& out) const;
  std::vector<std::pair<std::string, Variable>> params_;
  std::vector<std::pair<std::string, Tensor>> buffers_;
  std::vector<std::pair<std::string, std::shared_ptr<Module>>> children_;
  bool training_ = true;
};

using ModulePtr = std::shared_ptr<Module>;

}  // namespace hwnas
