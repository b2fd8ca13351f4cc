#include <gtest/gtest.h>

#include <filesystem>

#include "io/checkpoint.h"
#include "io/idx.h"
#include "nas/builtin_networks.h"
#include "nas/train_network.h"
#include "tests/test_util.h"

using namespace hwnas;
namespace fs = std::filesystem;

namespace {
using test::have_fashion_mnist;

TrainConfig tiny_config(const fs::path& out) {
  TrainConfig c;
  c.net = resolve_network("elastic-mobile:min");
  c.epochs = 2;
  c.batch = 32;
  c.train_limit = 192;
  c.test_limit = 100;
  c.out_dir = out.string();
  c.progress = false;
  return c;
}

}  // namespace

TEST(TrainNetwork, ResumeContinuesBitIdentically) {
  if (!have_fashion_mnist()) GTEST_SKIP() << "Fashion-MNIST not installed (tools/setup.sh installs dataset-fashion-mnist)";
  const test::TempDir tmp("hwnas_train");
  const fs::path straight = tmp.path / "straight", resumed = tmp.path / "resumed";
  TrainResult a = train_network(tiny_config(straight));

  TrainConfig interrupted = tiny_config(resumed);
  interrupted.stop_after_epochs = 1;
  EXPECT_EQ(train_network(interrupted).epochs.size(), 1u);
  TrainConfig cont = tiny_config(resumed);
  cont.resume = true;
  TrainResult b = train_network(cont);

  ASSERT_EQ(b.epochs.size(), 2u);
  EXPECT_EQ(a.final_test_accuracy, b.final_test_accuracy);
  EXPECT_EQ(a.epochs[1].train_loss, b.epochs[1].train_loss);
  Checkpoint ca = load_checkpoint((straight / "checkpoint.hwnas").string());
  Checkpoint cb = load_checkpoint((resumed / "checkpoint.hwnas").string());
  ASSERT_EQ(ca.tensors.size(), cb.tensors.size());
  for (size_t i = 0; i < ca.tensors.size(); ++i) {
    ASSERT_EQ(ca.tensors[i].first, cb.tensors[i].first);
    EXPECT_EQ(ca.tensors[i].second.to_vector(), cb.tensors[i].second.to_vector()) << ca.tensors[i].first;
  }
}

TEST(TrainNetwork, RefusesToOverwriteAndToResumeADifferentRun) {
  if (!have_fashion_mnist()) GTEST_SKIP() << "Fashion-MNIST not installed";
  const test::TempDir tmp("hwnas_train");
  const fs::path dir = tmp.path / "guard";
  TrainConfig c = tiny_config(dir);
  c.epochs = 1;
  train_network(c);
  const auto before = fs::last_write_time(dir / "checkpoint.hwnas");
  try {
    train_network(c);  // no --resume: must not overwrite
    FAIL() << "expected an error";
  } catch (const Error& e) {
    EXPECT_NE(std::string(e.what()).find("--resume"), std::string::npos) << e.what();
  }
  TrainConfig other = c;
  other.resume = true;
  other.net = resolve_network("elastic-mobile:max");
  try {
    train_network(other);
    FAIL() << "expected an error";
  } catch (const Error& e) {
    EXPECT_NE(std::string(e.what()).find("\"net\""), std::string::npos) << e.what();
  }
  EXPECT_EQ(fs::last_write_time(dir / "checkpoint.hwnas"), before);
}

TEST(TrainNetwork, LearnsInAFewShortEpochs) {
  if (!have_fashion_mnist()) GTEST_SKIP() << "Fashion-MNIST not installed";
  TrainConfig c = tiny_config({});
  c.out_dir.clear();
  c.epochs = 3;
  c.train_limit = 1024;
  c.test_limit = 500;
  // Ten classes: chance is 10%; a working engine gets far above it after 96 small steps.
  EXPECT_GT(train_network(c).final_test_accuracy, 0.5);
}

TEST(TrainNetwork, InputShapeMismatchIsAClearError) {
  if (!have_fashion_mnist()) GTEST_SKIP() << "Fashion-MNIST not installed";
  TrainConfig c = tiny_config({});
  c.out_dir.clear();
  c.net = resolve_network("fbnet:k3_e1,k3_e1,k3_e1,k3_e1,k3_e1,k3_e1,k3_e1,k3_e1,k3_e1,k3_e1,k3_e1,k3_e1,k3_e1,k3_e1,k3_e1,k3_e1,k3_e1,k3_e1,k3_e1,k3_e1,k3_e1,k3_e1");
  EXPECT_THROW(train_network(c), Error);
}
