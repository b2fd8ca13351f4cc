#include "ops/autocast.h"

#include "tensor/error.h"

namespace hwnas {

namespace {
thread_local DType t_autocast = DType::f32;
}

DType autocast_dtype() { return t_autocast; }

AutocastScope::AutocastScope(DType compute) : previous_(t_autocast) {
  if (compute != DType::f32 && compute != DType::bf16)
    fail("autocast: compute type must be f32 or bf16, got {}", dtype_name(compute));
  t_autocast = compute;
}

AutocastScope::~AutocastScope() { t_autocast = previous_; }

DType parse_autocast(const std::string& value, const std::string& flag) {
  if (value == "off" || value == "f32") return DType::f32;
  if (value == "bf16") return DType::bf16;
  fail("{}: unknown autocast type '{}' (expected off or bf16)", flag, value);
}

void check_autocast_device(DType compute, Device device, const std::string& who) {
  if (compute == DType::bf16 && device.is_cpu())
    fail("{}: --autocast bf16 needs a CUDA --device (got {}); CPU ops compute in f32", who, device.str());
}

}  // namespace hwnas
