#include <gtest/gtest.h>

#include <fstream>

#include "hw_targets/latency_data.h"
#include "nas/builtin_spaces.h"
#include "tests/test_util.h"

using namespace hwnas;
using test::contains;
using test::error_of;

namespace {

std::string ops_row(const std::string& op, const std::string& last = "") {
  std::string r;
  for (int l = 0; l < 22; ++l) r += "," + (l == 21 && !last.empty() ? last : op);
  return r;
}
std::string header() {
  std::string h = "arch_id";
  for (int l = 0; l < 22; ++l) h += ",layer" + std::to_string(l);
  return h + "\n";
}
void write(const std::string& path, const std::string& text) { std::ofstream(path) << text; }

}  // namespace

TEST(LatencyData, ReadsArchsAndLatencies) {
  test::TempDir dir;
  write(dir / "archs.csv", header() + "0" + ops_row("k3_e1") + "\n7" + ops_row("skip", "k5_e6") + "\r\n\n");
  write(dir / "dev.csv", "arch_id,latency_ms\n7,2.5\n0,1.25\n");
  const LatencyData d = read_latency_csv(fbnet_space(), dir / "dev.csv");
  ASSERT_EQ(d.size(), 2u);
  EXPECT_EQ(d.device, "dev");
  EXPECT_EQ(d.ids, (std::vector<int64_t>{7, 0}));
  EXPECT_EQ(d.latency_ms, (std::vector<double>{2.5, 1.25}));
  EXPECT_EQ(d.archs[0].ops[0], "skip");
  EXPECT_EQ(d.archs[0].ops[21], "k5_e6");
  EXPECT_EQ(d.archs[1].ops[5], "k3_e1");
}

TEST(LatencyData, ErrorsNameFileLineAndValue) {
  test::TempDir dir;
  const std::string archs = dir / "archs.csv";
  write(archs, header() + "0" + ops_row("k3_e1") + "\n1" + ops_row("k3_e1", "k7_e9") + "\n");
  std::string e = error_of([&] { read_arch_table(fbnet_space(), archs); });
  EXPECT_TRUE(contains(e, archs + ":3")) << e;
  EXPECT_TRUE(contains(e, "k7_e9")) << e;

  write(archs, header() + "0" + ops_row("k3_e1") + "\n1" + ops_row("k5_e3") + "\n");
  auto lat_error = [&](const std::string& body) {
    write(dir / "d.csv", body);
    return error_of([&] { read_latency_csv(fbnet_space(), dir / "d.csv"); });
  };
  e = lat_error("arch_id,latency_ms\n0,1.5\n1,abc\n");
  EXPECT_TRUE(contains(e, dir / "d.csv:3")) << e;
  EXPECT_TRUE(contains(e, "\"abc\"")) << e;
  e = lat_error("arch_id,latency_ms\n0,-2\n");
  EXPECT_TRUE(contains(e, "d.csv:2") && contains(e, "-2")) << e;
  e = lat_error("arch_id,latency_ms\n0,1\n42,1\n");
  EXPECT_TRUE(contains(e, "d.csv:3") && contains(e, "arch_id 42") && contains(e, "archs.csv")) << e;
  e = lat_error("arch_id,latency_ms\n0,1\n0,2\n");
  EXPECT_TRUE(contains(e, "d.csv:3") && contains(e, "duplicate")) << e;
  e = lat_error("id,ms\n0,1\n");
  EXPECT_TRUE(contains(e, "d.csv:1") && contains(e, "header")) << e;
  e = lat_error("arch_id,latency_ms\n0,1,2\n");
  EXPECT_TRUE(contains(e, "d.csv:2") && contains(e, "3 columns")) << e;
  EXPECT_TRUE(contains(error_of([&] { read_latency_csv(fbnet_space(), dir / "none.csv"); }), "none.csv"));
}

TEST(LatencyData, OneHotPerLayerOp) {
  const ArchEncoding enc(fbnet_space());
  ASSERT_EQ(enc.dims(), 22u);
  ASSERT_EQ(enc.width(), 198u);
  Arch a;
  a.ops.assign(22, "k3_e1");
  a.ops[3] = "skip";
  a.ops[21] = "k5_e6";
  const auto& names = fbnet_space().dims[3].names;
  const size_t skip = std::find(names.begin(), names.end(), "skip") - names.begin();
  const auto v = enc.one_hot(a);
  EXPECT_EQ(std::count(v.begin(), v.end(), 1.0), 22);
  EXPECT_EQ(v[3 * 9 + skip], 1.0);
  EXPECT_EQ(enc.entry_name(3 * 9 + skip), "ops[3]=skip");
  EXPECT_EQ(enc.arch_from_active(enc.active(a)), a);
}

TEST(LatencyData, SoftEncodingShapes) {
  const ArchEncoding enc(fbnet_space());
  EXPECT_EQ(enc.flatten_soft(Variable(Tensor::full({22, 9}, 1.f / 9))).shape(), (Shape{1, 198}));
  EXPECT_EQ(enc.flatten_soft(Variable(Tensor::zeros({5, 198}))).shape(), (Shape{5, 198}));
  EXPECT_EQ(enc.flatten_soft(Variable(Tensor::zeros({198}))).shape(), (Shape{1, 198}));
  const std::string e = error_of([&] { enc.flatten_soft(Variable(Tensor::zeros({3, 3}))); });
  EXPECT_TRUE(contains(e, "[3, 3]") && contains(e, "[22, 9]")) << e;
  std::vector<Variable> per_dim;
  for (int d = 0; d < 22; ++d) per_dim.push_back(Variable(Tensor::full({9}, float(d))));
  const Variable s = enc.soft_from_weights(per_dim);
  ASSERT_EQ(s.shape(), (Shape{1, 198}));
  EXPECT_EQ(s.data().to_vector()[5 * 9 + 4], 5.f);
}
