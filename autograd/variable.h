#pragma once
// Define-by-run reverse-mode autograd. A Variable is a tensor plus, when it was produced by an
// op while grad mode was on, the Node that produced it. A Node keeps its inputs and a backward
// closure holding exactly the tensors the backward needs; backward() frees both (unless asked
// to retain the graph), so a second backward through the same graph fails with a clear error.
// Gradients of leaves accumulate: a weight used by several subnets (weight sharing) sums the
// gradients of all of them.
#include <functional>
#include <memory>
#include <string>
#include <vector>

#include "tensor/tensor.h"

namespace hwnas {

struct Node;

struct VariableImpl {
  Tensor data;
  Tensor grad;  // leaves only; undefined until the first backward reaches it
  bool requires_grad = false;
  std::shared_ptr<Node> grad_fn;  // null for leaves and for results computed without grad
  std::string name;
};

class Variable {
 public:
  Variable() = default;
  explicit Variable(Tensor data, bool requires_grad = false, std::string name = {});

  bool defined() const { return impl_ != nullptr; }
  const Tensor& data() const { return impl_->data; }
  Tensor& data() { return impl_->data; }
  const Tensor& grad() const { return impl_->grad; }
  Tensor& mutable_grad() { return impl_->grad; }
  void zero_grad() { impl_->grad = Tensor(); }
  bool requires_grad() const { return impl_ && impl_->requires_grad; }
  void set_requires_grad(bool r) { impl_->requires_grad = r; }
  bool is_leaf() const { return !impl_->grad_fn; }
  const std::shared_ptr<Node>& grad_fn() const { return impl_->grad_fn; }
  const std::string& name() const { return impl_->name; }
  void set_name(std::string n) { impl_->name = std::move(n); }
  VariableImpl* impl() const { return impl_.get(); }

  const Shape& shape() const { return impl_->data.shape(); }
  int64_t size(int64_t d) const { return impl_->data.size(d); }
  int64_t dim() const { return impl_->data.dim(); }
  int64_t numel() const { return impl_->data.numel(); }
  float item() const { return impl_->data.item(); }

  // A Variable sharing the data but cut from the graph.
  Variable detach() const { return Variable(impl_->data, false); }

  // Reverse-mode sweep from this variable. `grad_output` defaults to ones for a scalar.
  void backward(const Tensor& grad_output = {}, bool retain_graph = false) const;

 private:
  std::shared_ptr<VariableImpl> impl_;
  friend Variable make_variable_with_node(Tensor, std::shared_ptr<Node>);
};

// Gradient of a node's output -> gradients for each of its inputs (an undefined Tensor means
// "no gradient", e.g. for integer inputs or inputs that do not require grad).
using BackwardFn = std::function<std::vector<Tensor>(const Tensor& grad_output)>;

struct Node {
  std::string op;  // op name, for error messages
  std::vector<Variable> inputs;
  BackwardFn backward;
  bool released = false;
};

// Grad mode: thread-local; ops record nodes only when it is on.
bool grad_enabled();
class NoGradGuard {
 public:
  NoGradGuard();
  ~NoGradGuard();
  NoGradGuard(const NoGradGuard&) = delete;
  NoGradGuard& operator=(const NoGradGuard&) = delete;

 private:
  bool prev_;
};

// Wraps an op's output. When grad mode is on and some input requires grad, records a Node
// with `backward`; otherwise `backward` is dropped (so its saved tensors are never kept).
Variable make_result(Tensor out, const char* op, std::vector<Variable> inputs, BackwardFn backward);

// True when any of the inputs needs a gradient and grad mode is on: ops use it to skip saving
// tensors for a backward that will never run.
bool needs_grad(const std::vector<Variable>& inputs);

// Runs the backward sweep from several roots at once (their gradients given).
void run_backward(const std::vector<Variable>& roots, const std::vector<Tensor>& grads, bool retain_graph);

}  // namespace hwnas
