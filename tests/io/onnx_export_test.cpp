// ONNX export without ONNX Runtime: the checker, the graph's structure against counts derived
// from the spec, folded weights against the batch norm formula computed here, and the errors.
// Numerical agreement with ONNX Runtime is in tests/hw_targets/onnxruntime_agreement_test.cpp.
#include "io/onnx_export.h"

#include <gtest/gtest.h>
#include <onnx/checker.h>
#include <onnx/onnx_pb.h>

#include <cmath>
#include <fstream>
#include <map>
#include <sstream>

#include "nas/builtin_networks.h"
#include "nn/split_attention.h"
#include "tests/test_util.h"

using namespace hwnas;
using hwnas::test::contains;
using hwnas::test::error_of;
using nlohmann::json;

namespace {

std::map<std::string, int> op_counts(const onnx::ModelProto& m) {
  std::map<std::string, int> c;
  for (const auto& n : m.graph().node()) ++c[n.op_type()];
  return c;
}

const onnx::TensorProto& initializer(const onnx::ModelProto& m, const std::string& name) {
  for (const auto& t : m.graph().initializer())
    if (t.name() == name) return t;
  throw std::runtime_error("no initializer " + name);
}

std::vector<float> floats(const onnx::TensorProto& t) {
  if (!t.raw_data().empty()) {
    std::vector<float> v(t.raw_data().size() / 4);
    std::memcpy(v.data(), t.raw_data().data(), t.raw_data().size());
    return v;
  }
  return {t.float_data().begin(), t.float_data().end()};
}

// Convs and batch norms the spec implies, counted from the spec alone (radix 1 mbconvs).
struct Expected {
  int convs = 0, shuffles = 0, residual_adds = 0;
};
Expected expected_from_spec(const NetworkSpec& s) {
  Expected e;
  int64_t c = s.input[0];
  for (const auto& l : s.layers) {
    const std::string t = l.at("type");
    if (t == "conv_bn_act" || t == "conv") ++e.convs;
    if (t == "mbconv") {
      e.convs += 3;
      if (l.value("groups", 1) > 1) ++e.shuffles;
      if (l.value("stride", 1) == 1 && l.at("out").get<int64_t>() == c) ++e.residual_adds;
    }
    if (t == "channel_shuffle") ++e.shuffles;
    if (l.contains("out") && t != "linear") c = l.at("out").get<int64_t>();
  }
  return e;
}

void check_structure(const NetworkSpec& spec, Sequential& net) {
  const Expected e = expected_from_spec(spec);
  for (bool fold : {true, false}) {
    OnnxExportOptions o;
    o.fold_bn = fold;
    const onnx::ModelProto m = export_onnx(spec, net, o);
    EXPECT_NO_THROW(onnx::checker::check_model(m)) << spec.name;
    EXPECT_EQ(m.opset_import(0).version(), 13);
    ASSERT_EQ(m.graph().input_size(), 1);
    EXPECT_EQ(m.graph().input(0).name(), "input");
    const auto& in_shape = m.graph().input(0).type().tensor_type().shape();
    ASSERT_EQ(in_shape.dim_size(), 4);
    EXPECT_EQ(in_shape.dim(0).dim_param(), "batch");
    for (int d = 0; d < 3; ++d) EXPECT_EQ(in_shape.dim(d + 1).dim_value(), spec.input[d]);
    ASSERT_EQ(m.graph().output_size(), 1);
    EXPECT_EQ(m.graph().output(0).name(), "logits");
    const auto& out_shape = m.graph().output(0).type().tensor_type().shape();
    ASSERT_EQ(out_shape.dim_size(), 2);
    EXPECT_EQ(out_shape.dim(0).dim_param(), "batch");
    EXPECT_EQ(out_shape.dim(1).dim_value(), spec.classes);
    auto ops = op_counts(m);
    EXPECT_EQ(ops["Conv"], e.convs) << spec.name;
    EXPECT_EQ(ops["BatchNormalization"], fold ? 0 : e.convs) << spec.name;  // every conv here has a BN
    EXPECT_EQ(ops["Transpose"], e.shuffles) << spec.name;
    EXPECT_EQ(ops["Add"], e.residual_adds) << spec.name;
    EXPECT_EQ(ops["Gemm"], 1);
  }
}

}  // namespace

TEST(OnnxExport, FbnetArchZeroPassesTheChecker) {
  const NetworkSpec spec = fbnet_network(fbnet_arch_ops(test::kFbnetArch0), "fbnet:0");
  auto net = build_network(spec, 1);
  net->eval();
  check_structure(spec, *net);
}

TEST(OnnxExport, ElasticMobileMaxAndMinPassTheChecker) {
  for (const char* which : {"elastic-mobile:max", "elastic-mobile:min"}) {
    const NetworkSpec spec = resolve_network(which);
    auto net = build_network(spec, 2);
    net->eval();
    check_structure(spec, *net);
  }
}

