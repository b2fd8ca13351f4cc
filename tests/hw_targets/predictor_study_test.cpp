#include <gtest/gtest.h>

#include <fstream>

#include "hw_targets/predictor_study.h"
#include "nas/builtin_spaces.h"
#include "tests/test_util.h"

using namespace hwnas;
using test::contains;

// A small leave-one-device-out run on three synthetic devices (different per-op speeds, one
// exactly additive, two with noise), to check the study's plumbing and its bars.
TEST(PredictorStudy, LodoSmokeOnSyntheticDevices) {
  test::TempDir dir;
  const SearchSpace& s = fbnet_space();
  const ArchEncoding enc(s);
  Generator g(1);
  std::vector<Arch> archs;
  {
    std::ofstream f(dir / "archs.csv");
    f << "arch_id";
    for (int l = 0; l < 22; ++l) f << ",layer" << l;
    f << "\n";
    for (int i = 0; i < 260; ++i) {
      archs.push_back(sample_arch(s, g));
      f << i;
      for (const auto& op : archs.back().ops) f << "," << op;
      f << "\n";
    }
  }
  for (int d = 0; d < 3; ++d) {
    std::ofstream f(dir / ("dev" + std::to_string(d) + ".csv"));
    f << "arch_id,latency_ms\n";
    Generator n(10 + d);
    for (size_t i = 0; i < archs.size(); ++i) {
      double v = 5;
      for (size_t j : enc.active(archs[i])) v += (1 + d) * 0.01 * double(j % 9 + 1) + 0.002 * double(j % 7) * d;
      f << i << "," << v * (1 + 0.005 * d * n.normal()) << "\n";
    }
  }
  LodoOptions o;
  o.samples = {20};
  o.ceiling_train = 200;
  const LodoResult r = run_lodo(s, dir.path.string(), o);
  ASSERT_EQ(r.rows.size(), 3u);
  EXPECT_EQ(r.rows[0].device, "dev0");
  EXPECT_GT(r.rows[0].ceiling_tau, 0.95);  // exactly additive
  for (const LodoRow& row : r.rows) {
    ASSERT_EQ(row.cells.size(), 1u);
    EXPECT_GT(row.cells[0].transfer_tau, row.cells[0].ridge_tau);
    EXPECT_EQ(row.cells[0].pass, row.cells[0].transfer_tau >= row.ceiling_tau - 0.05 &&
                                     row.cells[0].transfer_w10 >= row.ceiling_w10 - 0.05);
  }
  const std::string md = lodo_markdown(r, o);
  EXPECT_TRUE(contains(md, "| dev2 |") && contains(md, "N=20 transfer w10 / tau")) << md;
  const nlohmann::json j = lodo_json(r, o);
  EXPECT_EQ(j.at("devices").size(), 3u);
  EXPECT_TRUE(j.at("devices")[1].at("by_samples")[0].contains("transfer_kendall_tau"));
}
