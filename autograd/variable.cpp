#include "autograd/variable.h"

#include "autograd/op_trace.h"

#include <algorithm>
#include <unordered_map>
#include <unordered_set>

#include "autograd/grad_accumulate.h"

namespace hwnas {

namespace {
thread_local bool g_grad_enabled = true;
const std::shared_ptr<Node>& nullptr_node() {
  static const std::shared_ptr<Node> none;
  return none;
}
}  // namespace

bool grad_enabled() { return g_grad_enabled; }
NoGradGuard::NoGradGuard() : prev_(g_grad_enabled) { g_grad_enabled = false; }
NoGradGuard::~NoGradGuard() { g_grad_enabled = prev_; }

Variable::Variable(Tensor data, bool requires_grad, std::string name) : impl_(std::make_shared<VariableImpl>()) {
  impl_->data = std::move(data);
  impl_->requires_grad = requires_grad;
  impl_->name = std::move(name);
}

Variable make_variable_with_node(Tensor data, std::shared_ptr<Node> node) {
  Variable v(std::move(data), true);
  v.impl_->grad_fn = std::move(node);
  return v;
}

bool needs_grad(const std::vector<Variable>& inputs) {
  if (!g_grad_enabled) return false;
  return std::any_of(inputs.begin(), inputs.end(), [](const Variable& v) { return v.defined() && v.requires_grad(); });
}

namespace {
thread_local OpTrace* g_trace = nullptr;
}  // namespace

OpTrace::OpTrace() : outer_(g_trace) { g_trace = this; }
OpTrace::~OpTrace() { g_trace = outer_; }

void record_op(const char* op) {
  if (g_trace) g_trace->ops_.insert(op);
}

Variable make_result(Tensor out, const char* op, std::vector<Variable> inputs, BackwardFn backward) {
  record_op(op);
  if (!needs_grad(inputs)) return Variable(std::move(out), false);
  auto node = std::make_shared<Node>();
  node->op = op;
  node->inputs = std::move(inputs);
  node->backward = std::move(backward);
  return make_variable_with_node(std::move(out), std::move(node));
}

void Variable::backward(const Tensor& grad_output, bool retain_graph) const {
  Tensor g = grad_output;
  if (!g.defined()) {
    if (numel() != 1)
      fail("backward: a gradient is needed for a non-scalar output of shape {}", shape_str(shape()));
    g = Tensor::ones(shape()).to(data().device());
  }
  run_backward({*this}, {g}, retain_graph);
}

void run_backward(const std::vector<Variable>& roots, const std::vector<Tensor>& grads, bool retain_graph) {
  if (roots.size() != grads.size()) fail("backward: {} roots but {} gradients", roots.size(), grads.size());
  // Topological order of the nodes reachable from the roots (iterative DFS: deep nets would
  // overflow the stack with recursion). `order` holds shared_ptrs: clearing a node's inputs at
  // the end can drop the last reference to an upstream node that is still in the list.
  std::vector<std::shared_ptr<Node>> order;
  std::unordered_set<Node*> seen;
  std::vector<std::pair<std::shared_ptr<Node>, size_t>> stack;
  for (const auto& r : roots) {
    if (!r.requires_grad()) fail("backward: the output does not require grad (was it computed under NoGradGuard?)");
    if (const auto& n = r.grad_fn(); n && seen.insert(n.get()).second) stack.push_back({n, 0});
    while (!stack.empty()) {
      Node* n = stack.back().first.get();
      size_t& i = stack.back().second;
      if (i < n->inputs.size()) {
        const std::shared_ptr<Node>& next = n->inputs[i++].defined() ? n->inputs[i - 1].grad_fn() : nullptr_node();
        if (next && seen.insert(next.get()).second) stack.push_back({next, 0});
      } else {
        order.push_back(std::move(stack.back().first));
        stack.pop_back();
      }
    }
  }
  std::reverse(order.begin(), order.end());

  std::unordered_map<Node*, Tensor> pending;
  auto deliver = [&](const Variable& v, const Tensor& g) {
    if (!g.defined() || !v.defined() || !v.requires_grad()) return;
    if (g.shape() != v.shape())
      fail("backward: gradient of shape {} for a variable of shape {} (op '{}')", shape_str(g.shape()),
           shape_str(v.shape()), v.grad_fn() ? v.grad_fn()->op : "leaf");
    if (v.grad_fn()) accumulate_grad(pending[v.grad_fn().get()], g);
    else accumulate_grad(v.impl()->grad, g, /*own_copy=*/true);
  };
  for (size_t i = 0; i < roots.size(); ++i) deliver(roots[i], grads[i]);

  for (const auto& node : order) {
    Node* n = node.get();
    auto it = pending.find(n);
    if (it == pending.end()) continue;
    if (n->released)
      fail("backward: trying to backward through op '{}' a second time, but its saved tensors were freed by the "
           "first backward; call backward(grad, /*retain_graph=*/true) the first time",
           n->op);
    Tensor g = std::move(it->second);
    pending.erase(it);
    std::vector<Tensor> in_grads = n->backward(g);
    if (in_grads.size() != n->inputs.size())
      fail("backward: op '{}' returned {} gradients for {} inputs", n->op, in_grads.size(), n->inputs.size());
    for (size_t i = 0; i < in_grads.size(); ++i) deliver(n->inputs[i], in_grads[i]);
    if (!retain_graph) {
      n->backward = nullptr;  // frees the saved tensors
      n->released = true;
    }
  }
  if (!retain_graph) {
    // Inputs are dropped only after the sweep: a node may be reached through several paths.
    for (const auto& n : order) {
      n->inputs.clear();
      n->backward = nullptr;
      n->released = true;
    }
  }
}

}  // namespace hwnas
