#include "hw_targets/cuda_target.h"

#include "tensor/error.h"

namespace hwnas {

bool cuda_target_available(std::string* why) {
#ifdef HWNAS_HAVE_CUDA
  if (why) *why = "the CUDA backend does not yet run whole networks";
#else
  if (why) *why = "this hwnas was built without the CUDA backend (no cuda/ sources or no nvcc at configure time)";
#endif
  return false;
}

TargetPtr make_cuda_target(const nlohmann::json& config, const std::string& source) {
  std::string why;
  if (!cuda_target_available(&why)) fail("target {} (kind cuda): cannot measure on a GPU: {}", source, why);
  return nullptr;  // unreachable until the CUDA backend lands
}

}  // namespace hwnas
