#include "hw_targets/cuda_target.h"

#include <algorithm>
#include <chrono>

#include "nn/network.h"
#include "tensor/device_memory.h"
#include "tensor/error.h"

namespace hwnas {

using nlohmann::json;

bool cuda_target_available(std::string* why) {
  if (cuda_device_count() > 0) return true;
  if (why) *why = cuda_unavailable_reason();
  return false;
}

namespace {

struct CudaOptions {
  int device = 0;
  int64_t batch = 1;
  int warmup = 10, runs = 30;
  uint64_t seed = 0;
};

class CudaTarget : public Target {
 public:
  CudaTarget(const json& config, const std::string& source) : config_(config) {
    TargetConfigReader r{config, source};
    r.only({"device", "batch", "warmup", "runs", "seed"});
    o_.device = static_cast<int>(r.integer("device", 0, 0));
    o_.batch = r.integer("batch", 1, 1);
    o_.warmup = static_cast<int>(r.integer("warmup", 10, 0));
    o_.runs = static_cast<int>(r.integer("runs", 30, 1));
    o_.seed = static_cast<uint64_t>(r.integer("seed", 0, 0));
    if (o_.device >= cuda_device_count())
      fail("target {} (kind cuda): device {} does not exist ({} CUDA devices here)", source, o_.device,
           cuda_device_count());
  }
  std::string name() const override { return config_.value("name", std::string("cuda")); }
  std::string kind() const override { return "cuda"; }

  CostResult cost(const NetworkSpec& spec) override {
    const Device dev{DeviceType::cuda, o_.device};
    auto net = build_network(spec, o_.seed);
    net->to(dev);
    net->eval();
    NoGradGuard ng;
    Generator gen(o_.seed);
    Shape in{o_.batch};
    in.insert(in.end(), spec.input.begin(), spec.input.end());
    Variable x(Tensor::randn(in, gen).contiguous(MemoryFormat::channels_last).to(dev));
    for (int i = 0; i < o_.warmup; ++i) net->forward(x);
    synchronize_device(dev);
    std::vector<double> ms;
    for (int i = 0; i < o_.runs; ++i) {
      const auto t0 = std::chrono::steady_clock::now();
      net->forward(x);
      synchronize_device(dev);
      ms.push_back(std::chrono::duration<double, std::milli>(std::chrono::steady_clock::now() - t0).count());
    }
    std::sort(ms.begin(), ms.end());
    CostResult r;
    r.method = CostMethod::measured;
    r.latency_ms = ms[ms.size() / 2];
    const double p10 = ms[ms.size() / 10], p90 = ms[ms.size() * 9 / 10];
    r.spread_pct = r.latency_ms > 0 ? 100.0 * (p90 - p10) / r.latency_ms : 0.0;
    r.details = json{{"p10_ms", p10}, {"p90_ms", p90}, {"runs", o_.runs}, {"batch", o_.batch}, {"device", o_.device}};
    return r;
  }

  json config() const override {
    json c = config_;
    c["device"] = o_.device;
    c["batch"] = o_.batch;
    c["warmup"] = o_.warmup;
    c["runs"] = o_.runs;
    c["seed"] = o_.seed;
    return c;
  }

 private:
  json config_;
  CudaOptions o_;
};

}  // namespace

TargetPtr make_cuda_target(const json& config, const std::string& source) {
  std::string why;
  if (!cuda_target_available(&why)) fail("target {} (kind cuda): cannot measure on a GPU: {}", source, why);
  return std::make_unique<CudaTarget>(config, source);
}

}  // namespace hwnas
