#include "nas/dnas.h"

#include <algorithm>

#include "ops/mixed_op.h"
#include "ops/softmax.h"

namespace hwnas {

const Variable& ArchWeights::at(const SearchSpace& s, DimKind kind, size_t pos) const {
  for (size_t i = 0; i < s.dims.size(); ++i)
    if (s.dims[i].kind == kind && s.dims[i].pos == pos) return w.at(i);
  fail("ArchWeights: {} has no {} dimension at position {}", s.name, dim_name(kind), pos);
}

DnasState::DnasState(const SearchSpace& space, float lr) : space_(space) {
  for (const Dimension& d : space.dims)
    logits_.emplace_back(Tensor::zeros({static_cast<int64_t>(d.size())}), true);
  // FBNet trains the logits with Adam (lr 0.01 there) and no weight decay.
  opt_ = std::make_unique<AdamW>(logits_, AdamWOptions{lr, 0.9f, 0.999f, 1e-8f, 0.f});
}

ArchWeights DnasState::sample_weights(float tau, Generator& gen) const {
  ArchWeights a;
  for (const Variable& l : logits_) a.w.push_back(gumbel_softmax(l, tau, gen));
  return a;
}

ArchWeights DnasState::mean_weights() const {
  ArchWeights a;
  for (const Variable& l : logits_) a.w.push_back(softmax(l, 0));
  return a;
}

Arch DnasState::derived_arch() const {
  std::vector<size_t> choices;
  for (const Variable& l : logits_) {
    const Tensor t = l.data().contiguous();
    const float* p = t.data<float>();
    choices.push_back(static_cast<size_t>(std::max_element(p, p + t.numel()) - p));
  }
  return arch_from_choices(space_, choices);
}

nlohmann::json DnasState::probabilities_json() const {
  nlohmann::json j = nlohmann::json::array();
  for (size_t i = 0; i < logits_.size(); ++i) {
    NoGradGuard ng;
    const Tensor p = softmax(logits_[i], 0).data().contiguous();
    const Dimension& d = space_.dims[i];
    j.push_back({{"dim", dim_name(d.kind)}, {"pos", d.pos},
                 {"probabilities", std::vector<float>(p.data<float>(), p.data<float>() + p.numel())}});
  }
  return j;
}

void DnasState::zero_grad() { opt_->zero_grad(); }
void DnasState::step() { opt_->step(); }

std::vector<std::pair<std::string, Tensor>> DnasState::state() {
  std::vector<std::pair<std::string, Tensor>> s;
  for (size_t i = 0; i < logits_.size(); ++i) s.emplace_back("logits." + std::to_string(i), logits_[i].data());
  for (auto& [n, t] : opt_->state()) s.emplace_back("optimizer." + n, t);
  return s;
}

}  // namespace hwnas
