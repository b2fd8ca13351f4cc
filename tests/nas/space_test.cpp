#include <gtest/gtest.h>

#include <cmath>
#include <cstdlib>
#include <fstream>
#include <functional>
#include <map>
#include <set>

#include "nas/builtin_networks.h"
#include "nas/builtin_spaces.h"
#include "nas/space.h"
#include "nn/network.h"
#include "tests/test_util.h"

using namespace hwnas;
using nlohmann::json;

namespace {

using test::kFbnetArch0;

// A small space whose costs are worked out by hand below: an elastic stage (depth, kernel,
// width, Split-Attention radix) and a mixed op.
const char* kTinySpec = R"({
  "input": [2, 8, 8], "classes": 5,
  "stem": {"type": "conv_bn_act", "out": 4, "kernel": 3, "stride": 1},
  "stages": [
    {"blocks": 2, "depth": [1, 2], "stride": 2,
     "block": {"type": "mbconv", "out": [4, 8], "kernel": [3, 5], "expand": 2, "radix": [1, 2]}},
    {"blocks": [{"ops": ["skip", "k3_e1", "conv3"], "out": 8}]}
  ],
  "head": [{"type": "global_avg_pool"}, {"type": "linear", "out": 5}]
})";

SearchSpace tiny_space() { return parse_space(json::parse(kTinySpec), "tiny"); }

using test::error_of;

bool same_network(const NetworkSpec& a, const NetworkSpec& b) {
  return a.input == b.input && a.classes == b.classes && a.layers == b.layers;
}

}  // namespace

TEST(SearchSpace, BuiltinSizes) {
  const SpaceSize fb = space_size(fbnet_space());
  EXPECT_NEAR(fb.count / std::pow(9.0, 22), 1.0, 1e-12);
  EXPECT_NEAR(fb.log10, 22 * std::log10(9.0), 1e-9);
  // elastic-mobile: 6 (kernel x expand) choices per block; a stage of max depth m contributes
  // 6^1 + ... + 6^m distinct networks, since the choices of dropped blocks change nothing.
  const double two = 6 + 36, three = 6 + 36 + 216;
  const SpaceSize em = space_size(elastic_mobile_space());
  EXPECT_EQ(em.count, two * three * three * two);
  EXPECT_EQ(em.count, 117418896.0);
  EXPECT_NEAR(em.log10, std::log10(117418896.0), 1e-9);
  EXPECT_EQ(fbnet_space().count(DimKind::ops), 22u);
  EXPECT_EQ(elastic_mobile_space().count(DimKind::kernel), 10u);
  EXPECT_EQ(elastic_mobile_space().count(DimKind::depth), 4u);
  EXPECT_EQ(elastic_mobile_space().count(DimKind::width), 0u);
}

TEST(SearchSpace, ElasticMaxAndMinAreTheBuiltinNetworks) {
  const SearchSpace& s = elastic_mobile_space();
  for (const char* which : {"max", "min"}) {
    const Arch a = std::string(which) == "max" ? max_arch(s) : min_arch(s);
    EXPECT_TRUE(same_network(arch_network(s, a), resolve_network(std::string("elastic-mobile:") + which))) << which;
  }
  const Arch mx = max_arch(s);
  EXPECT_EQ(mx.kernel, std::vector<int64_t>(10, 5));
  EXPECT_EQ(mx.expand, std::vector<int64_t>(10, 6));
  EXPECT_EQ(mx.depth, (std::vector<int64_t>{2, 3, 3, 2}));
  EXPECT_EQ(min_arch(s).depth, (std::vector<int64_t>{1, 1, 1, 1}));
  // The PyTorch peer's parameter count, and the multiply-adds `hwnas net elastic-mobile:max` reports.
  const SubnetCost c = subnet_cost(s, mx);
  EXPECT_EQ(c.params, 464730);
  EXPECT_EQ(build_network(arch_network(s, mx), 0)->num_parameters(), 464730);
  EXPECT_EQ(c.macs, 19523104);
}

