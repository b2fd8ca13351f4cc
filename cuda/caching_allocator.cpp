#include "cuda/caching_allocator.h"

#include <algorithm>
#include <tuple>

#include "tensor/error.h"

namespace hwnas::cuda {

namespace {

size_t round_up(size_t n, size_t m) { return (n + m - 1) / m * m; }
double mib(size_t b) { return static_cast<double>(b) / (1024.0 * 1024.0); }

}  // namespace

bool CachingAllocator::ByStreamSizePtr::operator()(const Block* a, const Block* b) const {
  return std::tie(a->stream, a->size, a->ptr) < std::tie(b->stream, b->size, b->ptr);
}

CachingAllocator::CachingAllocator(RawAlloc raw_alloc, RawFree raw_free, std::string device_name)
    : raw_alloc_(std::move(raw_alloc)), raw_free_(std::move(raw_free)), device_(std::move(device_name)) {}

CachingAllocator::~CachingAllocator() {
  // Blocks still handed out (tensors outliving the allocator at exit) keep their segment; the
  // driver reclaims it with the process.
  std::lock_guard<std::mutex> lock(mu_);
  release_free_segments();
}

void* CachingAllocator::raw_or_throw(size_t size) {
  void* p = raw_alloc_(size);
  if (!p) {
    release_free_segments();
    p = raw_alloc_(size);
  }
  if (!p)
    fail("cuda allocator: out of memory on {}: asked {:.1f} MiB; {:.1f} MiB held from the driver, {:.1f} MiB in use",
         device_, mib(size), mib(stats_.reserved_bytes), mib(stats_.allocated_bytes));
  ++stats_.driver_allocs;
  stats_.reserved_bytes += size;
  ++stats_.segments;
  return p;
}

CachingAllocator::Block* CachingAllocator::new_segment(size_t size, const void* stream, bool small) {
  auto* b = new Block{stream, size, static_cast<char*>(raw_or_throw(size)), false, small};
  segments_.insert(b);
  return b;
}

CachingAllocator::Block* CachingAllocator::find_free(Pool& pool, const void* stream, size_t size) {
  Block key{stream, size, nullptr, false, false};
  auto it = pool.lower_bound(&key);  // smallest block of this stream that fits (best fit)
  if (it == pool.end() || (*it)->stream != stream) return nullptr;
  Block* b = *it;
  pool.erase(it);
  return b;
}

// Cuts `b` to `size`, the rest becomes a free block in `pool`, when the rest is worth keeping:
// any remainder in the small pool, more than the small limit in the large pool (a large block
// split into slivers would fragment it for the large tensors it exists for).
CachingAllocator::Block* CachingAllocator::split(Block* b, size_t size, Pool& pool) {
  const size_t rest = b->size - size;
  const bool worth = b->small ? rest >= kRound : rest > kSmallLimit;
  if (!worth) return b;
  auto* r = new Block{b->stream, rest, b->ptr + size, false, b->small, b, b->next};
  if (b->next) b->next->prev = r;
  b->next = r;
  b->size = size;
  pool.insert(r);
  return b;
}

void* CachingAllocator::allocate(size_t nbytes, const void* stream) {
  if (nbytes == 0) return nullptr;
  std::lock_guard<std::mutex> lock(mu_);
  const size_t size = round_up(nbytes, kRound);
  const bool small = size <= kSmallLimit;
  Pool& pool = small ? small_ : large_;
  Block* b = find_free(pool, stream, size);
  if (b) {
    ++stats_.cache_hits;
  } else {
    b = new_segment(small ? kSmallSegment : round_up(size, kLargeRound), stream, small);
  }
  b = split(b, size, pool);
  b->allocated = true;
  live_[b->ptr] = b;
  stats_.allocated_bytes += b->size;
  stats_.peak_allocated_bytes = std::max(stats_.peak_allocated_bytes, stats_.allocated_bytes);
  return b->ptr;
}

// `a` takes over its next block's bytes; the next block is deleted.
void CachingAllocator::absorb_next(Block* a) {
  Block* n = a->next;
  a->size += n->size;
  a->next = n->next;
  if (n->next) n->next->prev = a;
  delete n;
}

void CachingAllocator::deallocate(void* p) {
  if (!p) return;
  std::lock_guard<std::mutex> lock(mu_);
  auto it = live_.find(p);
  if (it == live_.end()) fail("cuda allocator: free of a pointer {} that {} did not hand out", p, device_);
  Block* b = it->second;
  live_.erase(it);
  b->allocated = false;
  stats_.allocated_bytes -= b->size;
  Pool& pool = pool_of(b);
  // Merge with free neighbours, so a freed subnet's blocks become one block again. A free
  // neighbour leaves the pool before it changes size (the pool is ordered by size).
  if (b->next && !b->next->allocated) {
    pool.erase(b->next);
    absorb_next(b);
  }
  if (b->prev && !b->prev->allocated) {
    b = b->prev;
    pool.erase(b);
    absorb_next(b);
  }
  pool.insert(b);
}

void CachingAllocator::reserve(size_t nbytes, const void* stream) {
  std::lock_guard<std::mutex> lock(mu_);
  const size_t size = round_up(std::max<size_t>(nbytes, kSmallLimit + kRound), kLargeRound);
  Block key{stream, size, nullptr, false, false};
  auto it = large_.lower_bound(&key);
  if (it != large_.end() && (*it)->stream == stream) return;  // already cached
  large_.insert(new_segment(size, stream, false));
}

void CachingAllocator::release_free_segments() {
  for (auto it = segments_.begin(); it != segments_.end();) {
    Block* b = *it;
    if (b->allocated || b->next) {  // a segment is free when it is one free block again
      ++it;
      continue;
    }
    pool_of(b).erase(b);
    raw_free_(b->ptr);
    ++stats_.driver_frees;
    --stats_.segments;
    stats_.reserved_bytes -= b->size;
    delete b;
    it = segments_.erase(it);
  }
}

void CachingAllocator::release_cache() {
  std::lock_guard<std::mutex> lock(mu_);
  release_free_segments();
}

AllocatorStats CachingAllocator::stats() const {
  std::lock_guard<std::mutex> lock(mu_);
  return stats_;
}

}  // namespace hwnas::cuda
