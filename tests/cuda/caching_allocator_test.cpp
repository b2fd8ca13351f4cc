// The caching allocator's bookkeeping, on host memory standing in for the driver: reuse, splits,
// merges, pools, reserve, out of memory. Runs without a GPU.
#include "cuda/caching_allocator.h"

#include <gtest/gtest.h>

#include <cstdlib>
#include <set>

#include "tests/test_util.h"

namespace hwnas::cuda {
namespace {

struct FakeDriver {
  size_t limit = size_t{1} << 34;  // bytes the fake device has
  size_t used = 0;
  std::set<void*> live;
  std::map<void*, size_t> sizes;
  CachingAllocator make() {
    return CachingAllocator(
        [this](size_t n) -> void* {
          if (used + n > limit) return nullptr;
          void* p = std::malloc(n);
          used += n;
          live.insert(p);
          sizes[p] = n;
          return p;
        },
        [this](void* p) {
          ASSERT_TRUE(live.erase(p)) << "freed a pointer the driver never gave";
          used -= sizes[p];
          std::free(p);
        },
        "fake:0");
  }
};

const int kStreamA = 1, kStreamB = 2;
const void* sa = &kStreamA;
const void* sb = &kStreamB;

TEST(CachingAllocator, ReusesFreedBlocksWithoutTheDriver) {
  FakeDriver d;
  auto a = d.make();
  void* p = a.allocate(3 << 20, sa);
  a.deallocate(p);
  void* q = a.allocate(3 << 20, sa);
  EXPECT_EQ(p, q);
  EXPECT_EQ(a.stats().driver_allocs, 1u);
  EXPECT_EQ(a.stats().cache_hits, 1u);
  a.deallocate(q);
  EXPECT_EQ(a.stats().allocated_bytes, 0u);
}

TEST(CachingAllocator, SmallRequestsShareSmallSegments) {
  FakeDriver d;
  auto a = d.make();
  std::vector<void*> ps;
  for (int i = 0; i < 8; ++i) ps.push_back(a.allocate(1000, sa));  // rounded to 1024
  EXPECT_EQ(a.stats().driver_allocs, 1u);  // one 2 MiB small segment
  EXPECT_EQ(a.stats().reserved_bytes, CachingAllocator::kSmallSegment);
  std::set<void*> distinct(ps.begin(), ps.end());
  EXPECT_EQ(distinct.size(), 8u);
  for (size_t i = 1; i < ps.size(); ++i)  // carved one after another from the segment
    EXPECT_EQ(static_cast<char*>(ps[i]) - static_cast<char*>(ps[i - 1]), 1024);
  // A large request never comes from the small pool.
  void* big = a.allocate(2 << 20, sa);
  EXPECT_EQ(a.stats().driver_allocs, 2u);
  for (void* p : ps) a.deallocate(p);
  a.deallocate(big);
  // Freed neighbours merged back: both segments are whole and go back to the driver.
  a.release_cache();
  EXPECT_EQ(a.stats().segments, 0u);
  EXPECT_EQ(d.used, 0u);
}

TEST(CachingAllocator, ReserveServesSmallerSubnetsWithoutTheDriver) {
  FakeDriver d;
  auto a = d.make();
  a.reserve(64 << 20, sa);  // what the largest subnet needs
  EXPECT_EQ(a.stats().driver_allocs, 1u);
  // "Subnets" of varying sizes, each a handful of large activations, allocated and freed in turn.
  for (int step = 0; step < 20; ++step) {
    std::vector<void*> live;
    const size_t width = (2 + step % 5) << 20;
    for (int l = 0; l < 6; ++l) live.push_back(a.allocate(width + l * 4096, sa));
    for (void* p : live) a.deallocate(p);
  }
  EXPECT_EQ(a.stats().driver_allocs, 1u) << "a sampled subnet called the driver";
  EXPECT_EQ(a.stats().segments, 1u);
}

TEST(CachingAllocator, BlocksStayWithTheirStream) {
  FakeDriver d;
  auto a = d.make();
  void* p = a.allocate(4 << 20, sa);
  a.deallocate(p);
  void* q = a.allocate(4 << 20, sb);
  EXPECT_NE(p, q);
  EXPECT_EQ(a.stats().driver_allocs, 2u);
  a.deallocate(q);
}

TEST(CachingAllocator, OutOfMemoryReleasesTheCacheThenSaysWhatWasAsked) {
  FakeDriver d;
  d.limit = 16u << 20;
  auto a = d.make();
  void* p = a.allocate(10 << 20, sa);
  a.deallocate(p);  // cached: 10 MiB held, 0 in use
  void* q = a.allocate(12 << 20, sa);  // does not fit next to the cached segment: cache released, retried
  ASSERT_NE(q, nullptr);
  EXPECT_EQ(a.stats().driver_frees, 1u);
  try {
    a.allocate(8 << 20, sa);
    FAIL() << "expected out of memory";
  } catch (const Error& e) {
    EXPECT_TRUE(test::contains(e.what(), "out of memory on fake:0")) << e.what();
    EXPECT_TRUE(test::contains(e.what(), "asked 8.0 MiB")) << e.what();
  }
  a.deallocate(q);
  int on_stack = 0;
  EXPECT_THROW(a.deallocate(&on_stack), Error);
}

TEST(CachingAllocator, ZeroBytesIsNull) {
  FakeDriver d;
  auto a = d.make();
  EXPECT_EQ(a.allocate(0, sa), nullptr);
  a.deallocate(nullptr);
  EXPECT_EQ(a.stats().driver_allocs, 0u);
}

}  // namespace
}  // namespace hwnas::cuda