TEST(SearchSpace, FbnetArchZeroIsTheBuiltinNetwork) {
  const SearchSpace& s = fbnet_space();
  const Arch a = parse_arch(s, kFbnetArch0);
  ASSERT_EQ(a.ops.size(), 22u);
  EXPECT_TRUE(same_network(arch_network(s, a), resolve_network(std::string("fbnet:") + kFbnetArch0)));
  EXPECT_EQ(subnet_cost(s, a).params, 1790500);
  EXPECT_EQ(max_arch(s).ops, std::vector<std::string>(22, "k5_e6"));
  EXPECT_EQ(min_arch(s).ops, std::vector<std::string>(22, "skip"));
}

TEST(SearchSpace, MacsAndParamsAgreeWithTheNetworkBuilder) {
  Generator gen(11);
  for (const SearchSpace* s : {&fbnet_space(), &elastic_mobile_space()}) {
    for (int i = 0; i < 6; ++i) {
      const Arch a = sample_arch(*s, gen);
      const NetworkSpec net = arch_network(*s, a);
      const SubnetCost c = subnet_cost(*s, a);
      EXPECT_EQ(c.macs, network_macs(net)) << arch_to_json(*s, a).dump();
      if (i < 2) EXPECT_EQ(c.params, build_network(net, 0)->num_parameters()) << arch_to_json(*s, a).dump();
    }
  }
}

TEST(SearchSpace, UniformSamplingCoversEveryChoiceAndIsSeeded) {
  const SearchSpace& s = elastic_mobile_space();
  Generator g1(5), g2(5), g3(6);
  std::vector<std::set<size_t>> seen(s.dims.size());
  bool differs = false;
  for (int i = 0; i < 300; ++i) {
    const Arch a = sample_arch(s, g1), b = sample_arch(s, g2), c = sample_arch(s, g3);
    EXPECT_EQ(a, b);
    differs |= !(a == c);
    const auto ch = arch_choices(s, a);
    for (size_t d = 0; d < ch.size(); ++d) seen[d].insert(ch[d]);
  }
  EXPECT_TRUE(differs);
  for (size_t d = 0; d < s.dims.size(); ++d)
    EXPECT_EQ(seen[d].size(), s.dims[d].size()) << dim_name(s.dims[d].kind) << "[" << s.dims[d].pos << "]";
  Generator g4(1);
  std::set<std::string> ops;
  for (int i = 0; i < 200; ++i) ops.insert(sample_arch(fbnet_space(), g4).ops[3]);
  EXPECT_EQ(ops.size(), 9u);
}

TEST(SearchSpace, ChoiceCoveringArchsTakeEveryChoiceAtFullDepth) {
  for (const SearchSpace* s : {&elastic_mobile_space(), &fbnet_space()}) {
    SCOPED_TRACE(s->name);
    const std::vector<Arch> archs = choice_covering_archs(*s);
    size_t most = 0;
    for (const Dimension& d : s->dims) most = std::max(most, d.size());
    EXPECT_EQ(archs.size(), most);
    std::vector<std::set<size_t>> seen(s->dims.size());
    for (const Arch& a : archs) {
      EXPECT_EQ(a.depth, max_arch(*s).depth);
      const auto ch = arch_choices(*s, a);
      for (size_t d = 0; d < ch.size(); ++d) seen[d].insert(ch[d]);
    }
    for (size_t d = 0; d < s->dims.size(); ++d)
      if (s->dims[d].kind != DimKind::depth)
        EXPECT_EQ(seen[d].size(), s->dims[d].size()) << dim_name(s->dims[d].kind) << "[" << s->dims[d].pos << "]";
  }
  EXPECT_EQ(choice_covering_archs(elastic_mobile_space()).back(), max_arch(elastic_mobile_space()));
}

