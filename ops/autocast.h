#pragma once
// bf16 autocast for training on a GPU (mixed precision, fp32 master weights), scoped like
// torch.autocast: inside an AutocastScope(DType::bf16), conv2d (cuDNN), matmul and linear (cuBLAS)
// on CUDA tensors read their operands rounded to bf16 and compute on the tensor cores with f32
// accumulation; their backward runs at the precision their forward ran at. Everything else
// (parameters, optimizer state, gradients, BN, activations, losses) stays f32.
//
// Unlike torch.autocast, activations are stored in f32 between ops: each autocast op rounds its
// inputs to bf16 as it reads them (cuDNN: an explicit cast into a scratch buffer; cuBLAS: its
// FAST_16BF compute type) and writes f32 (cuDNN: the bf16 result widened). So the GEMM numerics
// are autocast's, but activation memory and bandwidth are not halved. Depthwise convs (own kernel)
// and CPU ops ignore the scope and compute in f32.
#include <string>

#include "tensor/dtype.h"

namespace hwnas {

// The precision of conv2d/matmul/linear math on a GPU for ops called now on this thread: f32
// unless an AutocastScope is open.
DType autocast_dtype();

class AutocastScope {
 public:
  explicit AutocastScope(DType compute);  // f32 or bf16
  ~AutocastScope();
  AutocastScope(const AutocastScope&) = delete;
  AutocastScope& operator=(const AutocastScope&) = delete;

 private:
  DType previous_;
};

// "off" (or "f32") and "bf16", the values of the --autocast flags; anything else is an error
// naming `flag` and the value.
DType parse_autocast(const std::string& value, const std::string& flag);
// "off" or "bf16": the flag value that parse_autocast reads back.
inline const char* autocast_name(DType compute) { return compute == DType::bf16 ? "bf16" : "off"; }

// bf16 autocast is for CUDA devices: on the CPU every op computes in f32, so asking for bf16
// there is an error (naming `who`) rather than a silent f32 run.
void check_autocast_device(DType compute, Device device, const std::string& who);

}  // namespace hwnas
