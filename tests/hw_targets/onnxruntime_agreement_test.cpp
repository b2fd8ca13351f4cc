// ONNX Runtime runs our exported networks and gives what our engine gives (eval mode, batch norm
// folded, no autograd), on random inputs at batch 1 and 3 (the dynamic batch dim), with batch
// norm folded into the convs and as BatchNormalization nodes. Batch norm statistics and affine
// parameters are random first, so folding is really exercised. Each ORT call starts node
// (~0.3 s), so the cases are few. Skipped when node or onnxruntime-node is missing.
#include <gtest/gtest.h>

#include <algorithm>
#include <cmath>

#include "hw_targets/onnxruntime_runner.h"
#include "io/onnx_export.h"
#include "nas/builtin_networks.h"
#include "tests/hw_targets/hw_test_util.h"
#include "tests/test_util.h"

using namespace hwnas;
using nlohmann::json;

namespace {

using test::max_abs;
using test::max_abs_diff;
using test::randomize_batch_norms;

struct Case {
  bool fold;
  int64_t batch;
  int opset = 13;
};

// Exports `spec` for each case and compares ONNX Runtime with the engine on the same input.
void expect_agreement(const NetworkSpec& spec, uint64_t seed, const std::vector<Case>& cases) {
  auto net = build_network(spec, seed);
  Generator g(seed + 100);
  randomize_batch_norms(*net, g);
  net->eval();
  net->prepare_inference();
  test::TempDir dir("ort_agree");
  for (const Case& c : cases) {
    Tensor x = Tensor::randn({c.batch, spec.input[0], spec.input[1], spec.input[2]}, g);
    Tensor want;
    {
      NoGradGuard ng;
      want = net->forward(Variable(x)).data();
    }
    const std::string path = dir / fmt::format("m_{}_{}_{}.onnx", c.fold, c.batch, c.opset);
    OnnxExportOptions o;
    o.fold_bn = c.fold;
    o.opset = c.opset;
    export_onnx_file(spec, *net, path, o);
    const Tensor got = run_onnx_model(path, x);
    ASSERT_EQ(got.shape(), want.shape());
    const float d = max_abs_diff(got, want);
    std::printf("[agreement] %s fold=%d batch=%lld opset=%d: max |ort - engine| = %.3g (max |logit| %.3g)\n",
                spec.name.c_str(), c.fold, static_cast<long long>(c.batch), c.opset, d, max_abs(want));
    EXPECT_LE(d, 1e-4f) << spec.name << " fold=" << c.fold << " batch=" << c.batch;
  }
}

}  // namespace

TEST(OnnxRuntimeAgreement, FbnetArchZero) {
  SKIP_WITHOUT_ORT();
  expect_agreement(fbnet_network(fbnet_arch_ops(test::kFbnetArch0), "fbnet:0"), 11, {{true, 1}, {true, 3}, {false, 3}});
}

TEST(OnnxRuntimeAgreement, ElasticMobileMaxAndMin) {
  SKIP_WITHOUT_ORT();
  expect_agreement(resolve_network("elastic-mobile:max"), 12, {{true, 1}, {false, 3}});
  expect_agreement(resolve_network("elastic-mobile:min"), 13, {{true, 3}, {false, 1}});
}

// hswish (composed at opset 13, HardSwish at 14), hsigmoid, swish, sigmoid, pools with padding,
// a plain conv with bias followed by batch_norm, channel shuffles, flatten, dropout, linear.
TEST(OnnxRuntimeAgreement, EveryLayerType) {
  SKIP_WITHOUT_ORT();
  const NetworkSpec spec = parse_network_spec(json::parse(R"({"name": "all", "input": [3, 12, 12], "classes": 5,
    "layers": [{"type": "conv_bn_act", "out": 8, "kernel": 3, "act": "hswish"},
               {"type": "max_pool", "kernel": 3, "stride": 2, "padding": 1},
               {"type": "conv", "out": 8, "kernel": 3, "padding": 1, "groups": 2, "bias": true},
               {"type": "batch_norm", "act": "swish"}, {"type": "channel_shuffle", "groups": 4},
               {"type": "mbconv", "out": 8, "kernel": 3, "expand": 2, "groups": 2, "act": "hsigmoid"},
               {"type": "activation", "act": "relu6"}, {"type": "identity"},
               {"type": "avg_pool", "kernel": 3, "stride": 2, "padding": 1}, {"type": "activation", "act": "sigmoid"},
               {"type": "flatten"}, {"type": "dropout", "p": 0.2}, {"type": "linear", "out": 5}]})"),
                                              "all");
  expect_agreement(spec, 14, {{true, 1}, {false, 3}, {true, 3, 14}});
}

TEST(OnnxRuntimeAgreement, SplitAttention) {
  SKIP_WITHOUT_ORT();
  const NetworkSpec spec = parse_network_spec(json::parse(R"({"name": "sa", "input": [8, 10, 10], "classes": 4,
    "layers": [{"type": "mbconv", "out": 8, "kernel": 5, "expand": 3, "radix": 2, "act": "relu6"},
               {"type": "mbconv", "out": 12, "kernel": 3, "stride": 2, "expand": 2, "radix": 4},
               {"type": "global_avg_pool"}, {"type": "linear", "out": 4}]})"),
                                              "sa");
  expect_agreement(spec, 15, {{true, 3}, {false, 1}});
}

// A fragment (classes 0, as the lookup-table builder times single layers): a 4-D output.
TEST(OnnxRuntimeAgreement, Fragment) {
  SKIP_WITHOUT_ORT();
  NetworkSpec spec;
  spec.name = "fragment";
  spec.input = {16, 9, 9};
  spec.layers = json::parse(R"([{"type": "mbconv", "out": 24, "kernel": 5, "stride": 2, "expand": 3, "groups": 2}])");
  expect_agreement(spec, 16, {{true, 3}});
}