TEST(SearchSpace, ValidationNamesTheDimensionAndPosition) {
  const SearchSpace& em = elastic_mobile_space();
  auto em_err = [&](const std::string& text) { return error_of([&] { parse_arch(em, text); }); };
  const std::string ones = "[1,1,1,1]", threes = "[3,3,3,3,3,3,3,3,3,3]", twos = "[2,2,2,2,2,2,2,2,2,2]";
  EXPECT_NE(em_err(R"({"kernel":[3,3,3,3,3,3,3,3,3,7],"expand":)" + twos + R"(,"depth":)" + ones + "}")
                .find("elastic-mobile: kernel[9] = 7 is not one of {3, 5}"),
            std::string::npos);
  EXPECT_NE(em_err(R"({"kernel":)" + threes + R"(,"expand":[5,2,2,2,2,2,2,2,2,2],"depth":)" + ones + "}")
                .find("expand[0] = 5 is not one of {2, 4, 6}"),
            std::string::npos);
  EXPECT_NE(em_err(R"({"kernel":)" + threes + R"(,"expand":)" + twos + R"(,"depth":[1,4,1,1]})")
                .find("depth[1] = 4 is not one of {1, 2, 3} (stage 1)"),
            std::string::npos);
  EXPECT_NE(em_err(R"({"kernel":)" + threes + R"(,"expand":["x",2,2,2,2,2,2,2,2,2],"depth":)" + ones + "}")
                .find("expand[0] = \"x\""),
            std::string::npos);
  EXPECT_NE(em_err(R"({"kernel":[3],"expand":)" + twos + R"(,"depth":)" + ones + "}").find("expected 10 blocks, got 1"),
            std::string::npos);
  EXPECT_NE(em_err(R"({"kernels":)" + threes + "}").find("unknown arch key \"kernels\""), std::string::npos);
  EXPECT_NE(em_err(R"({"kernel":)" + threes + R"(,"depth":)" + ones + "}").find("needs \"expand\""), std::string::npos);
  EXPECT_NE(em_err("{bad json").find("max, min or JSON"), std::string::npos);
  EXPECT_NE(error_of([&] { validate_arch(em, Arch{.kernel = {3}}); }).find("expected 4 stages, got 0"),
            std::string::npos);

  const SearchSpace& fb = fbnet_space();
  std::string ops;
  for (int i = 0; i < 21; ++i) ops += "k3_e1,";
  EXPECT_NE(error_of([&] { parse_arch(fb, ops + "k9_e9"); }).find("layer 21 has unknown op \"k9_e9\""),
            std::string::npos);
  EXPECT_NE(error_of([&] { parse_arch(fb, "k3_e1,skip"); }).find("22 layers, got 2"), std::string::npos);
  EXPECT_NE(error_of([&] { resolve_network("fbnet:k3_e1,skip"); }).find("22 layers, got 2"), std::string::npos);
  EXPECT_NE(error_of([&] { elastic_mobile_arch(R"({"kernel":)" + threes + R"(,"expand":[5,2,2,2,2,2,2,2,2,2],"depth":)" +
                                               ones + "}"); })
                .find("expand[0] = 5"),
            std::string::npos);
}

TEST(SearchSpace, ArchJsonRoundTripAndCanonicalForm) {
  const SearchSpace& s = elastic_mobile_space();
  Generator gen(3);
  const Arch a = sample_arch(s, gen);
  EXPECT_EQ(arch_from_json(s, arch_to_json(s, a)), a);
  EXPECT_EQ(parse_arch(s, arch_to_json(s, a).dump()), a);
  EXPECT_EQ(arch_from_choices(s, arch_choices(s, a)), a);
  // Two archs that differ only in a block the depth drops are one network.
  Arch b = min_arch(s), c = b;
  c.kernel[1] = 5;
  c.expand[9] = 6;
  EXPECT_FALSE(b == c);
  EXPECT_EQ(arch_layers(s, b), arch_layers(s, c));
  EXPECT_EQ(canonical_arch(s, c), canonical_arch(s, b));
  c.depth[0] = 2;
  EXPECT_FALSE(canonical_arch(s, c) == canonical_arch(s, b));
  EXPECT_EQ(elastic_mobile_arch("max").depth, (std::vector<int>{2, 3, 3, 2}));
}

