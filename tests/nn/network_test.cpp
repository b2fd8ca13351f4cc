#include <gtest/gtest.h>

#include "nas/builtin_networks.h"
#include "nn/network.h"
#include "tests/test_util.h"

using namespace hwnas;

// Parameter counts of the PyTorch peers (../shared/peers), computed there with
// sum(p.numel() for p in model.parameters()): the two builds must describe the same network.
TEST(BuiltinNetworks, ElasticMobileMaxHasThePeersParameterCount) {
  auto net = build_network(resolve_network("elastic-mobile:max"), 0);
  EXPECT_EQ(net->num_parameters(), 464730);
}

TEST(BuiltinNetworks, FbnetArchZeroHasThePeersParameterCount) {
  const std::string ops =
      "k5_e6,skip,k3_e1_g2,skip,k5_e1,skip,skip,skip,k5_e6,k5_e1,k3_e1_g2,k5_e1,k5_e6,k3_e6,k3_e3,k5_e6,k3_e6,k3_e3,"
      "k5_e1,k3_e3,k5_e1,k5_e1_g2";
  auto net = build_network(resolve_network("fbnet:" + ops), 0);
  EXPECT_EQ(net->num_parameters(), 1790500);
}

TEST(BuiltinNetworks, ForwardShapes) {
  auto net = build_network(resolve_network("elastic-mobile:min"), 0);
  Variable y = net->forward(Variable(test::randn({2, 1, 28, 28})));
  EXPECT_EQ(y.shape(), (Shape{2, 10}));
}

TEST(BuiltinNetworks, BadArchsGiveClearErrors) {
  EXPECT_THROW(resolve_network("elastic-mobile:{\"kernel\":[3],\"expand\":[2],\"depth\":[1]}"), Error);
  try {
    resolve_network("elastic-mobile:{\"kernel\":[3,3,3,3,3,3,3,3,3,7],\"expand\":[2,2,2,2,2,2,2,2,2,2],\"depth\":[1,1,1,1]}");
    FAIL();
  } catch (const Error& e) {
    EXPECT_NE(std::string(e.what()).find("kernel[9] = 7"), std::string::npos) << e.what();
  }
  EXPECT_THROW(resolve_network("fbnet:k3_e1,bogus"), Error);
  EXPECT_THROW(resolve_network("/nonexistent/net.json"), Error);
}

TEST(NetworkSpec, ValidatesLayers) {
  auto parse = [](const char* text) { return parse_network_spec(nlohmann::json::parse(text), "test.json"); };
  EXPECT_NO_THROW(parse(R"({"input":[1,8,8],"classes":3,"layers":[{"type":"conv_bn_act","out":4,"kernel":3},
      {"type":"max_pool"},{"type":"global_avg_pool"},{"type":"linear","out":3}]})"));
  try {
    parse(R"({"input":[1,8,8],"classes":3,"layers":[{"type":"conv_bn_act","out":4,"kernel":3},{"type":"linear","out":3}]})");
    FAIL();
  } catch (const Error& e) {
    EXPECT_NE(std::string(e.what()).find("layer 1"), std::string::npos) << e.what();
  }
  EXPECT_THROW(parse(R"({"input":[1,8,8],"classes":3,"layers":[{"type":"warp"}]})"), Error);
  EXPECT_THROW(parse(R"({"input":[1,8,8],"classes":3,"layers":[{"type":"global_avg_pool"},{"type":"linear","out":4}]})"), Error);
  EXPECT_THROW(parse(R"({"input":[1,8],"classes":3,"layers":[]})"), Error);
}

TEST(ConvBnAct, FoldedInferenceMatchesTheUnfusedOps) {
  Generator gen(3);
  ConvBnAct m(4, 6, 3, 1, 1, Activation::relu6, gen);
  // Non-trivial running statistics and affine parameters.
  m.bn->running_mean.copy_(test::randn({6}, 5, 0.3f));
  m.bn->running_var.copy_(Tensor::uniform({6}, gen, 0.5f, 2.f));
  m.bn->weight.data().copy_(Tensor::uniform({6}, gen, 0.5f, 1.5f));
  m.bn->bias.data().copy_(test::randn({6}, 6, 0.2f));
  m.eval();
  Variable x(test::randn({2, 4, 7, 7}, 9));
  NoGradGuard ng;
  Tensor ref = m.forward(x).data().clone();
  m.prepare_inference();
  Tensor fused = m.forward(x).data();
  EXPECT_TRUE(test::all_close(fused, ref, 1e-4f, 1e-4f));
}
