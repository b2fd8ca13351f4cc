#include "io/idx.h"

#include <gtest/gtest.h>

#include "tests/test_util.h"
#include <zlib.h>

#include <cstdio>
#include <functional>
#include <filesystem>
#include <fstream>
#include <string>
#include <vector>

namespace hwnas {
namespace {

namespace fs = std::filesystem;

using test::TempDir;

std::vector<uint8_t> be32(uint32_t v) {
  return {uint8_t(v >> 24), uint8_t(v >> 16), uint8_t(v >> 8), uint8_t(v)};
}

std::vector<uint8_t> idx_bytes(uint32_t magic, const std::vector<uint32_t>& dims, const std::vector<uint8_t>& data) {
  std::vector<uint8_t> out = be32(magic);
  for (auto d : dims) {
    auto b = be32(d);
    out.insert(out.end(), b.begin(), b.end());
  }
  out.insert(out.end(), data.begin(), data.end());
  return out;
}

void write_file(const std::string& path, const std::vector<uint8_t>& bytes, bool gzip) {
  if (gzip) {
    gzFile f = gzopen(path.c_str(), "wb");
    ASSERT_NE(f, nullptr);
    ASSERT_EQ(gzwrite(f, bytes.data(), unsigned(bytes.size())), int(bytes.size()));
    gzclose(f);
  } else {
    std::ofstream(path, std::ios::binary).write(reinterpret_cast<const char*>(bytes.data()), bytes.size());
  }
}

// Three 2x3 images with pixel (n, y, x) = 10n + 3y + x, labels 7, 0, 9.
struct Sample {
  std::vector<uint8_t> pixels, labels{7, 0, 9};
  Sample() {
    for (int n = 0; n < 3; ++n)
      for (int y = 0; y < 2; ++y)
        for (int x = 0; x < 3; ++x) pixels.push_back(uint8_t(10 * n + 3 * y + x + 200 * (n == 2)));
  }
  std::vector<uint8_t> images_file() const { return idx_bytes(0x803, {3, 2, 3}, pixels); }
  std::vector<uint8_t> labels_file() const { return idx_bytes(0x801, {3}, labels); }
};

using test::error_of;

class IdxTest : public ::testing::TestWithParam<bool> {};

TEST_P(IdxTest, LoadsValues) {
  TempDir dir;
  Sample s;
  const bool gz = GetParam();
  write_file(dir / "im", s.images_file(), gz);
  write_file(dir / "lb", s.labels_file(), gz);
  Dataset d = load_idx(dir / "im", dir / "lb", "tiny");
  ASSERT_EQ(d.size(), 3);
  EXPECT_EQ(d.image_shape(), (Shape{1, 2, 3}));
  EXPECT_EQ(d.num_classes(), 10);
  Tensor im = d.images();
  ASSERT_EQ(im.shape(), (Shape{3, 1, 2, 3}));
  ASSERT_EQ(im.dtype(), DType::f32);
  auto v = im.to_vector();
  for (size_t i = 0; i < v.size(); ++i) EXPECT_FLOAT_EQ(v[i], s.pixels[i] / 255.0f) << i;
  EXPECT_EQ(d.labels().to_vector_i64(), (std::vector<int64_t>{7, 0, 9}));
  EXPECT_EQ(d.label(2), 9);
}

TEST_P(IdxTest, BadMagicNamesFile) {
  TempDir dir;
  Sample s;
  write_file(dir / "im", idx_bytes(0x802, {3, 2, 3}, s.pixels), GetParam());
  write_file(dir / "lb", s.labels_file(), GetParam());
  const std::string e = error_of([&] { load_idx(dir / "im", dir / "lb", "x"); });
  EXPECT_NE(e.find(dir / "im"), std::string::npos) << e;
  EXPECT_NE(e.find("magic"), std::string::npos) << e;
  EXPECT_NE(e.find("0x00000802"), std::string::npos) << e;
}

TEST_P(IdxTest, TruncatedReportsExpectedAndGotBytes) {
  TempDir dir;
  Sample s;
  auto bytes = s.images_file();
  bytes.resize(bytes.size() - 5);  // 16 + 18 declared, 29 present
  write_file(dir / "im", bytes, GetParam());
  write_file(dir / "lb", s.labels_file(), GetParam());
  const std::string e = error_of([&] { load_idx(dir / "im", dir / "lb", "x"); });
  EXPECT_NE(e.find(dir / "im"), std::string::npos) << e;
  EXPECT_NE(e.find("truncated"), std::string::npos) << e;
  EXPECT_NE(e.find("expected 34 bytes"), std::string::npos) << e;
  EXPECT_NE(e.find("got 29"), std::string::npos) << e;
}

TEST_P(IdxTest, TrailingDataIsAnError) {
  TempDir dir;
  Sample s;
  auto bytes = s.labels_file();
  bytes.push_back(1);
  write_file(dir / "im", s.images_file(), GetParam());
  write_file(dir / "lb", bytes, GetParam());
  const std::string e = error_of([&] { load_idx(dir / "im", dir / "lb", "x"); });
  EXPECT_NE(e.find(dir / "lb"), std::string::npos) << e;
  EXPECT_NE(e.find("trailing"), std::string::npos) << e;
}

TEST_P(IdxTest, CountMismatchNamesBothFiles) {
  TempDir dir;
  Sample s;
  write_file(dir / "im", s.images_file(), GetParam());
  write_file(dir / "lb", idx_bytes(0x801, {2}, {1, 2}), GetParam());
  const std::string e = error_of([&] { load_idx(dir / "im", dir / "lb", "x"); });
  EXPECT_NE(e.find(dir / "im"), std::string::npos) << e;
  EXPECT_NE(e.find(dir / "lb"), std::string::npos) << e;
  EXPECT_NE(e.find("3 images"), std::string::npos) << e;
  EXPECT_NE(e.find("2 labels"), std::string::npos) << e;
}

TEST_P(IdxTest, LabelOutOfRange) {
  TempDir dir;
  Sample s;
  write_file(dir / "im", s.images_file(), GetParam());
  write_file(dir / "lb", idx_bytes(0x801, {3}, {1, 10, 2}), GetParam());
  const std::string e = error_of([&] { load_idx(dir / "im", dir / "lb", "x"); });
  EXPECT_NE(e.find(dir / "lb"), std::string::npos) << e;
  EXPECT_NE(e.find("label 10 of sample 1"), std::string::npos) << e;
}

INSTANTIATE_TEST_SUITE_P(GzipAndPlain, IdxTest, ::testing::Bool(),
                         [](const auto& info) { return info.param ? "gzip" : "plain"; });

TEST(Idx, CutGzipStreamIsTruncation) {
  TempDir dir;
  Sample s;
  write_file(dir / "im.gz", s.images_file(), true);
  write_file(dir / "lb", s.labels_file(), false);
  fs::resize_file(dir / "im.gz", fs::file_size(dir / "im.gz") - 12);  // drops the gzip trailer and data
  const std::string e = error_of([&] { load_idx(dir / "im.gz", dir / "lb", "x"); });
  EXPECT_NE(e.find(dir / "im.gz"), std::string::npos) << e;
  EXPECT_NE(e.find("truncated"), std::string::npos) << e;
}

TEST(Idx, MissingFile) {
  TempDir dir;
  const std::string e = error_of([&] { load_idx(dir / "nope", dir / "nope2", "x"); });
  EXPECT_NE(e.find(dir / "nope"), std::string::npos) << e;
  const std::string e2 = error_of([&] { load_fashion_mnist(true, dir.path.string()); });
  EXPECT_NE(e2.find("train-images-idx3-ubyte"), std::string::npos) << e2;
}

TEST(Idx, FashionMnistFilesFromDirectoryPreferGzip) {
  TempDir dir;
  Sample s;
  write_file(dir / "t10k-images-idx3-ubyte.gz", s.images_file(), true);
  write_file(dir / "t10k-labels-idx1-ubyte", s.labels_file(), false);
  Dataset d = load_fashion_mnist(false, dir.path.string());
  EXPECT_EQ(d.size(), 3);
  EXPECT_EQ(d.name(), "fashion-mnist/t10k");
}

TEST(Idx, InstalledFashionMnistTestSet) {
  if (!fs::exists(std::string(kFashionMnistDir) + "/t10k-images-idx3-ubyte.gz"))
    GTEST_SKIP() << "dataset-fashion-mnist not installed";
  Dataset d = load_fashion_mnist(false);
  ASSERT_EQ(d.size(), 10000);
  EXPECT_EQ(d.image_shape(), (Shape{1, 28, 28}));
  std::vector<int64_t> count(10, 0);
  for (int64_t i = 0; i < d.size(); ++i) ++count[d.label(i)];
  for (int64_t c : count) EXPECT_EQ(c, 1000);  // the test set is balanced
  EXPECT_EQ(d.label(0), 9);                    // first test image: ankle boot
}

TEST(Dataset, SliceSubsetAndFromTensors) {
  Tensor im = Tensor::from_vector({0.f, 1.f, 2.f, 3.f, 4.f, 5.f}, {3, 2, 1, 1});
  Tensor lb = Tensor::from_vector_i64({2, 0, 1}, {3});
  Dataset d = Dataset::from_tensors("t", im, lb, 3);
  Dataset s = d.slice(1, 2);
  EXPECT_EQ(s.size(), 2);
  EXPECT_EQ(s.images().to_vector(), (std::vector<float>{2.f, 3.f, 4.f, 5.f}));
  EXPECT_EQ(s.labels().to_vector_i64(), (std::vector<int64_t>{0, 1}));
  Dataset u = s.subset({1, 0, 1});
  EXPECT_EQ(u.images().to_vector(), (std::vector<float>{4.f, 5.f, 2.f, 3.f, 4.f, 5.f}));
  EXPECT_EQ(u.labels().to_vector_i64(), (std::vector<int64_t>{1, 0, 1}));
  EXPECT_THROW(d.subset({3}), Error);
  EXPECT_THROW(Dataset::from_tensors("t", im, Tensor::from_vector_i64({2, 0, 3}, {3}), 3), Error);
  Dataset b = Dataset::from_u8("b", 1, 1, 2, {0, 255, 51, 102}, {1, 0}, 2).subset({1});
  auto bv = b.images().to_vector();
  ASSERT_EQ(bv.size(), 2u);
  EXPECT_NEAR(bv[0], 0.2f, 1e-7f);
  EXPECT_NEAR(bv[1], 0.4f, 1e-7f);
}

}  // namespace
}  // namespace hwnas