TEST(SearchSpace, HandComputedCostsOfASmallSpace) {
  const SearchSpace s = tiny_space();
  // 2 x 2 x 2 choices (kernel, width, radix) per elastic block; depth 1 or 2; 3 ops.
  EXPECT_EQ(space_size(s).count, (8 + 64) * 3);
  EXPECT_EQ(s.dims.size(), 8u);
  const Arch a = arch_from_json(s, json::parse(R"({"depth":[2],"kernel":[3,5],"width":[4,8],"radix":[1,2],"ops":["k3_e1"]})"));
  const SubnetCost c = subnet_cost(s, a);
  // stem 2->4 3x3 at 8x8 | block 0: 4->8->4, dw 3x3 stride 2 (4x4) | block 1: 4->8, dw 5x5 with
  // radix 2 (16 channels), attention width max(8*2/4, 32) = 32, ->8 | k3_e1 8->8->8 | linear 8->5.
  const int64_t macs = 64 * 4 * 2 * 9 +                            // stem
                       64 * 8 * 4 + 16 * 8 * 9 + 16 * 4 * 8 +       // block 0
                       16 * 8 * 4 + 16 * 16 * 25 + 8 * 32 + 32 * 16 + 16 * 8 * 8 +  // block 1
                       16 * 8 * 8 + 16 * 8 * 9 + 16 * 8 * 8 +       // k3_e1
                       8 * 5;
  const int64_t params = (4 * 2 * 9 + 8) +                                        // stem conv + BN
                         (8 * 4 + 16) + (8 * 9 + 16) + (4 * 8 + 8) +               // block 0
                         (8 * 4 + 16) + (16 * 25 + 32) +                            // block 1 expand, dw
                         (8 * 32 + 32 + 2 * 32 + 32 * 16 + 16) + (8 * 8 + 16) +     // attention, project
                         (8 * 8 + 16) + (8 * 9 + 16) + (8 * 8 + 16) +               // k3_e1
                         (8 * 5 + 5);
  const int64_t elems = 4 * 64 +                                  // stem
                        8 * 64 + 8 * 16 + 4 * 16 +                // block 0
                        8 * 16 + 16 * 16 + 8 * 16 + 8 + 32 + 16 + 16 + 8 * 16 + 8 * 16 +  // block 1
                        3 * 8 * 16 +                              // k3_e1
                        8 + 5;                                    // pool, linear
  EXPECT_EQ(macs, 20264);
  EXPECT_EQ(c.macs, macs);
  EXPECT_EQ(c.params, params);
  EXPECT_EQ(c.activation_bytes, 4 * elems);
  EXPECT_EQ(c.peak_activation_bytes, 4 * 8 * 64);
  // Radix 2 converts to an MBConv with Split-Attention whose MACs and parameters are the same,
  // and which runs; radix 1 converts to a plain MBConv.
  EXPECT_EQ(network_macs(arch_network(s, a)), macs);
  auto built = build_network(arch_network(s, a), 0);
  EXPECT_EQ(built->num_parameters(), params);
  built->train();
  EXPECT_EQ(built->forward(Variable(Tensor::zeros({2, 2, 8, 8}))).shape(), (Shape{2, 5}));
  Arch b = a;
  b.radix = {1, 1};
  EXPECT_EQ(subnet_cost(s, b).macs, network_macs(arch_network(s, b)));
  EXPECT_EQ(subnet_cost(s, b).macs, macs - (16 * 8 * 25 + 8 * 32 + 32 * 16));
  // A skip that changes the width is a 1x1 projection; max and min follow each dimension.
  const Arch mn = min_arch(s), mx = max_arch(s);
  EXPECT_EQ(mn.ops, std::vector<std::string>{"skip"});
  EXPECT_EQ(mx.ops, std::vector<std::string>{"conv3"});
  EXPECT_EQ(mx.radix, (std::vector<int64_t>{2, 2}));
  EXPECT_EQ(mx.width, (std::vector<int64_t>{8, 8}));
  const json layers = arch_layers(s, mn);
  EXPECT_EQ(layers[2], (json{{"type", "conv_bn_act"}, {"out", 8}, {"kernel", 1}, {"stride", 1}, {"act", "relu"}}));
}

