#pragma once
// A caching device allocator, after PyTorch's CUDACachingAllocator. Memory comes from the driver
// in segments; blocks are carved from segments, handed out per stream, split when larger than
// asked, cached when freed and merged with free neighbours. cudaMalloc and cudaFree synchronise
// the device and cost tens of microseconds, so a training step must not call them:
//  - requests up to 1 MiB (biases, BN statistics, small activations) come from 2 MiB small
//    segments; larger ones from their own segments rounded to 2 MiB, so a small tensor never
//    pins a large segment;
//  - reserve(bytes) takes one large segment up front: a supernet reserves what its largest
//    subnet needs at start (after one warm-up step of that subnet the cache holds every block),
//    and sampled, smaller subnets are then served from the cache;
//  - when the driver is out of memory, fully free cached segments are returned and the request
//    is retried once before an error that says how much was asked, held and in use.
// Blocks are reused only on the stream they were freed on (no cross-stream events: every op
// runs on its device's one stream; see cuda/runtime.h).
// The logic is plain host code over a raw allocate/free pair, so tests run it without a GPU.
#include <cstddef>
#include <cstdint>
#include <functional>
#include <mutex>
#include <set>
#include <string>
#include <unordered_map>

namespace hwnas::cuda {

struct AllocatorStats {
  size_t segments = 0;         // live driver allocations
  size_t reserved_bytes = 0;   // bytes held from the driver
  size_t allocated_bytes = 0;  // bytes in blocks handed out (rounded sizes)
  size_t peak_allocated_bytes = 0;
  size_t driver_allocs = 0;    // raw allocations so far (cudaMalloc calls)
  size_t driver_frees = 0;
  size_t cache_hits = 0;       // allocations served without the driver
};

class CachingAllocator {
 public:
  using RawAlloc = std::function<void*(size_t)>;  // nullptr when out of memory
  using RawFree = std::function<void(void*)>;
  static constexpr size_t kRound = 512;             // every block size is a multiple
  static constexpr size_t kSmallLimit = 1u << 20;   // <= this: small pool
  static constexpr size_t kSmallSegment = 2u << 20;
  static constexpr size_t kLargeRound = 2u << 20;   // large segments: multiples of this

  CachingAllocator(RawAlloc raw_alloc, RawFree raw_free, std::string device_name);
  ~CachingAllocator();  // returns every segment to the driver
  CachingAllocator(const CachingAllocator&) = delete;
  CachingAllocator& operator=(const CachingAllocator&) = delete;

  // nbytes 0 gives nullptr. Throws hwnas::Error when the driver has no memory left.
  void* allocate(size_t nbytes, const void* stream);
  void deallocate(void* p);  // p from allocate (nullptr ignored); throws on a foreign pointer
  // Makes sure one free large block of at least nbytes is cached for `stream`.
  void reserve(size_t nbytes, const void* stream);
  void release_cache();  // returns the fully free segments to the driver
  AllocatorStats stats() const;

 private:
  struct Block {
    const void* stream;
    size_t size;
    char* ptr;
    bool allocated = false;
    bool small;
    Block* prev = nullptr;  // neighbours within the segment
    Block* next = nullptr;
  };
  struct ByStreamSizePtr {
    bool operator()(const Block* a, const Block* b) const;
  };
  using Pool = std::set<Block*, ByStreamSizePtr>;

  Block* find_free(Pool& pool, const void* stream, size_t size);
  Block* new_segment(size_t size, const void* stream, bool small);
  void* raw_or_throw(size_t size);
  void release_free_segments();  // caller holds the lock
  Block* split(Block* b, size_t size, Pool& pool);
  static void absorb_next(Block* a);
  Pool& pool_of(const Block* b) { return b->small ? small_ : large_; }

  RawAlloc raw_alloc_;
  RawFree raw_free_;
  std::string device_;
  mutable std::mutex mu_;
  Pool small_, large_;
  std::unordered_map<void*, Block*> live_;  // allocated blocks by pointer
  std::set<Block*> segments_;               // first block of each segment
  AllocatorStats stats_;
};

}  // namespace hwnas::cuda
