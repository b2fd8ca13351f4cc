#include "cuda/conv.h"

#include <cudnn.h>

#include <list>
#include <memory>
#include <mutex>
#include <unordered_map>

#include "cuda/activation.h"
#include "cuda/cast.h"
#include "cuda/elementwise.h"
#include "cuda/runtime.h"
#include "tensor/error.h"

// The legacy convolution API is deprecated in cuDNN 9 but complete and simple; the graph API
// would buy runtime fusion, which the fused kernels of cuda/ do by hand where it pays.
#pragma GCC diagnostic ignored "-Wdeprecated-declarations"

namespace hwnas::cuda {

namespace {

void check(cudnnStatus_t st, const char* what, const ConvShape& s) {
  if (st != CUDNN_STATUS_SUCCESS)
    fail("conv2d: {} failed: {} (x [{}, {}, {}, {}] NHWC, weight [{}, {}/{}, {}, {}], stride {}x{}, pad {}x{})", what,
         cudnnGetErrorString(st), s.n, s.c_in, s.h, s.w, s.c_out, s.c_in, s.groups, s.kh, s.kw, s.sh, s.sw, s.ph,
         s.pw);
}

struct ShapeHash {
  size_t operator()(const ConvShape& s) const {
    size_t h = 0;
    for (int64_t v : {s.n, s.c_in, s.h, s.w, s.c_out, s.kh, s.kw, s.oh, s.ow, s.sh, s.sw, s.ph, s.pw, s.dh, s.dw, s.groups})
      h = h * 1000003u ^ static_cast<size_t>(v);
    return h * 2 + s.bf16;
  }
};

struct Plan {
  cudnnTensorDescriptor_t x = nullptr, y = nullptr, bias = nullptr;
  cudnnTensorDescriptor_t y_f32 = nullptr;  // the f32 output the bias is added to
  cudnnFilterDescriptor_t w = nullptr;
  cudnnConvolutionDescriptor_t conv = nullptr;
  cudnnConvolutionFwdAlgo_t fwd{};
  cudnnConvolutionBwdDataAlgo_t bwd_data{};
  cudnnConvolutionBwdFilterAlgo_t bwd_filter{};
  size_t ws_fwd = 0, ws_data = 0, ws_filter = 0;
  // cudnnConvolutionBiasActivationForward refused this shape once: the epilogue runs unfused.
  mutable bool bias_act_unsupported = false;
  bool bf16 = false;  // bf16 descriptors (autocast); false also when a bf16 shape fell back to f32
  ~Plan() {
    if (x) cudnnDestroyTensorDescriptor(x);
    if (y) cudnnDestroyTensorDescriptor(y);
    if (bias) cudnnDestroyTensorDescriptor(bias);
    if (y_f32) cudnnDestroyTensorDescriptor(y_f32);
    if (w) cudnnDestroyFilterDescriptor(w);
    if (conv) cudnnDestroyConvolutionDescriptor(conv);
  }
};

struct DeviceCudnn {
  cudnnHandle_t handle = nullptr;
  cudnnActivationDescriptor_t relu = nullptr, relu6 = nullptr;  // for the inference epilogue
  std::list<ConvShape> lru;  // most recent first
  std::unordered_map<ConvShape, std::pair<std::unique_ptr<Plan>, std::list<ConvShape>::iterator>, ShapeHash> plans;
};

std::mutex g_mu;
DeviceCudnn& device_cudnn(int device) {
  static auto* all = new std::unordered_map<int, DeviceCudnn>();  // never destroyed (exit order)
  DeviceCudnn& d = (*all)[device];
  if (!d.handle) {
    if (cudnnCreate(&d.handle) != CUDNN_STATUS_SUCCESS) fail("conv2d: cudnnCreate failed on cuda:{}", device);
    cudnnSetStream(d.handle, static_cast<cudaStream_t>(stream(device)));
    if (cudnnCreateActivationDescriptor(&d.relu) != CUDNN_STATUS_SUCCESS ||
        cudnnCreateActivationDescriptor(&d.relu6) != CUDNN_STATUS_SUCCESS ||
        cudnnSetActivationDescriptor(d.relu, CUDNN_ACTIVATION_RELU, CUDNN_NOT_PROPAGATE_NAN, 0.0) !=
            CUDNN_STATUS_SUCCESS ||
        cudnnSetActivationDescriptor(d.relu6, CUDNN_ACTIVATION_CLIPPED_RELU, CUDNN_NOT_PROPAGATE_NAN, 6.0) !=
            CUDNN_STATUS_SUCCESS)
      fail("conv2d: cannot create cuDNN activation descriptors on cuda:{}", device);
  }
  return d;
}

int i(int64_t v) { return static_cast<int>(v); }

std::unique_ptr<Plan> make_plan(cudnnHandle_t h, const ConvShape& s) {
  auto p = std::make_unique<Plan>();
  p->bf16 = s.bf16;
  check(cudnnCreateTensorDescriptor(&p->x), "descriptor", s);
  check(cudnnCreateTensorDescriptor(&p->y), "descriptor", s);
  check(cudnnCreateTensorDescriptor(&p->y_f32), "descriptor", s);
  check(cudnnCreateTensorDescriptor(&p->bias), "descriptor", s);
  check(cudnnCreateFilterDescriptor(&p->w), "descriptor", s);
  check(cudnnCreateConvolutionDescriptor(&p->conv), "descriptor", s);
  // bf16: x, w and y in bf16 with f32 accumulation (cuDNN's PSEUDO_BFLOAT16 configuration).
  const cudnnDataType_t data = s.bf16 ? CUDNN_DATA_BFLOAT16 : CUDNN_DATA_FLOAT;
  check(cudnnSetTensor4dDescriptor(p->x, CUDNN_TENSOR_NHWC, data, i(s.n), i(s.c_in), i(s.h), i(s.w)),
        "input descriptor", s);
  check(cudnnSetTensor4dDescriptor(p->y, CUDNN_TENSOR_NHWC, data, i(s.n), i(s.c_out), i(s.oh), i(s.ow)),
        "output descriptor", s);
  check(cudnnSetTensor4dDescriptor(p->y_f32, CUDNN_TENSOR_NHWC, CUDNN_DATA_FLOAT, i(s.n), i(s.c_out), i(s.oh), i(s.ow)),
        "output descriptor", s);
  check(cudnnSetTensor4dDescriptor(p->bias, CUDNN_TENSOR_NHWC, CUDNN_DATA_FLOAT, 1, i(s.c_out), 1, 1),
        "bias descriptor", s);
  check(cudnnSetFilter4dDescriptor(p->w, data, CUDNN_TENSOR_NHWC, i(s.c_out), i(s.c_in / s.groups), i(s.kh), i(s.kw)),
        "filter descriptor", s);
  check(cudnnSetConvolution2dDescriptor(p->conv, i(s.ph), i(s.pw), i(s.sh), i(s.sw), i(s.dh), i(s.dw),
                                        CUDNN_CROSS_CORRELATION, CUDNN_DATA_FLOAT),
        "convolution descriptor", s);
  check(cudnnSetConvolutionGroupCount(p->conv, i(s.groups)), "group count", s);
  check(cudnnSetConvolutionMathType(p->conv, s.bf16 ? CUDNN_TENSOR_OP_MATH : CUDNN_FMA_MATH), "math type", s);
  // cuDNN's heuristics (no timing runs, so a plan costs microseconds and is deterministic): the
  // first algorithm that supports this shape.
  constexpr int kMax = 16;
  int found = 0;
  cudnnConvolutionFwdAlgoPerf_t fwd[kMax];
  check(cudnnGetConvolutionForwardAlgorithm_v7(h, p->x, p->w, p->conv, p->y, kMax, &found, fwd), "forward heuristics", s);
  bool ok = false;
  for (int k = 0; k < found && !ok; ++k)
    if (fwd[k].status == CUDNN_STATUS_SUCCESS) p->fwd = fwd[k].algo, ok = true;
  if (!ok) fail("conv2d: cuDNN has no forward algorithm for this shape");
  cudnnConvolutionBwdDataAlgoPerf_t bd[kMax];
  check(cudnnGetConvolutionBackwardDataAlgorithm_v7(h, p->w, p->y, p->conv, p->x, kMax, &found, bd), "backward heuristics",
        s);
  ok = false;
  for (int k = 0; k < found && !ok; ++k)
    if (bd[k].status == CUDNN_STATUS_SUCCESS) p->bwd_data = bd[k].algo, ok = true;
  if (!ok) fail("conv2d: cuDNN has no backward-data algorithm for this shape");
  cudnnConvolutionBwdFilterAlgoPerf_t bf[kMax];
  check(cudnnGetConvolutionBackwardFilterAlgorithm_v7(h, p->x, p->y, p->conv, p->w, kMax, &found, bf),
        "backward heuristics", s);
  ok = false;
  for (int k = 0; k < found && !ok; ++k)
    if (bf[k].status == CUDNN_STATUS_SUCCESS) p->bwd_filter = bf[k].algo, ok = true;
  if (!ok) fail("conv2d: cuDNN has no backward-filter algorithm for this shape");
  check(cudnnGetConvolutionForwardWorkspaceSize(h, p->x, p->w, p->conv, p->y, p->fwd, &p->ws_fwd), "workspace", s);
  check(cudnnGetConvolutionBackwardDataWorkspaceSize(h, p->w, p->y, p->conv, p->x, p->bwd_data, &p->ws_data),
        "workspace", s);
  check(cudnnGetConvolutionBackwardFilterWorkspaceSize(h, p->x, p->y, p->conv, p->w, p->bwd_filter, &p->ws_filter),
        "workspace", s);
  return p;
}

// The plan for `s`, built on first use; the least recently used plan goes when the cache is full.
const Plan& plan_for(DeviceCudnn& d, const ConvShape& s) {
  auto it = d.plans.find(s);
  if (it != d.plans.end()) {
    d.lru.splice(d.lru.begin(), d.lru, it->second.second);
    return *it->second.first;
  }
  if (d.plans.size() >= kConvPlanCacheLimit) {
    d.plans.erase(d.lru.back());
    d.lru.pop_back();
  }
  std::unique_ptr<Plan> plan;
  try {
    plan = make_plan(d.handle, s);
  } catch (const Error&) {
    // A shape cuDNN has no bf16 algorithm for (odd channel counts can lack one) runs in f32.
    if (!s.bf16) throw;
    ConvShape f32 = s;
    f32.bf16 = false;
    plan = make_plan(d.handle, f32);
  }
  d.lru.push_front(s);
  auto& e = d.plans[s];
  e.first = std::move(plan);
  e.second = d.lru.begin();
  return *e.first;
}

// Workspace from the caching allocator; freed right after the call is queued, which is safe
// because blocks are reused only on the same stream, after this call in stream order.
struct Workspace {
  int device;
  void* p = nullptr;
  Workspace(size_t bytes, int dev) : device(dev) {
    if (bytes) p = allocator(dev).allocate(bytes, stream(dev));
  }
  ~Workspace() { allocator(device).deallocate(p); }
};

// A bf16 copy of an f32 operand (autocast), in scratch memory from the caching allocator.
struct Bf16Scratch {
  Workspace ws;
  Bf16Scratch(int64_t n, int dev) : ws(static_cast<size_t>(n) * sizeof(uint16_t), dev) {}
  Bf16Scratch(const float* src, int64_t n, int dev) : Bf16Scratch(n, dev) {
    cast_f32_to_bf16(src, p(), n, dev);
  }
  uint16_t* p() const { return static_cast<uint16_t*>(ws.p); }
};

int64_t x_numel(const ConvShape& s) { return s.n * s.c_in * s.h * s.w; }
int64_t y_numel(const ConvShape& s) { return s.n * s.c_out * s.oh * s.ow; }
int64_t w_numel(const ConvShape& s) { return s.c_out * (s.c_in / s.groups) * s.kh * s.kw; }

}  // namespace

void conv_forward(const ConvShape& s, const float* x, const float* w, const float* bias, float* y, int device) {
  std::lock_guard<std::mutex> lock(g_mu);
  DeviceCudnn& d = device_cudnn(device);
  const Plan& p = plan_for(d, s);
  Workspace ws(p.ws_fwd, device);
  const float one = 1.f, zero = 0.f;
  if (p.bf16) {
    Bf16Scratch xb(x, x_numel(s), device), wb(w, w_numel(s), device), yb(y_numel(s), device);
    check(cudnnConvolutionForward(d.handle, &one, p.x, xb.p(), p.w, wb.p(), p.conv, p.fwd, ws.p, p.ws_fwd, &zero, p.y,
                                  yb.p()),
          "cudnnConvolutionForward (bf16)", s);
    cast_bf16_to_f32(yb.p(), y, y_numel(s), device);
  } else {
    check(cudnnConvolutionForward(d.handle, &one, p.x, x, p.w, w, p.conv, p.fwd, ws.p, p.ws_fwd, &zero, p.y, y),
          "cudnnConvolutionForward", s);
  }
  if (bias) check(cudnnAddTensor(d.handle, &one, p.bias, bias, &one, p.y_f32, y), "bias add", s);
}

void conv_forward_epilogue(const ConvShape& s, const float* x, const float* w, const float* bias, Activation act,
                           const float* residual, float* y, int device) {
  {
    std::lock_guard<std::mutex> lock(g_mu);
    DeviceCudnn& d = device_cudnn(device);
    const Plan& p = plan_for(d, s);
    const cudnnActivationDescriptor_t ad =
        act == Activation::relu ? d.relu : (act == Activation::relu6 ? d.relu6 : nullptr);
    if (ad && bias && !p.bf16 && !p.bias_act_unsupported) {
      Workspace ws(p.ws_fwd, device);
      const float one = 1.f, zero = 0.f;
      // z = y with alpha2 = 0: no residual inside (ours comes after the activation).
      const cudnnStatus_t st = cudnnConvolutionBiasActivationForward(
          d.handle, &one, p.x, x, p.w, w, p.conv, p.fwd, ws.p, p.ws_fwd, &zero, p.y_f32, y, p.bias, bias, ad, p.y_f32, y);
      if (st == CUDNN_STATUS_SUCCESS) {
        if (residual) binary_flat(BinaryKind::add, y, y, residual, y_numel(s), device);
        return;
      }
      if (st != CUDNN_STATUS_NOT_SUPPORTED) check(st, "cudnnConvolutionBiasActivationForward", s);
      p.bias_act_unsupported = true;  // remembered with the plan: unfused from now on
    }
  }
  conv_forward(s, x, w, bias, y, device);
  const int64_t n = y_numel(s);
  if (act != Activation::none) activation_forward(act, y, y, n, device);
  if (residual) binary_flat(BinaryKind::add, y, y, residual, n, device);
}

void conv_backward_data(const ConvShape& s, const float* gy, const float* w, float* gx, int device) {
  std::lock_guard<std::mutex> lock(g_mu);
  DeviceCudnn& d = device_cudnn(device);
  const Plan& p = plan_for(d, s);
  Workspace ws(p.ws_data, device);
  const float one = 1.f, zero = 0.f;
  if (p.bf16) {
    Bf16Scratch gyb(gy, y_numel(s), device), wb(w, w_numel(s), device), gxb(x_numel(s), device);
    check(cudnnConvolutionBackwardData(d.handle, &one, p.w, wb.p(), p.y, gyb.p(), p.conv, p.bwd_data, ws.p, p.ws_data,
                                       &zero, p.x, gxb.p()),
          "cudnnConvolutionBackwardData (bf16)", s);
    cast_bf16_to_f32(gxb.p(), gx, x_numel(s), device);
    return;
  }
  check(cudnnConvolutionBackwardData(d.handle, &one, p.w, w, p.y, gy, p.conv, p.bwd_data, ws.p, p.ws_data, &zero, p.x,
                                     gx),
        "cudnnConvolutionBackwardData", s);
}

void conv_backward_filter(const ConvShape& s, const float* gy, const float* x, float* gw, int device) {
  std::lock_guard<std::mutex> lock(g_mu);
  DeviceCudnn& d = device_cudnn(device);
  const Plan& p = plan_for(d, s);
  Workspace ws(p.ws_filter, device);
  const float one = 1.f, zero = 0.f;
  if (p.bf16) {
    Bf16Scratch xb(x, x_numel(s), device), gyb(gy, y_numel(s), device), gwb(w_numel(s), device);
    check(cudnnConvolutionBackwardFilter(d.handle, &one, p.x, xb.p(), p.y, gyb.p(), p.conv, p.bwd_filter, ws.p,
                                         p.ws_filter, &zero, p.w, gwb.p()),
          "cudnnConvolutionBackwardFilter (bf16)", s);
    cast_bf16_to_f32(gwb.p(), gw, w_numel(s), device);
    return;
  }
  check(cudnnConvolutionBackwardFilter(d.handle, &one, p.x, x, p.y, gy, p.conv, p.bwd_filter, ws.p, p.ws_filter, &zero,
                                       p.w, gw),
        "cudnnConvolutionBackwardFilter", s);
}

size_t conv_plan_cache_size() {
  std::lock_guard<std::mutex> lock(g_mu);
  size_t n = 0;
  for (int dev = 0; dev < device_count(); ++dev) n += device_cudnn(dev).plans.size();
  return n;
}

}  // namespace hwnas::cuda
