// Tensors on a CUDA device: host/device copies in every layout, broadcasting and dtype
// conversion on the way, fill, and the caching allocator under real tensors. Skips without a GPU.
#include <gtest/gtest.h>

#include "cuda/runtime.h"
#include "tests/cuda/cuda_test_util.h"
#include "tests/test_util.h"

namespace hwnas {
namespace {

TEST(TensorCuda, WithoutAGpuTheErrorSaysWhy) {
  if (cuda_device_count() > 0) GTEST_SKIP() << "a GPU is present: nothing to refuse";
  try {
    Tensor::zeros({2, 3}).cuda();
    FAIL() << "expected an error";
  } catch (const Error& e) {
    const std::string m = e.what();
    EXPECT_TRUE(test::contains(m, "cuda:0")) << m;
    EXPECT_TRUE(test::contains(m, cuda_built() ? "CUDA" : "built without CUDA")) << m;
  }
}

TEST(TensorCuda, RoundTripKeepsValuesAndLayout) {
  HWNAS_SKIP_WITHOUT_GPU();
  Tensor x = test::randn({2, 3, 4, 5}, 1);
  Tensor d = x.cuda();
  EXPECT_TRUE(d.is_cuda());
  EXPECT_EQ(d.device().str(), "cuda:0");
  EXPECT_TRUE(test::all_close(d.cpu(), x, 0, 0));
  Tensor c = test::cl(x).cuda();  // channels_last stays channels_last
  EXPECT_TRUE(c.is_channels_last());
  EXPECT_TRUE(test::all_close(c.cpu(), x, 0, 0));
  EXPECT_EQ(d.to_vector(), x.to_vector());
  EXPECT_FLOAT_EQ(d.at({1, 2, 3, 4}), x.at({1, 2, 3, 4}));
}

TEST(TensorCuda, StridedCopiesBroadcastAndConvertOnTheDevice) {
  HWNAS_SKIP_WITHOUT_GPU();
  Tensor x = test::randn({4, 6}, 2);
  Tensor d = x.cuda();
  // A transposed view made contiguous on the device.
  EXPECT_TRUE(test::all_close(d.transpose(0, 1).contiguous().cpu(), x.transpose(0, 1).contiguous(), 0, 0));
  // A narrowed view copied into a slice of another device tensor.
  Tensor dst = Tensor::empty({4, 6}, DType::f32, MemoryFormat::contiguous, Device{DeviceType::cuda, 0});
  dst.fill_(7.f);
  dst.narrow(1, 2, 3).copy_(d.narrow(1, 0, 3));
  Tensor want = Tensor::full({4, 6}, 7.f);
  want.narrow(1, 2, 3).copy_(x.narrow(1, 0, 3));
  EXPECT_TRUE(test::all_close(dst.cpu(), want, 0, 0));
  // Broadcast from host and from device, f32 -> i64 conversion.
  Tensor row = Tensor::from_vector({1.f, 2.f, 3.f}, {3});
  Tensor b = Tensor::empty({2, 3}, DType::i64, MemoryFormat::contiguous, Device{DeviceType::cuda, 0});
  b.copy_(row);
  EXPECT_EQ(b.to_vector_i64(), (std::vector<int64_t>{1, 2, 3, 1, 2, 3}));
  b.copy_(row.cuda().unsqueeze(0));
  EXPECT_EQ(b.to_vector_i64(), (std::vector<int64_t>{1, 2, 3, 1, 2, 3}));
  EXPECT_FLOAT_EQ(Tensor::zeros_like(d).cpu().to_vector()[5], 0.f);
}

TEST(TensorCuda, HostAccessToADeviceTensorIsAnErrorNotACrash) {
  HWNAS_SKIP_WITHOUT_GPU();
  Tensor d = Tensor::ones({3}).cuda();
  try {
    (void)d.data<float>();
    FAIL() << "expected an error";
  } catch (const Error& e) {
    EXPECT_TRUE(test::contains(e.what(), "no kernel for that device")) << e.what();
  }
}

TEST(TensorCuda, TheCachingAllocatorServesRepeatedStepsFromTheCache) {
  HWNAS_SKIP_WITHOUT_GPU();
  auto& a = cuda::allocator(0);
  for (int i = 0; i < 3; ++i) Tensor::empty({256, 1024}, DType::f32, MemoryFormat::contiguous, Device{DeviceType::cuda, 0});
  const size_t before = a.stats().driver_allocs;
  for (int i = 0; i < 10; ++i) Tensor::empty({256, 1024}, DType::f32, MemoryFormat::contiguous, Device{DeviceType::cuda, 0});
  EXPECT_EQ(a.stats().driver_allocs, before);
}

}  // namespace
}  // namespace hwnas