TEST(OnnxExport, EveryLayerTypeAndActivation) {
  const NetworkSpec spec = parse_network_spec(json::parse(R"({"name": "all", "input": [3, 12, 12], "classes": 5,
    "layers": [{"type": "conv_bn_act", "out": 8, "kernel": 3, "act": "hswish"},
               {"type": "max_pool", "kernel": 3, "stride": 2, "padding": 1},
               {"type": "conv", "out": 8, "kernel": 3, "padding": 1, "groups": 2, "bias": true},
               {"type": "batch_norm", "act": "swish"}, {"type": "channel_shuffle", "groups": 4},
               {"type": "mbconv", "out": 8, "kernel": 3, "expand": 2, "groups": 2, "act": "hsigmoid"},
               {"type": "activation", "act": "relu6"}, {"type": "identity"},
               {"type": "avg_pool", "kernel": 2, "stride": 2}, {"type": "activation", "act": "sigmoid"},
               {"type": "flatten"}, {"type": "dropout", "p": 0.2}, {"type": "linear", "out": 5}]})"),
                                            "all");
  auto net = build_network(spec, 3);
  net->eval();
  auto folded = op_counts(export_onnx(spec, *net));
  // conv + batch_norm fold into one Conv; 3 from the mbconv.
  EXPECT_EQ(folded["Conv"], 5);
  EXPECT_EQ(folded["BatchNormalization"], 0);
  EXPECT_EQ(folded["MaxPool"], 1);
  EXPECT_EQ(folded["AveragePool"], 1);
  EXPECT_EQ(folded["Transpose"], 2);
  EXPECT_EQ(folded["Reshape"], 4);
  EXPECT_EQ(folded["HardSwish"], 0);  // opset 13: composed
  EXPECT_EQ(folded["HardSigmoid"], 2);
  EXPECT_EQ(folded["Sigmoid"], 2);  // swish's gate and the sigmoid layer
  EXPECT_EQ(folded["Flatten"], 1);
  EXPECT_EQ(folded["Gemm"], 1);
  EXPECT_EQ(folded["Add"], 2);  // hswish's x + 3, mbconv's residual
  EXPECT_EQ(folded["Dropout"], 0);
  OnnxExportOptions unfolded;
  unfolded.fold_bn = false;
  EXPECT_EQ(op_counts(export_onnx(spec, *net, unfolded))["BatchNormalization"], 5);
  OnnxExportOptions o14;
  o14.opset = 14;
  const onnx::ModelProto m14 = export_onnx(spec, *net, o14);
  EXPECT_EQ(op_counts(m14)["HardSwish"], 1);
  EXPECT_EQ(m14.opset_import(0).version(), 14);
}

TEST(OnnxExport, SplitAttentionIsExpressedInStandardOps) {
  const NetworkSpec spec = parse_network_spec(json::parse(R"({"name": "sa", "input": [4, 8, 8], "classes": 3,
    "layers": [{"type": "mbconv", "out": 4, "kernel": 3, "expand": 2, "radix": 3},
               {"type": "global_avg_pool"}, {"type": "linear", "out": 3}]})"),
                                              "sa");
  auto net = build_network(spec, 4);
  net->eval();
  auto ops = op_counts(export_onnx(spec, *net));
  EXPECT_EQ(ops["Conv"], 1 + 3 + 2 + 1);  // expand, 3 splits, fc1 + fc2, project
  EXPECT_EQ(ops["Softmax"], 1);
  EXPECT_EQ(ops["ReduceSum"], 2);
}

// The folded conv is w * gamma / sqrt(var + eps) per output filter, with bias
// beta - mean * gamma / sqrt(var + eps), in OIHW order even when the weight is channels_last.
TEST(OnnxExport, FoldedWeightsFollowTheBatchNormFormula) {
  const NetworkSpec spec = parse_network_spec(json::parse(R"({"input": [3, 6, 6], "classes": 2,
    "layers": [{"type": "conv_bn_act", "out": 4, "kernel": 3, "stride": 2},
               {"type": "global_avg_pool"}, {"type": "linear", "out": 2}]})"),
                                              "one");
  auto net = build_network(spec, 5);
  auto& cba = dynamic_cast<ConvBnAct&>(*net->layers()[0]);
  Generator g(6);
  cba.bn->weight.data().copy_(Tensor::uniform({4}, g, 0.5f, 1.5f));
  cba.bn->bias.data().copy_(Tensor::randn({4}, g));
  cba.bn->running_mean.copy_(Tensor::randn({4}, g));
  cba.bn->running_var.copy_(Tensor::uniform({4}, g, 0.5f, 2.f));
  cba.conv->weight.data() = cba.conv->weight.data().contiguous(MemoryFormat::channels_last);
  net->eval();
  const onnx::ModelProto m = export_onnx(spec, *net);
  const auto& wt = initializer(m, "layer0/conv_bn_act/weight");
  ASSERT_EQ(std::vector<int64_t>(wt.dims().begin(), wt.dims().end()), (std::vector<int64_t>{4, 3, 3, 3}));
  const auto w = floats(wt), b = floats(initializer(m, "layer0/conv_bn_act/bias"));
  const Tensor& cw = cba.conv->weight.data();
  for (int64_t o = 0; o < 4; ++o) {
    const double s = cba.bn->weight.data().at({o}) / std::sqrt(cba.bn->running_var.at({o}) + 1e-5);
    EXPECT_NEAR(b[o], cba.bn->bias.data().at({o}) - cba.bn->running_mean.at({o}) * s, 1e-5);
    for (int64_t i = 0; i < 3; ++i)
      for (int64_t y = 0; y < 3; ++y)
        for (int64_t x = 0; x < 3; ++x)
          EXPECT_NEAR(w[((o * 3 + i) * 3 + y) * 3 + x], cw.at({o, i, y, x}) * s, 1e-5);
  }
  // Gemm keeps Linear's [out, in] weight with transB.
  const auto& lw = initializer(m, "layer2/weight");
  EXPECT_EQ(floats(lw), dynamic_cast<Linear&>(*net->layers()[2]).weight.data().to_vector());
}

