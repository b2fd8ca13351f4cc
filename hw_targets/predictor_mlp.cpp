#include "hw_targets/predictor_mlp.h"

#include <cmath>
#include <numeric>

#include "nas/progress_bar.h"
#include "nn/init.h"
#include "nn/optim.h"
#include "ops/activation.h"
#include "ops/elementwise.h"
#include "ops/matmul.h"
#include "ops/reduce.h"
#include "ops/shape_ops.h"

namespace hwnas {

using nlohmann::json;

namespace {

// PyTorch's nn.Linear initialization: weights and bias U(-1/sqrt(in), 1/sqrt(in)).
Variable init_weight(int64_t out, int64_t in, Generator& gen) {
  Tensor w = Tensor::empty({out, in});
  uniform_(w, gen, -1.f / std::sqrt(float(in)), 1.f / std::sqrt(float(in)));
  return Variable(w, true);
}
Variable init_bias(int64_t out, int64_t in, Generator& gen) {
  Tensor b = Tensor::empty({out});
  uniform_(b, gen, -1.f / std::sqrt(float(in)), 1.f / std::sqrt(float(in)));
  return Variable(b, true);
}

json tensor_json(const Variable& v) { return {{"shape", v.shape()}, {"data", v.data().to_vector()}}; }

Variable tensor_from_json(const json& j, const Shape& expected, const std::string& source, const std::string& what) {
  if (!j.is_object() || !j.contains("shape") || !j.contains("data"))
    fail("{}: mlp model: {} needs \"shape\" and \"data\"", source, what);
  const Shape shape = j.at("shape").get<Shape>();
  if (shape != expected) fail("{}: mlp model: {} has shape {}, expected {}", source, what, shape_str(shape), shape_str(expected));
  std::vector<float> data;
  for (const auto& v : j.at("data")) {
    if (!v.is_number()) fail("{}: mlp model: {} holds {}, expected numbers", source, what, v.dump());
    data.push_back(v.get<float>());
  }
  if (int64_t(data.size()) != shape_numel(shape))
    fail("{}: mlp model: {} has {} values for shape {}", source, what, data.size(), shape_str(shape));
  return Variable(Tensor::from_vector(data, shape));
}

}  // namespace

MlpPredictor::MlpPredictor(const SearchSpace& s, int64_t hidden, int64_t layers, uint64_t seed) : LatencyPredictor(s) {
  HWNAS_CHECK(hidden >= 1 && layers >= 1, "mlp predictor: hidden {} and layers {} must be at least 1", hidden, layers);
  Generator gen(seed);
  int64_t in = int64_t(enc_.width());
  for (int64_t l = 0; l < layers; ++l) {
    w_.push_back(init_weight(hidden, in, gen));
    b_.push_back(init_bias(hidden, in, gen));
    in = hidden;
  }
  w_out_ = init_weight(1, hidden, gen);
  b_out_ = init_bias(1, hidden, gen);
  w_skip_ = Variable(Tensor::zeros({1, int64_t(enc_.width())}), true);
}

std::vector<Variable> MlpPredictor::parameters() const {
  std::vector<Variable> p;
  for (size_t l = 0; l < w_.size(); ++l) p.push_back(w_[l]), p.push_back(b_[l]);
  p.push_back(w_out_);
  p.push_back(b_out_);
  p.push_back(w_skip_);
  return p;
}

Variable MlpPredictor::forward(const Variable& x) const {
  Variable h = x;
  for (size_t l = 0; l < w_.size(); ++l) h = swish(linear(h, w_[l], b_[l]));
  const Variable out = add(linear(h, w_out_, b_out_), linear(x, w_skip_, Variable()));
  return reshape(out, {x.size(0)});
}

std::unique_ptr<MlpPredictor> MlpPredictor::fit(const SearchSpace& s, const std::vector<Arch>& archs,
                                                const std::vector<double>& latency_ms, const MlpOptions& o) {
  HWNAS_CHECK(archs.size() == latency_ms.size() && archs.size() >= 2,
              "mlp predictor: {} archs and {} latencies; at least 2 samples are needed", archs.size(), latency_ms.size());
  HWNAS_CHECK(o.steps >= 1 && o.batch >= 1, "mlp predictor: steps {} and batch {} must be at least 1", o.steps, o.batch);
  std::unique_ptr<MlpPredictor> m(new MlpPredictor(s, o.hidden, o.layers, o.seed));
  const size_t n = archs.size(), width = m->enc_.width();
  const double avg = std::accumulate(latency_ms.begin(), latency_ms.end(), 0.0) / double(n);
  double var = 0;
  for (double y : latency_ms) var += (y - avg) * (y - avg);
  m->y_mean_ = avg;
  m->y_std_ = std::max(std::sqrt(var / double(n)), 1e-6 * std::max(std::fabs(avg), 1.0));
  std::vector<std::vector<size_t>> active(n);
  for (size_t i = 0; i < n; ++i) active[i] = m->enc_.active(archs[i]);

  AdamWOptions ao;
  ao.lr = o.lr;
  ao.weight_decay = o.weight_decay;
  AdamW opt(m->parameters(), ao);
  Generator gen(o.seed ^ 0x9e3779b97f4a7c15ULL);
  const size_t batch = std::min<size_t>(size_t(o.batch), n);
  std::vector<size_t> order(n);
  std::iota(order.begin(), order.end(), 0);
  size_t cursor = n;  // reshuffle at the first step
  TaskProgress progress(o.progress, "training mlp predictor", o.steps);
  double loss_sum = 0;
  int64_t loss_count = 0;
  for (int64_t step = 0; step < o.steps; ++step) {
    Tensor xb = Tensor::zeros({int64_t(batch), int64_t(width)});
    std::vector<float> yb(batch);
    float* xp = xb.data<float>();
    for (size_t i = 0; i < batch; ++i) {
      if (cursor == n) {
        for (size_t k = n - 1; k > 0; --k) std::swap(order[k], order[gen.below(k + 1)]);
        cursor = 0;
      }
      const size_t r = order[cursor++];
      for (size_t j : active[r]) xp[i * width + j] = 1.f;
      yb[i] = float((latency_ms[r] - m->y_mean_) / m->y_std_);
    }
    opt.set_lr(cosine_lr(step, o.steps, 0, o.lr, o.lr * 0.01f));
    opt.zero_grad();
    const Variable diff = sub(m->forward(Variable(xb)), Variable(Tensor::from_vector(yb, {int64_t(batch)})));
    const Variable loss = mean(mul(diff, diff));
    loss.backward();
    opt.step();
    if (step >= o.steps - std::max<int64_t>(1, o.steps / 10)) loss_sum += loss.item(), ++loss_count;
    progress.update(step + 1);
  }
  m->final_loss_ = loss_sum / double(std::max<int64_t>(loss_count, 1));
  // Fitted weights are constants to a search: predict_soft's gradient goes to the encoding only.
  for (Variable& v : m->parameters()) v.set_requires_grad(false);
  return m;
}

double MlpPredictor::predict(const Arch& a) const { return predict(std::vector<Arch>{a})[0]; }

std::vector<double> MlpPredictor::predict(const std::vector<Arch>& archs) const {
  NoGradGuard no_grad;
  const size_t width = enc_.width();
  std::vector<double> out;
  out.reserve(archs.size());
  for (size_t start = 0; start < archs.size(); start += 1024) {
    const size_t b = std::min<size_t>(1024, archs.size() - start);
    Tensor x = Tensor::zeros({int64_t(b), int64_t(width)});
    float* xp = x.data<float>();
    for (size_t i = 0; i < b; ++i)
      for (size_t j : enc_.active(archs[start + i])) xp[i * width + j] = 1.f;
    for (float v : forward(Variable(x)).data().to_vector()) out.push_back(y_mean_ + y_std_ * double(v));
  }
  return out;
}

Variable MlpPredictor::predict_soft(const Variable& probs) const {
  return add_scalar(mul_scalar(forward(enc_.flatten_soft(probs)), float(y_std_)), float(y_mean_));
}

json MlpPredictor::model_json() const {
  json hidden = json::array();
  for (size_t l = 0; l < w_.size(); ++l) hidden.push_back({{"weight", tensor_json(w_[l])}, {"bias", tensor_json(b_[l])}});
  return {{"activation", "swish"},          {"hidden", hidden},         {"out_weight", tensor_json(w_out_)},
          {"out_bias", tensor_json(b_out_)}, {"skip_weight", tensor_json(w_skip_)}, {"y_mean_ms", y_mean_},
          {"y_std_ms", y_std_},              {"final_train_loss", final_loss_}};
}

std::unique_ptr<MlpPredictor> MlpPredictor::from_json(const SearchSpace& s, const json& m, const std::string& source) {
  try {
    return from_json_checked(s, m, source);
  } catch (const json::exception& e) {
    fail("{}: mlp model: {}", source, e.what());
  }
}

std::unique_ptr<MlpPredictor> MlpPredictor::from_json_checked(const SearchSpace& s, const json& m,
                                                              const std::string& source) {
  if (!m.is_object() || !m.contains("hidden") || !m.at("hidden").is_array() || m.at("hidden").empty())
    fail("{}: mlp model needs a non-empty \"hidden\" array", source);
  for (const char* key : {"out_weight", "out_bias", "skip_weight", "y_mean_ms", "y_std_ms"})
    if (!m.contains(key)) fail("{}: mlp model: missing key \"{}\"", source, key);
  if (m.value("activation", "swish") != "swish")
    fail("{}: mlp model: activation {} is not supported (expected swish)", source, m.at("activation").dump());
  const auto& hid = m.at("hidden");
  const int64_t hidden = hid[0].at("bias").at("shape").at(0).get<int64_t>();
  std::unique_ptr<MlpPredictor> p(new MlpPredictor(s, hidden, int64_t(hid.size()), 0));
  int64_t in = int64_t(p->enc_.width());
  for (size_t l = 0; l < hid.size(); ++l) {
    p->w_[l] = tensor_from_json(hid[l].at("weight"), {hidden, in}, source, fmt::format("hidden[{}].weight", l));
    p->b_[l] = tensor_from_json(hid[l].at("bias"), {hidden}, source, fmt::format("hidden[{}].bias", l));
    in = hidden;
  }
  p->w_out_ = tensor_from_json(m.at("out_weight"), {1, hidden}, source, "out_weight");
  p->b_out_ = tensor_from_json(m.at("out_bias"), {1}, source, "out_bias");
  p->w_skip_ = tensor_from_json(m.at("skip_weight"), {1, int64_t(p->enc_.width())}, source, "skip_weight");
  p->y_mean_ = m.at("y_mean_ms").get<double>();
  p->y_std_ = m.at("y_std_ms").get<double>();
  p->final_loss_ = m.value("final_train_loss", 0.0);
  for (Variable& v : p->parameters()) v.set_requires_grad(false);
  return p;
}

}  // namespace hwnas
