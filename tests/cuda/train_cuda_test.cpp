// Training on a GPU: a module moved with Module::to, SGD steps on the device, against the same
// steps on the CPU from the same initial weights; and an elastic-mobile supernet training step
// (the sandwich's subnets, ordered dropout) with its shared weights on the GPU. Skips without a GPU.
#include <gtest/gtest.h>

#include <cmath>

#include "nas/builtin_networks.h"
#include "nas/builtin_spaces.h"
#include "nas/elastic_supernet.h"
#include "nn/network.h"
#include "nn/optim.h"
#include "ops/autocast.h"
#include "ops/loss.h"
#include "tests/cuda/cuda_test_util.h"
#include "tests/test_util.h"

namespace hwnas {
namespace {

Tensor labels_for(int64_t n) {
  std::vector<int64_t> y(static_cast<size_t>(n));
  for (int64_t i = 0; i < n; ++i) y[static_cast<size_t>(i)] = (i * 3) % 10;
  return Tensor::from_vector_i64(y, {n});
}

TEST(TrainCuda, SgdStepsOnTheGpuMatchTheCpu) {
  HWNAS_SKIP_WITHOUT_GPU();
  auto cpu_net = build_network(resolve_network("elastic-mobile:min"), 3);
  auto gpu_net = build_network(resolve_network("elastic-mobile:min"), 3);  // same seed, same weights
  gpu_net->to(Device{DeviceType::cuda, 0});
  for (const auto& [n, p] : gpu_net->named_parameters()) ASSERT_TRUE(p.data().is_cuda()) << n;
  for (const auto& [n, b] : gpu_net->named_buffers()) ASSERT_TRUE(b.is_cuda()) << n;
  const SgdOptions o{0.05f, 0.9f, 0.f, 4e-5f, true};
  Sgd opt_c(cpu_net->parameters(), o), opt_g(gpu_net->parameters(), o);
  Tensor x = test::cl(test::randn({8, 1, 28, 28}, 60)), y = labels_for(8);
  for (int step = 0; step < 3; ++step) {
    opt_c.zero_grad();
    opt_g.zero_grad();
    Variable lc = cross_entropy(cpu_net->forward(Variable(x)), y, 0.1f);
    Variable lg = cross_entropy(gpu_net->forward(Variable(x.cuda())), y.cuda(), 0.1f);
    EXPECT_NEAR(lg.item(), lc.item(), 1e-4f) << "step " << step;
    lc.backward();
    lg.backward();
    opt_c.step();
    opt_g.step();
  }
  const auto pc = cpu_net->state(), pg = gpu_net->state();
  for (size_t i = 0; i < pc.size(); ++i)
    EXPECT_TRUE(test::all_close(pg[i].second.cpu(), pc[i].second, 1e-3f, 1e-3f)) << pc[i].first;
}

// bf16 autocast training (fp32 master weights): the same steps as in f32 on the GPU, losses
// within bf16's reach of the f32 ones, and the weights stay f32 and finite.
TEST(TrainCuda, Bf16AutocastStepsTrackTheF32Steps) {
  HWNAS_SKIP_WITHOUT_GPU();
  const Device gpu{DeviceType::cuda, 0};
  auto net32 = build_network(resolve_network("elastic-mobile:min"), 5);
  auto net16 = build_network(resolve_network("elastic-mobile:min"), 5);
  net32->to(gpu);
  net16->to(gpu);
  const SgdOptions o{0.05f, 0.9f, 0.f, 4e-5f, true};
  Sgd opt32(net32->parameters(), o), opt16(net16->parameters(), o);
  Tensor x = test::cl(test::randn({16, 1, 28, 28}, 62)).cuda(), y = labels_for(16).cuda();
  for (int step = 0; step < 5; ++step) {
    opt32.zero_grad();
    opt16.zero_grad();
    Variable l32 = cross_entropy(net32->forward(Variable(x)), y);
    Variable l16;
    {
      AutocastScope bf16(DType::bf16);
      l16 = cross_entropy(net16->forward(Variable(x)), y);
    }
    EXPECT_NEAR(l16.item(), l32.item(), 5e-2f * (1.f + l32.item())) << "step " << step;
    l32.backward();
    l16.backward();
    opt32.step();
    opt16.step();
  }
  for (const auto& [n, p] : net16->named_parameters()) {
    ASSERT_EQ(p.data().dtype(), DType::f32) << n;
    for (float v : p.data().cpu().to_vector()) ASSERT_TRUE(std::isfinite(v)) << n;
  }
}

TEST(TrainCuda, MultiTensorSgdAndAdamWOnTheGpuMatchTheCpu) {
  HWNAS_SKIP_WITHOUT_GPU();
  // More parameters than one multi-tensor launch takes (cuda::kMaxTensorsPerLaunch = 48), so the
  // launches' split is covered, with sizes from 1 element up.
  std::vector<Variable> pc, pg;
  for (int i = 0; i < 61; ++i) {
    Tensor w = test::randn({1 + (i * 37) % 300}, 100 + i), g = test::randn({1 + (i * 37) % 300}, 200 + i);
    pc.push_back(test::param(w.clone()));
    pg.push_back(test::param(w.cuda()));
    pc.back().mutable_grad() = g.clone();
    pg.back().mutable_grad() = g.cuda();
  }
  Sgd sc(pc, {0.1f, 0.9f, 0.f, 1e-3f, true}), sg(pg, {0.1f, 0.9f, 0.f, 1e-3f, true});
  for (int step = 0; step < 3; ++step) {
    sc.step();
    sg.step();
  }
  for (size_t i = 0; i < pc.size(); ++i) EXPECT_TRUE(test::all_close(pg[i].data().cpu(), pc[i].data(), 1e-5f, 1e-5f)) << i;
  AdamW ac(pc, {1e-2f, 0.9f, 0.999f, 1e-8f, 0.05f}), ag(pg, {1e-2f, 0.9f, 0.999f, 1e-8f, 0.05f});
  for (int step = 0; step < 3; ++step) {
    ac.step();
    ag.step();
  }
  for (size_t i = 0; i < pc.size(); ++i) EXPECT_TRUE(test::all_close(pg[i].data().cpu(), pc[i].data(), 1e-5f, 1e-5f)) << i;
}

TEST(TrainCuda, SupernetSandwichAndOrderedDropoutStepOnTheGpu) {
  HWNAS_SKIP_WITHOUT_GPU();
  ElasticMobileSupernet cpu_net(4), gpu_net(4);
  gpu_net.to(Device{DeviceType::cuda, 0});
  cpu_net.train();
  gpu_net.train();
  const SearchSpace& s = elastic_mobile_space();
  Tensor x = test::cl(test::randn({8, 1, 28, 28}, 61)), y = labels_for(8);
  Generator g1(9), g2(9);
  auto step = [&](ElasticMobileSupernet& net, Generator& gen, bool gpu) {
    Tensor xi = gpu ? x.cuda() : x, yi = gpu ? y.cuda() : y;
    for (const Arch& a : {max_arch(s), min_arch(s)}) cross_entropy(net.forward(Variable(xi), a), yi).backward();
    cross_entropy(net.forward_groups(Variable(xi), ordered_dropout_groups(8, 4, gen)), yi).backward();
  };
  step(cpu_net, g1, false);
  step(gpu_net, g2, true);
  const auto pc = cpu_net.named_parameters(), pg = gpu_net.named_parameters();
  for (size_t i = 0; i < pc.size(); ++i) {
    ASSERT_EQ(pg[i].second.grad().defined(), pc[i].second.grad().defined()) << pc[i].first;
    if (pc[i].second.grad().defined())
      EXPECT_TRUE(test::all_close(pg[i].second.grad().cpu(), pc[i].second.grad(), 1e-3f, 1e-3f)) << pc[i].first;
  }
}

}  // namespace
}  // namespace hwnas
