// NN-Degree (nas/search/nn_degree.h) against hand-counted channel graphs.
#include <gtest/gtest.h>

#include "nas/builtin_spaces.h"
#include "nas/search/nn_degree.h"

namespace hwnas {
namespace {

using nlohmann::json;

TEST(NnDegree, HandCountedTinyNetwork) {
  // input 2 channels; conv 2->4; mbconv 4->(8)->(8)->4 with residual; identity on 4; pool; fc 4->3.
  const json layers = json::array({
      {{"type", "conv_bn_act"}, {"out", 4}, {"kernel", 3}, {"stride", 1}},
      {{"type", "mbconv"}, {"out", 4}, {"kernel", 5}, {"stride", 1}, {"expand", 2}},
      {{"type", "identity"}},
      {{"type", "global_avg_pool"}},
      {{"type", "linear"}, {"out", 3}},
  });
  const auto cells = nn_degree_cells({2, 8, 8}, layers);
  ASSERT_EQ(cells.size(), 4u);  // global_avg_pool is not a cell
  EXPECT_DOUBLE_EQ(cells[0].nodes, 6);   // 2 in + 4 out
  EXPECT_DOUBLE_EQ(cells[0].edges, 8);   // 2 x 4
  EXPECT_DOUBLE_EQ(cells[1].nodes, 24);  // 4 + 8 + 8 + 4
  EXPECT_DOUBLE_EQ(cells[1].edges, 76);  // expand 32 + depthwise 8 + project 32 + residual 4
  EXPECT_DOUBLE_EQ(cells[2].nodes, 8);
  EXPECT_DOUBLE_EQ(cells[2].edges, 4);
  EXPECT_DOUBLE_EQ(cells[3].nodes, 7);
  EXPECT_DOUBLE_EQ(cells[3].edges, 12);
  EXPECT_NEAR(nn_degree({2, 8, 8}, layers), 8.0 / 6 + 76.0 / 24 + 0.5 + 12.0 / 7, 1e-12);
}

TEST(NnDegree, ResidualOnlyWhenShapeIsKeptAndGroupsCutLinks) {
  const json strided = json::array({{{"type", "mbconv"}, {"out", 4}, {"kernel", 3}, {"stride", 2}, {"expand", 2}}});
  EXPECT_DOUBLE_EQ(nn_degree_cells({4, 8, 8}, strided).at(0).edges, 72);  // no residual
  const json wider = json::array({{{"type", "mbconv"}, {"out", 6}, {"kernel", 3}, {"stride", 1}, {"expand", 2}}});
  EXPECT_DOUBLE_EQ(nn_degree_cells({4, 8, 8}, wider).at(0).edges, 32 + 8 + 48);
  const json grouped = json::array({{{"type", "conv_bn_act"}, {"out", 4}, {"kernel", 1}, {"stride", 1}, {"groups", 2}}});
  EXPECT_DOUBLE_EQ(nn_degree_cells({4, 8, 8}, grouped).at(0).edges, 8);  // 4 x 4 / 2
}

TEST(NnDegree, SubnetsOfElasticMobile) {
  const SearchSpace& s = elastic_mobile_space();
  Arch a = min_arch(s), deeper = a, k5 = a;
  deeper.depth[1] = 2;
  k5.kernel[0] = 5;
  EXPECT_GT(nn_degree(s, deeper), nn_degree(s, a));        // one more cell
  EXPECT_GT(nn_degree(s, max_arch(s)), nn_degree(s, a));
  EXPECT_DOUBLE_EQ(nn_degree(s, k5), nn_degree(s, a));     // kernel size does not change the graph
  Arch wide = a;
  wide.expand[0] = 6;
  EXPECT_GT(nn_degree(s, wide), nn_degree(s, a));
}

}  // namespace
}  // namespace hwnas
