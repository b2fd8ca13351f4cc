#include "hw_targets/cuda_target.h"

#include <algorithm>
#include <chrono>

#include "nn/network.h"
#include "ops/autocast.h"
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
  DType autocast = DType::f32;  // bf16: convs and linear layers on the tensor cores (ops/autocast.h)
};

// Every key and value checked without touching a GPU, so a bad config fails the same everywhere.
CudaOptions read_cuda_options(const json& config, const std::string& source) {
  TargetConfigReader r{config, source};
  r.only({"device", "batch", "warmup", "runs", "seed", "autocast"});
  CudaOptions o;
  o.device = static_cast<int>(r.integer("device", 0, 0));
  o.batch = r.integer("batch", 1, 1);
  o.warmup = static_cast<int>(r.integer("warmup", 10, 0));
  o.runs = static_cast<int>(r.integer("runs", 30, 1));
  o.seed = static_cast<uint64_t>(r.integer("seed", 0, 0));
  o.autocast = parse_autocast(r.string("autocast", "off"), "target " + source + " (kind cuda): autocast");
  return o;
}

class CudaTarget : public Target {
 public:
  CudaTarget(const json& config, const std::string& source, const CudaOptions& o) : config_(config), o_(o) {
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
    net->prepare_inference();  // batch norm folded into the convs, as on the CPU (nn/measure.h)
    NoGradGuard ng;
    const AutocastScope autocast(o_.autocast);
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
    r.details = json{{"p10_ms", p10},       {"p90_ms", p90},         {"runs", o_.runs},
                     {"batch", o_.batch},   {"device", o_.device},   {"autocast", autocast_name(o_.autocast)}};
    return r;
  }

  json config() const override {
    json c = config_;
    c["device"] = o_.device;
    c["batch"] = o_.batch;
    c["warmup"] = o_.warmup;
    c["runs"] = o_.runs;
    c["seed"] = o_.seed;
    c["autocast"] = autocast_name(o_.autocast);
    return c;
  }

 private:
  json config_;
  CudaOptions o_;
};

}  // namespace

TargetPtr make_cuda_target(const json& config, const std::string& source) {
  const CudaOptions o = read_cuda_options(config, source);
  std::string why;
  if (!cuda_target_available(&why)) fail("target {} (kind cuda): cannot measure on a GPU: {}", source, why);
  return std::make_unique<CudaTarget>(config, source, o);
}

}  // namespace hwnas
