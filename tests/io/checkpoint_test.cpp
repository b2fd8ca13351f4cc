#include "io/checkpoint.h"

#include <gtest/gtest.h>

#include "tests/test_util.h"

#include <cstring>
#include <filesystem>
#include <fstream>
#include <functional>

#include "io/atomic_file.h"

namespace hwnas {
namespace {

namespace fs = std::filesystem;

using test::TempDir;

std::string read_bytes(const std::string& p) {
  std::ifstream f(p, std::ios::binary);
  return {std::istreambuf_iterator<char>(f), {}};
}
void write_bytes(const std::string& p, const std::string& b) { std::ofstream(p, std::ios::binary) << b; }

using test::error_of;

NamedTensors sample_tensors() {
  Generator g(3);
  Tensor w = Tensor::randn({4, 3, 3, 3}, g).contiguous(MemoryFormat::channels_last);  // stored as NCHW
  Tensor steps = Tensor::from_vector_i64({-5, 0, (int64_t(1) << 40) + 7}, {3});
  Tensor b = Tensor::randn({5, 6}, g).transpose(0, 1);  // non-contiguous view
  return {{"conv.weight", w}, {"step", steps}, {"fc.bias_t", b}, {"scalar", Tensor::scalar(-0.f)},
          {"empty", Tensor::zeros({0, 3})}};
}

TEST(Checkpoint, RoundTripIsExact) {
  TempDir dir;
  const auto ts = sample_tensors();
  nlohmann::json meta = {{"epoch", 7}, {"lr", 0.1}, {"arch", {1, 2, 3}}, {"name", "supernet"}};
  save_checkpoint(dir / "a.ckpt", ts, meta);
  EXPECT_EQ(dir.entries(), 1u);  // no temporary left behind
  Checkpoint ck = load_checkpoint(dir / "a.ckpt");
  EXPECT_EQ(ck.metadata, meta);
  ASSERT_EQ(ck.tensors.size(), ts.size());
  for (size_t i = 0; i < ts.size(); ++i) {
    const auto& [name, want] = ts[i];
    EXPECT_EQ(ck.tensors[i].first, name);
    const Tensor& got = ck.at(name);
    EXPECT_EQ(got.dtype(), want.dtype()) << name;
    EXPECT_EQ(got.shape(), want.shape()) << name;
    EXPECT_TRUE(got.is_contiguous());
    EXPECT_EQ(reinterpret_cast<uintptr_t>(got.raw_data()) % 64, 0u);
    if (want.dtype() == DType::i64) {
      EXPECT_EQ(got.to_vector_i64(), want.to_vector_i64()) << name;
    } else {
      const auto a = got.to_vector(), b = want.to_vector();
      ASSERT_EQ(a.size(), b.size());
      EXPECT_EQ(std::memcmp(a.data(), b.data(), a.size() * sizeof(float)), 0) << name;  // bit-exact, -0 kept
    }
  }
  EXPECT_EQ(ck.find("nope"), nullptr);
  EXPECT_THROW(ck.at("nope"), Error);
}

TEST(Checkpoint, FileLayoutIsAlignedAndDocumented) {
  TempDir dir;
  save_checkpoint(dir / "a.ckpt", {{"x", Tensor::from_vector({1.5f, 2.5f}, {2})}, {"y", Tensor::ones({3})}});
  const std::string b = read_bytes(dir / "a.ckpt");
  ASSERT_GE(b.size(), 20u);
  EXPECT_EQ(b.substr(0, 8), "HWNASCKP");
  uint32_t version;
  uint64_t hlen;
  std::memcpy(&version, b.data() + 8, 4);
  std::memcpy(&hlen, b.data() + 12, 8);
  EXPECT_EQ(version, 1u);
  EXPECT_EQ((20 + hlen) % 64, 0u);
  auto h = nlohmann::json::parse(b.substr(20, hlen));
  ASSERT_EQ(h["tensors"].size(), 2u);
  EXPECT_EQ(h["tensors"][1]["name"], "y");
  EXPECT_EQ(h["tensors"][1]["offset"].get<uint64_t>() % 64, 0u);
  EXPECT_EQ(h["tensors"][1]["nbytes"], 12);
  float x1;
  std::memcpy(&x1, b.data() + 20 + hlen + h["tensors"][0]["offset"].get<uint64_t>() + 4, 4);
  EXPECT_EQ(x1, 2.5f);
}

TEST(Checkpoint, NewerVersionIsAClearError) {
  TempDir dir;
  save_checkpoint(dir / "a.ckpt", sample_tensors());
  std::string b = read_bytes(dir / "a.ckpt");
  const uint32_t v2 = 2;
  std::memcpy(b.data() + 8, &v2, 4);
  write_bytes(dir / "v2.ckpt", b);
  const std::string e = error_of([&] { load_checkpoint(dir / "v2.ckpt"); });
  EXPECT_NE(e.find(dir / "v2.ckpt"), std::string::npos) << e;
  EXPECT_NE(e.find("version 2"), std::string::npos) << e;
  EXPECT_NE(e.find("version 1"), std::string::npos) << e;
}

TEST(Checkpoint, CorruptFilesAreClearErrors) {
  TempDir dir;
  save_checkpoint(dir / "a.ckpt", sample_tensors(), {{"k", 1}});
  const std::string b = read_bytes(dir / "a.ckpt");
  uint64_t hlen;
  std::memcpy(&hlen, b.data() + 12, 8);
  auto expect_error = [&](const std::string& bytes, const std::string& part) {
    write_bytes(dir / "bad.ckpt", bytes);
    const std::string e = error_of([&] { load_checkpoint(dir / "bad.ckpt"); });
    EXPECT_NE(e.find(dir / "bad.ckpt"), std::string::npos) << e;
    EXPECT_NE(e.find(part), std::string::npos) << e;
  };
  expect_error(b.substr(0, b.size() - 1), "truncated");       // data cut short
  expect_error(b.substr(0, 20 + hlen / 2), "truncated");      // header cut short
  expect_error(b.substr(0, 10), "truncated");                 // prefix cut short
  expect_error("XXXXXXXX" + b.substr(8), "bad magic");
  std::string broken = b;
  broken[20] = '#';
  expect_error(broken, "JSON");
  expect_error("", "truncated");
  EXPECT_NE(error_of([&] { load_checkpoint(dir / "missing.ckpt"); }).find("missing.ckpt"), std::string::npos);
}

TEST(Checkpoint, LoadIntoCopiesIntoExistingTensors) {
  TempDir dir;
  const auto ts = sample_tensors();
  save_checkpoint(dir / "a.ckpt", ts);
  Checkpoint ck = load_checkpoint(dir / "a.ckpt");
  // Targets with other layouts: channels_last weight, a transposed view into a bigger buffer.
  Tensor w = Tensor::zeros({4, 3, 3, 3}, DType::f32, MemoryFormat::channels_last);
  Tensor buf = Tensor::zeros({5, 6});
  NamedTensors targets = {{"step", Tensor::zeros({3}, DType::i64)}, {"conv.weight", w},
                          {"fc.bias_t", buf.transpose(0, 1)}, {"scalar", Tensor::scalar(1.f)},
                          {"empty", Tensor::zeros({0, 3})}};
  load_into(ck, targets);
  EXPECT_EQ(w.to_vector(), ts[0].second.to_vector());
  EXPECT_TRUE(w.is_channels_last());
  EXPECT_EQ(buf.transpose(0, 1).to_vector(), ts[2].second.to_vector());
  EXPECT_EQ(targets[0].second.to_vector_i64(), ts[1].second.to_vector_i64());
}

TEST(Checkpoint, LoadIntoMismatchedModelListsEverything) {
  TempDir dir;
  save_checkpoint(dir / "a.ckpt", {{"a", Tensor::zeros({2, 3})}, {"b", Tensor::zeros({4})}, {"c", Tensor::zeros({1})}});
  Checkpoint ck = load_checkpoint(dir / "a.ckpt");
  Tensor a = Tensor::ones({3, 2});
  NamedTensors targets = {{"a", a}, {"b", Tensor::ones({4})}, {"d", Tensor::ones({1})}};
  const std::string e = error_of([&] { load_into(ck, targets); });
  EXPECT_NE(e.find(dir / "a.ckpt"), std::string::npos) << e;
  EXPECT_NE(e.find("missing [d]"), std::string::npos) << e;
  EXPECT_NE(e.find("unexpected [c]"), std::string::npos) << e;
  EXPECT_NE(e.find("a (expected f32[3, 2], file f32[2, 3])"), std::string::npos) << e;
  // Nothing was copied: a half-loaded model is worse than none.
  EXPECT_EQ(a.to_vector(), std::vector<float>(6, 1.f));
  EXPECT_EQ(targets[1].second.to_vector(), std::vector<float>(4, 1.f));
  // dtype mismatch is reported too; partial loads accept extra file tensors.
  EXPECT_THROW(load_into(ck, {{"b", Tensor::zeros({4}, DType::i64)}}, true), Error);
  Tensor b = Tensor::ones({4});
  load_into(ck, {{"b", b}}, /*allow_unexpected=*/true);
  EXPECT_EQ(b.to_vector(), std::vector<float>(4, 0.f));
  EXPECT_THROW(load_into(ck, {{"b", b}}), Error);
}

TEST(Checkpoint, FailedSaveKeepsOldFileAndLeavesNoTemporary) {
  TempDir dir;
  save_checkpoint(dir / "a.ckpt", sample_tensors(), {{"v", "old"}});
  const std::string before = read_bytes(dir / "a.ckpt");
  auto bad = sample_tensors();
  bad.emplace_back("broken", Tensor());
  const std::string e = error_of([&] { save_checkpoint(dir / "a.ckpt", bad, {{"v", "new"}}); });
  EXPECT_NE(e.find("'broken' is undefined"), std::string::npos) << e;
  EXPECT_THROW(save_checkpoint(dir / "a.ckpt", {{"x", Tensor::ones({1})}, {"x", Tensor::ones({1})}}), Error);
  EXPECT_EQ(read_bytes(dir / "a.ckpt"), before);
  EXPECT_EQ(dir.entries(), 1u);
  EXPECT_EQ(load_checkpoint(dir / "a.ckpt").metadata["v"], "old");
}

TEST(AtomicFile, WriterThatThrowsMidwayKeepsOldFile) {
  TempDir dir;
  write_file_atomic(dir / "r.json", "{\"old\": 1}");
  EXPECT_EQ(read_bytes(dir / "r.json"), "{\"old\": 1}");
  try {
    AtomicWriter w(dir / "r.json");
    w.write("{\"new\": ");
    EXPECT_TRUE(fs::exists(w.temp_path()));
    throw std::runtime_error("serialization failed");
  } catch (const std::runtime_error&) {
  }
  EXPECT_EQ(read_bytes(dir / "r.json"), "{\"old\": 1}");
  EXPECT_EQ(dir.entries(), 1u);
  write_file_atomic(dir / "r.json", "{\"new\": 2}");
  EXPECT_EQ(read_bytes(dir / "r.json"), "{\"new\": 2}");
  EXPECT_EQ(dir.entries(), 1u);
  const std::string e = error_of([&] { write_file_atomic(dir / "no/such/dir/r.json", "x"); });
  EXPECT_NE(e.find("no/such/dir/r.json"), std::string::npos) << e;
}

TEST(Checkpoint, GeneratorStateRoundTrip) {
  Generator g(42);
  g.normal();  // leaves a cached spare
  nlohmann::json j = generator_state_to_json(g);
  Generator h = Generator(0);
  generator_state_from_json(h, nlohmann::json::parse(j.dump()));
  for (int i = 0; i < 5; ++i) EXPECT_EQ(g.normal(), h.normal());
  EXPECT_EQ(g.next_u64(), h.next_u64());
  EXPECT_THROW(generator_state_from_json(h, {{"s", 1}}), Error);
}

}  // namespace
}  // namespace hwnas
