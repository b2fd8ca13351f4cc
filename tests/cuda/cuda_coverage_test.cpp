// Which ops lack a CUDA kernel (from the single op list), and whether the supernet spaces use
// any of them. The spaces' ops are traced from real training steps (forward and backward):
// elastic-mobile's subnets, ordered-dropout groups and DNAS mixing, an FBNet network, and a
// Split-Attention (radix) network. Runs without a GPU: it checks the list, not the kernels
// (tests/cuda/ops_cuda_test.cpp checks those on a GPU).
#include <gtest/gtest.h>

#include <iostream>

#include "autograd/op_trace.h"
#include "cuda/op_coverage.h"
#include "nas/builtin_networks.h"
#include "nas/builtin_spaces.h"
#include "nas/dnas.h"
#include "nas/elastic_supernet.h"
#include "nn/network.h"
#include "ops/loss.h"
#include "tests/test_util.h"

namespace hwnas {
namespace {

void train_step(const Variable& logits, int64_t n) {
  std::vector<int64_t> y(static_cast<size_t>(n));
  for (int64_t i = 0; i < n; ++i) y[static_cast<size_t>(i)] = i % 10;
  cross_entropy(logits, Tensor::from_vector_i64(y, {n})).backward();
}

std::set<std::string> traced_space_ops() {
  OpTrace trace;
  Generator gen(3);
  {  // elastic-mobile: single subnets, ordered dropout, DNAS
    ElasticMobileSupernet net(1);
    net.train();
    const SearchSpace& s = elastic_mobile_space();
    Tensor x = Tensor::randn({4, 1, 28, 28}, gen).contiguous(MemoryFormat::channels_last);
    for (const Arch& a : {max_arch(s), min_arch(s)}) train_step(net.forward(Variable(x), a), 4);
    train_step(net.forward_groups(Variable(x), ordered_dropout_groups(4, 2, gen)), 4);
    DnasState dn(s, 0.01f);
    train_step(net.forward_weighted(Variable(x), dn.sample_weights(1.f, gen)), 4);
  }
  {  // fbnet: arch 0 of archs.csv plus an arch that uses each of the nine candidate ops
    for (const std::string ops :
         {std::string(test::kFbnetArch0),
          std::string("k3_e1,k3_e1_g2,k3_e3,k3_e6,k5_e1,k5_e1_g2,k5_e3,k5_e6,skip,k3_e1,k3_e1_g2,k3_e3,k3_e6,k5_e1,"
                      "k5_e1_g2,k5_e3,k5_e6,skip,k3_e1,k3_e3,k5_e3,k5_e6")}) {
      auto net = build_network(resolve_network("fbnet:" + ops), 0);
      net->train();
      train_step(net->forward(Variable(Tensor::randn({2, 3, 32, 32}, gen))), 2);
    }
  }
  {  // Split-Attention (FP-NAS radix) blocks
    const char* spec = R"({
      "input": [1, 8, 8], "classes": 4,
      "stem": {"type": "conv_bn_act", "out": 8, "kernel": 3, "stride": 1},
      "stages": [{"blocks": 1, "stride": 2,
                  "block": {"type": "mbconv", "out": 8, "kernel": [3], "expand": [2], "radix": [2]}}],
      "head": [{"type": "global_avg_pool"}, {"type": "linear", "out": 4}]})";
    SearchSpace s = parse_space(nlohmann::json::parse(spec), "radix");
    auto net = build_network(arch_network(s, max_arch(s)), 0);
    net->train();
    train_step(net->forward(Variable(Tensor::randn({2, 1, 8, 8}, gen))), 2);
  }
  return trace.ops();
}

TEST(CudaCoverage, EveryTracedOpIsInTheOpList) {
  for (const auto& op : traced_space_ops())
    EXPECT_TRUE(op_kind_from_name(op).has_value()) << "op \"" << op << "\" runs but is not in ops/op_list.def";
}

TEST(CudaCoverage, ListsOpsWithoutACudaKernelAndChecksTheSpaces) {
  std::string missing;
  for (OpKind op : ops_without_cuda_kernel()) missing += std::string(missing.empty() ? "" : ", ") + std::string(op_name(op));
  std::cout << "ops without a CUDA kernel: " << (missing.empty() ? "none" : missing) << "\n";

  std::set<std::string> space_missing;
  for (const auto& op : traced_space_ops()) {
    auto k = op_kind_from_name(op);
    if (k && !has_cuda_kernel(*k)) space_missing.insert(op);
  }
  std::cout << "of them used by the supernet spaces: " << fmt::format("{}", fmt::join(space_missing, ", ")) << "\n";
  // Fails when a space uses an op that cannot run on CUDA.
  for (const auto& op : space_missing) ADD_FAILURE() << "the spaces use \"" << op << "\", which has no CUDA kernel";
}

}  // namespace
}  // namespace hwnas
