#include "ops/fused_kernels.h"

#include <atomic>
#include <cstdlib>
#include <cstring>

namespace hwnas {

namespace {
std::atomic<bool>& flag() {
  static std::atomic<bool> on{[] {
    const char* v = std::getenv("HWNAS_FUSED");
    return !(v && std::strcmp(v, "0") == 0);
  }()};
  return on;
}
}  // namespace

bool fused_kernels_enabled() { return flag().load(std::memory_order_relaxed); }
void set_fused_kernels_enabled(bool on) { flag().store(on, std::memory_order_relaxed); }

}  // namespace hwnas
