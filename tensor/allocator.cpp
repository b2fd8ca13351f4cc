#include "tensor/allocator.h"

#include <cstdlib>
#include <mutex>
#include <unordered_map>
#include <vector>

#include "tensor/error.h"

namespace hwnas {

namespace {

constexpr size_t kMaxCachedBytes = size_t{3} << 30;

// Sizes are rounded so that nearby sizes share blocks: 64 bytes below 64 KiB, then 4 KiB pages.
size_t round_size(size_t n) {
  n = n == 0 ? 64 : n;
  const size_t q = n < (64u << 10) ? 64 : 4096;
  return (n + q - 1) / q * q;
}

struct Cache {
  std::mutex mu;
  std::unordered_map<size_t, std::vector<void*>> free_blocks;
  size_t cached = 0;
  ~Cache() {
    for (auto& [size, v] : free_blocks)
      for (void* p : v) std::free(p);
  }
};

Cache& cache() {
  static Cache* c = new Cache();  // never destroyed: tensors may be freed during static destruction
  return *c;
}

}  // namespace

void* cpu_alloc(size_t nbytes) {
  const size_t n = round_size(nbytes);
  {
    Cache& c = cache();
    std::lock_guard<std::mutex> lock(c.mu);
    auto it = c.free_blocks.find(n);
    if (it != c.free_blocks.end() && !it->second.empty()) {
      void* p = it->second.back();
      it->second.pop_back();
      c.cached -= n;
      return p;
    }
  }
  void* p = std::aligned_alloc(64, n);
  if (!p) {
    cpu_allocator_release_cache();
    p = std::aligned_alloc(64, n);
  }
  if (!p) fail("out of memory allocating {} bytes", nbytes);
  return p;
}

void cpu_free(void* p, size_t nbytes) {
  if (!p) return;
  const size_t n = round_size(nbytes);
  Cache& c = cache();
  {
    std::lock_guard<std::mutex> lock(c.mu);
    if (c.cached + n <= kMaxCachedBytes) {
      c.free_blocks[n].push_back(p);
      c.cached += n;
      return;
    }
  }
  std::free(p);
}

void cpu_allocator_release_cache() {
  Cache& c = cache();
  std::lock_guard<std::mutex> lock(c.mu);
  for (auto& [size, v] : c.free_blocks)
    for (void* p : v) std::free(p);
  c.free_blocks.clear();
  c.cached = 0;
}

size_t cpu_allocator_cached_bytes() {
  Cache& c = cache();
  std::lock_guard<std::mutex> lock(c.mu);
  return c.cached;
}

}  // namespace hwnas