TEST(SearchSpace, SpecErrorsNameTheStageBlockAndKey) {
  auto err = [](const std::string& patch) {
    json j = json::parse(kTinySpec);
    j.merge_patch(json::parse(patch));
    return error_of([&] { parse_space(j, "my.json"); });
  };
  auto block = [](const std::string& b) { return R"({"stages":[{"blocks":1,"block":)" + b + "}]}"; };
  EXPECT_NE(err(block(R"({"type":"mbconv","out":8,"kernel":3,"expand":2,"stride":2})")).find("\"stride\" belongs to the stage"),
            std::string::npos);
  EXPECT_NE(err(block(R"({"type":"conv","out":8,"kernel":3,"expand":2})")).find("stages[0].blocks[0]: unknown key \"expand\""),
            std::string::npos);
  EXPECT_NE(err(block(R"({"type":"mbconv","out":[8,4],"kernel":3,"expand":2})")).find("ascending"), std::string::npos);
  EXPECT_NE(err(block(R"({"ops":["skip","k3_x2"],"out":8})")).find("\"ops\"[1] = \"k3_x2\" is not an op name"),
            std::string::npos);
  EXPECT_NE(err(block(R"({"type":"warp","out":8})")).find("unknown block type \"warp\""), std::string::npos);
  EXPECT_NE(err(block(R"({"type":"mbconv","out":8,"kernel":3})")).find("needs \"expand\""), std::string::npos);
  EXPECT_NE(err(R"({"stages":[{"blocks":2,"depth":[1,3],"block":{"type":"skip","out":4}}]})").find("up to 2"),
            std::string::npos);
  EXPECT_NE(err(R"({"head":[{"type":"global_avg_pool"},{"type":"linear","out":7}]})").find("not a valid network"),
            std::string::npos);
  EXPECT_NE(err(R"({"input":[2,8]})").find("\"input\" must be [C, H, W]"), std::string::npos);
}

TEST(SearchSpace, LoadsAUserSpecFileAndArchFiles) {
  test::TempDir dir("space");
  std::ofstream(dir / "tiny.json") << kTinySpec;
  const SearchSpace s = load_space(dir / "tiny.json");
  EXPECT_EQ(s.name, "tiny");
  EXPECT_EQ(space_size(s).count, 216);
  std::ofstream(dir / "arch.json") << R"({"depth":[1],"kernel":[5,3],"width":[8,4],"radix":[2,1],"ops":["skip"]})";
  const Arch a = parse_arch(s, dir / "arch.json");
  EXPECT_EQ(a.kernel, (std::vector<int64_t>{5, 3}));
  EXPECT_NE(error_of([&] { parse_arch(s, "k3_e1"); }).find("an arch must be max, min, JSON"), std::string::npos);
}

TEST(SearchSpace, LoadSpaceAndParseArchForms) {
  EXPECT_EQ(load_space("fbnet").name, "fbnet");
  EXPECT_EQ(load_space("elastic-mobile").dims.size(), 24u);
  EXPECT_NE(error_of([] { load_space("/nonexistent/space.json"); }).find("not a built-in"), std::string::npos);
  // fbnet takes a row id of archs.csv; point it at a table of our own.
  test::TempDir dir("archs");
  std::ofstream(dir / "archs.csv") << "arch_id,layer0\n0," << kFbnetArch0 << "\n";
  const char* old = std::getenv("HWNAS_FBNET_ARCHS");
  const std::string saved = old ? old : "";
  setenv("HWNAS_FBNET_ARCHS", (dir / "archs.csv").c_str(), 1);
  const Arch by_id = parse_arch(fbnet_space(), "0");
  if (old) setenv("HWNAS_FBNET_ARCHS", saved.c_str(), 1);
  else unsetenv("HWNAS_FBNET_ARCHS");
  EXPECT_EQ(by_id, parse_arch(fbnet_space(), kFbnetArch0));
  EXPECT_EQ(parse_arch(fbnet_space(), json{{"ops", by_id.ops}}.dump()), by_id);
}

TEST(SearchSpace, TheDocumentedExampleParses) {
  std::ifstream f(std::string(HWNAS_SOURCE_DIR) + "/docs/search-space.md");
  ASSERT_TRUE(f);
  const std::string doc((std::istreambuf_iterator<char>(f)), std::istreambuf_iterator<char>());
  const size_t b = doc.find("```json\n") + 8, e = doc.find("```", b);
  const SearchSpace s = parse_space(json::parse(doc.substr(b, e - b)), "search-space.md");
  const Arch mx = max_arch(s);
  EXPECT_EQ(arch_to_json(s, mx).dump(), R"({"depth":[2,3],"expand":[6,6],"kernel":[5,5,5,5,5],"ops":["k5_e6"],"radix":[2,2,2],"width":[24,24]})");
  EXPECT_GT(subnet_cost(s, mx).macs, subnet_cost(s, min_arch(s)).macs);
}
