#include "io/cifar.h"

#include <gtest/gtest.h>

#include "tests/test_util.h"

#include <filesystem>
#include <fstream>
#include <functional>

namespace hwnas {
namespace {

namespace fs = std::filesystem;

using test::TempDir;

// Record r: label bytes as given, pixel k = (r * 7 + k) % 256.
std::vector<uint8_t> records(const std::vector<std::vector<uint8_t>>& labels, int first = 0) {
  std::vector<uint8_t> out;
  for (size_t r = 0; r < labels.size(); ++r) {
    out.insert(out.end(), labels[r].begin(), labels[r].end());
    for (int k = 0; k < 3072; ++k) out.push_back(uint8_t(((first + r) * 7 + k) % 256));
  }
  return out;
}

void write_file(const std::string& path, const std::vector<uint8_t>& b) {
  std::ofstream(path, std::ios::binary).write(reinterpret_cast<const char*>(b.data()), b.size());
}

using test::error_of;

void expect_pixels(const Dataset& d, int first) {
  Tensor im = d.images();
  ASSERT_EQ(im.shape(), (Shape{d.size(), 3, 32, 32}));
  auto v = im.to_vector();
  for (int64_t r = 0; r < d.size(); ++r)
    for (int k = 0; k < 3072; k += 97)  // plane-major: k = c*1024 + y*32 + x
      ASSERT_FLOAT_EQ(v[r * 3072 + k], float(((first + r) * 7 + k) % 256) / 255.f) << r << " " << k;
}

TEST(Cifar, Cifar10TwoFilesConcatenate) {
  TempDir dir;
  write_file(dir / "a.bin", records({{3}, {9}}));
  write_file(dir / "b.bin", records({{0}}, 2));
  Dataset d = load_cifar10_files({dir / "a.bin", dir / "b.bin"});
  ASSERT_EQ(d.size(), 3);
  EXPECT_EQ(d.num_classes(), 10);
  EXPECT_EQ(d.labels().to_vector_i64(), (std::vector<int64_t>{3, 9, 0}));
  expect_pixels(d, 0);
}

TEST(Cifar, Cifar10Directory) {
  TempDir dir;
  for (int i = 1; i <= 5; ++i) write_file(dir / ("data_batch_" + std::to_string(i) + ".bin"), records({{uint8_t(i)}}, i - 1));
  write_file(dir / "test_batch.bin", records({{4}, {5}}));
  Dataset tr = load_cifar10(dir.path.string(), true);
  EXPECT_EQ(tr.labels().to_vector_i64(), (std::vector<int64_t>{1, 2, 3, 4, 5}));
  expect_pixels(tr, 0);
  EXPECT_EQ(load_cifar10(dir.path.string(), false).size(), 2);
  fs::remove(dir / "data_batch_4.bin");
  const std::string e = error_of([&] { load_cifar10(dir.path.string(), true); });
  EXPECT_NE(e.find("data_batch_4.bin"), std::string::npos) << e;
}

TEST(Cifar, Cifar100FineAndCoarse) {
  TempDir dir;
  write_file(dir / "train.bin", records({{19, 99}, {0, 42}}));
  Dataset fine = load_cifar100(dir.path.string(), true);
  EXPECT_EQ(fine.num_classes(), 100);
  EXPECT_EQ(fine.labels().to_vector_i64(), (std::vector<int64_t>{99, 42}));
  expect_pixels(fine, 0);
  Dataset coarse = load_cifar100(dir.path.string(), true, /*coarse=*/true);
  EXPECT_EQ(coarse.num_classes(), 20);
  EXPECT_EQ(coarse.labels().to_vector_i64(), (std::vector<int64_t>{19, 0}));
}

TEST(Cifar, SizeNotMultipleOfRecord) {
  TempDir dir;
  auto b = records({{1}, {2}});
  b.pop_back();
  write_file(dir / "a.bin", b);
  const std::string e = error_of([&] { load_cifar10_files({dir / "a.bin"}); });
  EXPECT_NE(e.find(dir / "a.bin"), std::string::npos) << e;
  EXPECT_NE(e.find("6145"), std::string::npos) << e;
  EXPECT_NE(e.find("3073"), std::string::npos) << e;
  // A CIFAR-100 file read as CIFAR-10 (3074-byte records) is caught by size too.
  write_file(dir / "c100.bin", records({{1, 2}, {3, 4}}));
  EXPECT_THROW(load_cifar10_files({dir / "c100.bin"}), Error);
  write_file(dir / "empty.bin", {});
  EXPECT_THROW(load_cifar10_files({dir / "empty.bin"}), Error);
}

TEST(Cifar, LabelOutOfRange) {
  TempDir dir;
  write_file(dir / "a.bin", records({{1}, {10}}));
  const std::string e = error_of([&] { load_cifar10_files({dir / "a.bin"}); });
  EXPECT_NE(e.find(dir / "a.bin"), std::string::npos) << e;
  EXPECT_NE(e.find("label 10 of record 1"), std::string::npos) << e;
  // The coarse label is checked even when the fine label is used.
  write_file(dir / "b.bin", records({{20, 5}}));
  const std::string e2 = error_of([&] { load_cifar100_file(dir / "b.bin"); });
  EXPECT_NE(e2.find("label 20 of record 0"), std::string::npos) << e2;
}

}  // namespace
}  // namespace hwnas
