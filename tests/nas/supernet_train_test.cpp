#include "nas/supernet_train.h"

#include <gtest/gtest.h>

#include <unistd.h>

#include <filesystem>

#include "io/checkpoint.h"
#include "io/idx.h"
#include "nas/bn_recalibration.h"
#include "nn/layers.h"
#include "tests/test_util.h"

using namespace hwnas;
namespace fs = std::filesystem;

namespace {

using test::have_fashion_mnist;

SupernetTrainConfig tiny(const std::string& sampler, const std::string& out) {
  SupernetTrainConfig c;
  c.sampler = sampler;
  c.epochs = 2;
  c.batch = 16;
  c.train_limit = 96;
  c.test_limit = 32;
  c.recal_batches = 1;
  c.od_groups = 3;
  c.holdout = 0.34f;
  c.arch_warmup_epochs = 0;
  c.out_dir = out;
  c.progress = false;
  return c;
}

}  // namespace

// Resume continues bit-identically: 1 epoch + resume gives the checkpoint of 2 epochs in one go
// (weights, momentum buffers, batch-norm statistics, architecture logits and their Adam state).
TEST(SupernetTrainTest, ResumeIsBitIdentical) {
  if (!have_fashion_mnist()) GTEST_SKIP() << "Fashion-MNIST not installed at " << kFashionMnistDir;
  for (const std::string sampler : {"sandwich", "uniform", "ordered-dropout", "dnas"}) {
    const fs::path dir = fs::temp_directory_path() / ("hwnas_resume_" + sampler + std::to_string(::getpid()));
    fs::remove_all(dir);
    train_supernet(tiny(sampler, (dir / "whole").string()));
    SupernetTrainConfig part = tiny(sampler, (dir / "split").string());
    part.stop_after_epochs = 1;
    auto first = train_supernet(part);
    ASSERT_EQ(first.epochs.size(), 1u);
    part.stop_after_epochs = 0;
    part.resume = true;
    auto rest = train_supernet(part);
    ASSERT_EQ(rest.epochs.size(), 2u);
    const Checkpoint a = load_checkpoint((dir / "whole" / "checkpoint.hwnas").string());
    const Checkpoint b = load_checkpoint((dir / "split" / "checkpoint.hwnas").string());
    ASSERT_EQ(a.tensors.size(), b.tensors.size()) << sampler;
    for (size_t i = 0; i < a.tensors.size(); ++i) {
      ASSERT_EQ(a.tensors[i].first, b.tensors[i].first);
      const auto va = a.tensors[i].second.to_vector(), vb = b.tensors[i].second.to_vector();
      EXPECT_TRUE(va == vb) << sampler << ": " << a.tensors[i].first << " differs after resume";
    }
    EXPECT_EQ(a.metadata.at("arch_rng"), b.metadata.at("arch_rng")) << sampler;
    if (sampler == "dnas") EXPECT_GT(a.metadata.at("arch_step").get<int64_t>(), 0);
    fs::remove_all(dir);
  }
}

TEST(SupernetTrainTest, ClearErrors) {
  SupernetTrainConfig c = tiny("sandwich", "");
  c.space = "fbnet";
  EXPECT_NE(test::error_of([&] { train_supernet(c); }).find("--space \"fbnet\" is not supported"), std::string::npos);
  c = tiny("bogus", "");
  EXPECT_NE(test::error_of([&] { train_supernet(c); }).find("unknown --sampler \"bogus\""), std::string::npos);
  c = tiny("ordered-dropout", "");
  c.od_groups = 17;
  EXPECT_NE(test::error_of([&] { train_supernet(c); }).find("--od-groups must be in 1..batch (16), got 17"),
            std::string::npos);
}

TEST(SupernetTrainTest, ExistingRunIsNotOverwrittenWithoutResume) {
  if (!have_fashion_mnist()) GTEST_SKIP() << "Fashion-MNIST not installed at " << kFashionMnistDir;
  const fs::path dir = fs::temp_directory_path() / ("hwnas_noover" + std::to_string(::getpid()));
  fs::remove_all(dir);
  SupernetTrainConfig c = tiny("uniform", dir.string());
  c.epochs = 1;
  train_supernet(c);
  const auto before = fs::file_size(dir / "checkpoint.hwnas");
  EXPECT_NE(test::error_of([&] { train_supernet(c); }).find("pass --resume"), std::string::npos);
  EXPECT_EQ(fs::file_size(dir / "checkpoint.hwnas"), before);
  fs::remove_all(dir);
}

// Recalibrated running statistics are the plain average of the per-batch statistics.
TEST(BnRecalibrationTest, RunningStatsAreTheAverageOfBatchStatistics) {
  Generator gen(3);
  const int64_t n = 12, c = 1, hw = 4;
  Dataset data = Dataset::from_tensors("random", Tensor::randn({n, c, hw, hw}, gen), Tensor::zeros({n}, DType::i64), 10);
  DataLoaderOptions o;
  o.batch_size = 4;
  o.format = MemoryFormat::contiguous;
  DataLoader loader(data, o);
  Sequential net;
  auto bn = std::make_shared<BatchNorm2d>(1);
  net.add(bn);
  bn->running_mean.fill_(7.f);
  EXPECT_EQ(recalibrate_bn(net, loader, 2), 2);
  // Reference: the mean of the first two batches' means (batches are samples 0-3 and 4-7).
  const auto x = data.images().to_vector();
  double m0 = 0, m1 = 0;
  for (int64_t i = 0; i < 4 * hw * hw; ++i) m0 += x[i];
  for (int64_t i = 4 * hw * hw; i < 8 * hw * hw; ++i) m1 += x[i];
  m0 /= 4 * hw * hw;
  m1 /= 4 * hw * hw;
  EXPECT_NEAR(bn->running_mean.to_vector()[0], (m0 + m1) / 2, 1e-5);
  EXPECT_FLOAT_EQ(bn->momentum, 0.1f);
}
