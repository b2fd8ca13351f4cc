// The `cuda` hardware target measures whole networks on the GPU. Skips without a GPU (the
// message without one is checked in tests/hw_targets/target_test.cpp).
#include <gtest/gtest.h>

#include "hw_targets/target.h"
#include "nas/builtin_networks.h"
#include "tests/cuda/cuda_test_util.h"
#include "tests/test_util.h"

namespace hwnas {
namespace {

TEST(CudaTarget, MeasuresWholeNetworks) {
  HWNAS_SKIP_WITHOUT_GPU();
  auto t = make_target("cuda");
  EXPECT_EQ(t->kind(), "cuda");
  const CostResult small = t->cost(resolve_network("elastic-mobile:min"));
  const CostResult large = t->cost(resolve_network("elastic-mobile:max"));
  EXPECT_EQ(small.method, CostMethod::measured);
  EXPECT_GT(small.latency_ms, 0.0);
  EXPECT_GT(large.latency_ms, 0.0);
  EXPECT_TRUE(test::contains(test::error_of([] { make_target("cuda", {{"device", 99}}); }), "device 99"));
  auto bf16 = make_target("cuda", {{"autocast", "bf16"}});
  const CostResult with_bf16 = bf16->cost(resolve_network("elastic-mobile:max"));
  EXPECT_GT(with_bf16.latency_ms, 0.0);
  EXPECT_EQ(with_bf16.details.value("autocast", ""), "bf16");
  EXPECT_EQ(bf16->config().value("autocast", ""), "bf16");
}

}  // namespace
}  // namespace hwnas
