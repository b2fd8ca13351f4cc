#include "nn/module.h"

namespace hwnas {

void Module::train(bool on) {
  training_ = on;
  on_train_mode_change();
  for (auto& [n, c] : children_) c->train(on);
}

void Module::prepare_inference() {
  prepare_inference_self();
  for (auto& [n, c] : children_) c->prepare_inference();
}

Variable& Module::register_parameter(const std::string& name, Tensor t) {
  params_.emplace_back(name, Variable(std::move(t), /*requires_grad=*/true, name));
  return params_.back().second;
}

Tensor& Module::register_buffer(const std::string& name, Tensor t) {
  buffers_.emplace_back(name, std::move(t));
  return buffers_.back().second;
}

void Module::collect_parameters(const std::string& prefix, std::vector<std::pair<std::string, Variable>>& out) const {
  for (auto& [n, p] : params_) out.emplace_back(prefix + n, p);
  for (auto& [n, c] : children_) c->collect_parameters(prefix + n + ".", out);
}

void Module::collect_buffers(const std::string& prefix, std::vector<std::pair<std::string, Tensor>>& out) const {
  for (auto& [n, b] : buffers_) out.emplace_back(prefix + n, b);
  for (auto& [n, c] : children_) c->collect_buffers(prefix + n + ".", out);
}

std::vector<std::pair<std::string, Variable>> Module::named_parameters() const {
  std::vector<std::pair<std::string, Variable>> out;
  collect_parameters("", out);
  return out;
}

std::vector<std::pair<std::string, Tensor>> Module::named_buffers() const {
  std::vector<std::pair<std::string, Tensor>> out;
  collect_buffers("", out);
  return out;
}

void Module::to(Device device) {
  for (auto& [n, p] : named_parameters()) {
    p.zero_grad();
    p.data().storage()->move_to(device);
  }
  for (auto& [n, b] : named_buffers())
    if (b.defined()) b.storage()->move_to(device);
  train(is_training());  // drops inference state prepared for the old device (folded weights)
}

std::vector<Variable> Module::parameters() const {
  std::vector<Variable> out;
  for (auto& [n, p] : named_parameters()) out.push_back(p);
  return out;
}

std::vector<std::pair<std::string, Tensor>> Module::state() const {
  std::vector<std::pair<std::string, Tensor>> out;
  for (auto& [n, p] : named_parameters()) out.emplace_back(n, p.data());
  for (auto& [n, b] : named_buffers()) out.emplace_back(n, b);
  return out;
}

int64_t Module::num_parameters() const {
  int64_t n = 0;
  for (auto& [name, p] : named_parameters()) n += p.numel();
  return n;
}

}  // namespace hwnas