TEST(OnnxExport, FixedBatchWhenDynamicBatchIsOff) {
  const NetworkSpec spec = resolve_network("elastic-mobile:min");
  auto net = build_network(spec, 0);
  OnnxExportOptions o;
  o.dynamic_batch = false;
  o.batch = 4;
  const auto m = export_onnx(spec, *net, o);
  EXPECT_EQ(m.graph().input(0).type().tensor_type().shape().dim(0).dim_value(), 4);
  EXPECT_EQ(m.graph().output(0).type().tensor_type().shape().dim(0).dim_value(), 4);
}

// A fragment (classes 0: a few layers timed alone) keeps whatever shape its last layer produces.
TEST(OnnxExport, FragmentOutputKeepsItsShape) {
  NetworkSpec spec;
  spec.name = "fragment";
  spec.input = {8, 7, 7};
  spec.layers = json::parse(R"([{"type": "conv_bn_act", "out": 12, "kernel": 3, "stride": 2}])");
  auto net = build_network(spec, 0);
  const auto m = export_onnx(spec, *net);
  const auto& s = m.graph().output(0).type().tensor_type().shape();
  ASSERT_EQ(s.dim_size(), 4);
  EXPECT_EQ(s.dim(0).dim_param(), "batch");
  EXPECT_EQ(s.dim(1).dim_value(), 12);
  EXPECT_EQ(s.dim(2).dim_value(), 4);
  EXPECT_EQ(s.dim(3).dim_value(), 4);
}

TEST(OnnxExport, SavedFileReadsBackAndPassesTheChecker) {
  test::TempDir dir("onnx_export");
  const std::string path = dir / "em.onnx";
  export_network_onnx(resolve_network("elastic-mobile:min"), 7, path);
  EXPECT_NO_THROW(onnx::checker::check_model(path));
  onnx::ModelProto m;
  std::ifstream f(path, std::ios::binary);
  ASSERT_TRUE(m.ParseFromIstream(&f));
  EXPECT_EQ(m.graph().output(0).name(), "logits");
  EXPECT_EQ(dir.entries(), 1u);  // no temporary left behind
  // A failed export leaves the existing file alone.
  EXPECT_THROW(export_network_onnx(resolve_network("elastic-mobile:min"), 7, path, OnnxExportOptions{.opset = 9}),
               Error);
  onnx::ModelProto again;
  std::ifstream f2(path, std::ios::binary);
  EXPECT_TRUE(again.ParseFromIstream(&f2));
}

TEST(OnnxExport, UnsupportedCasesNameTheLayerAndTheProblem) {
  const NetworkSpec spec = resolve_network("elastic-mobile:min");
  auto net = build_network(spec, 0);
  EXPECT_TRUE(contains(error_of([&] { export_onnx(spec, *net, OnnxExportOptions{.opset = 12}); }), "opset 12"));
  // A layer type without an ONNX mapping (specs are validated, so edit one after parsing).
  NetworkSpec odd = spec;
  odd.layers[1]["type"] = "lstm";
  const std::string e1 = error_of([&] { export_onnx(odd, *net); });
  EXPECT_TRUE(contains(e1, "layer 1 (lstm)")) << e1;
  EXPECT_TRUE(contains(e1, "no ONNX mapping")) << e1;
  // A module that is not what the spec says (a network not built from this spec).
  Sequential wrong;
  for (size_t i = 0; i < net->layers().size(); ++i)
    wrong.add(i == 2 ? ModulePtr(std::make_shared<Identity>()) : net->layers()[i]);
  const std::string e2 = error_of([&] { export_onnx(spec, wrong); });
  EXPECT_TRUE(contains(e2, "layer 2 (mbconv)")) << e2;
  EXPECT_TRUE(contains(e2, "expected MBConv")) << e2;
  Sequential short_net;
  EXPECT_TRUE(contains(error_of([&] { export_onnx(spec, short_net); }), "layers"));
}
