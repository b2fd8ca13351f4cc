#include "ops/autocast.h"

#include <gtest/gtest.h>

#include <string>
#include <thread>

#include "tensor/error.h"

namespace hwnas {
namespace {

TEST(Autocast, ScopesNestAndRestoreAndArePerThread) {
  EXPECT_EQ(autocast_dtype(), DType::f32);
  {
    AutocastScope outer(DType::bf16);
    EXPECT_EQ(autocast_dtype(), DType::bf16);
    DType other = DType::bf16;
    std::thread([&] { other = autocast_dtype(); }).join();
    EXPECT_EQ(other, DType::f32) << "a scope must not leak into other threads";
    {
      AutocastScope inner(DType::f32);
      EXPECT_EQ(autocast_dtype(), DType::f32);
    }
    EXPECT_EQ(autocast_dtype(), DType::bf16);
  }
  EXPECT_EQ(autocast_dtype(), DType::f32);
  EXPECT_THROW(AutocastScope(DType::i64), Error);
  EXPECT_EQ(autocast_dtype(), DType::f32);
}

TEST(Autocast, FlagValuesAndDeviceCheckGiveClearErrors) {
  EXPECT_EQ(parse_autocast("off", "--autocast"), DType::f32);
  EXPECT_EQ(parse_autocast("bf16", "--autocast"), DType::bf16);
  try {
    parse_autocast("fp8", "--autocast");
    FAIL() << "fp8 accepted";
  } catch (const Error& e) {
    const std::string m = e.what();
    EXPECT_NE(m.find("--autocast"), std::string::npos) << m;
    EXPECT_NE(m.find("fp8"), std::string::npos) << m;
  }
  EXPECT_NO_THROW(check_autocast_device(DType::f32, Device{}, "train"));
  EXPECT_NO_THROW(check_autocast_device(DType::bf16, Device{DeviceType::cuda, 0}, "train"));
  try {
    check_autocast_device(DType::bf16, Device{}, "supernet train");
    FAIL() << "bf16 on the CPU accepted";
  } catch (const Error& e) {
    EXPECT_NE(std::string(e.what()).find("supernet train"), std::string::npos) << e.what();
  }
}

}  // namespace
}  // namespace hwnas
