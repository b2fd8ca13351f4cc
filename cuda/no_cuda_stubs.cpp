// Built instead of the .cu files when hwnas is built without CUDA: the ops still link, and since
// no tensor can live on a GPU in such a build (Storage refuses), these are reached only through
// a bug; each throws the "built without CUDA" error naming its op.
#include "cuda/activation.h"
#include "cuda/batch_norm.h"
#include "cuda/cast.h"
#include "cuda/conv.h"
#include "cuda/conv_depthwise.h"
#include "cuda/dropout.h"
#include "cuda/elementwise.h"
#include "cuda/fused_supernet.h"
#include "cuda/gemm.h"
#include "cuda/loss.h"
#include "cuda/optim.h"
#include "cuda/pool.h"
#include "cuda/reduce.h"
#include "cuda/softmax.h"
#include "tensor/device_memory.h"

namespace hwnas::cuda {

void activation_forward(Activation, const float*, float*, int64_t, int) { fail_without_cuda("activation"); }
void activation_backward(Activation, const float*, const float*, float*, int64_t, int) {
  fail_without_cuda("activation backward");
}
void binary_flat(BinaryKind, float*, const float*, const float*, int64_t, int) { fail_without_cuda("elementwise"); }
void binary_strided(BinaryKind, float*, const StridedLayout&, const float*, const StridedLayout&, const float*,
                    const StridedLayout&, int64_t, int) {
  fail_without_cuda("elementwise");
}
void axpb(const float*, float*, float, float, int64_t, int) { fail_without_cuda("scale"); }
void sum_strided(float*, const float*, const StridedLayout&, const StridedLayout&, int64_t, int64_t, float, int) {
  fail_without_cuda("sum");
}

void sgemm(bool, bool, int64_t, int64_t, int64_t, float, const float*, int64_t, const float*, int64_t, float, float*,
           int64_t, int, bool) {
  fail_without_cuda("matmul");
}

void cross_entropy_forward(const float*, const int64_t*, int64_t, int64_t, float, float*, float*, int) {
  fail_without_cuda("cross_entropy");
}
void cross_entropy_backward(const float*, const float*, const int64_t*, const float*, int64_t, int64_t, float, float*,
                            int) {
  fail_without_cuda("cross_entropy backward");
}

void softmax_forward(const float*, float*, int64_t, int64_t, int64_t, bool, int) { fail_without_cuda("softmax"); }
void softmax_backward(const float*, const float*, float*, int64_t, int64_t, int64_t, bool, int) {
  fail_without_cuda("softmax backward");
}

void bn_stats(const float*, int64_t, int64_t, float*, float*, float*, int) { fail_without_cuda("batch_norm"); }
void bn_prepare(int64_t, const float*, const float*, const float*, const float*, float, float*, float*, float*, float,
                float*, int64_t, float*, int64_t, int64_t, int) {
  fail_without_cuda("batch_norm");
}
void bn_apply(const float*, float*, const float*, const float*, Activation, int64_t, int64_t, int) {
  fail_without_cuda("batch_norm");
}
void bn_reduce_grad(const float*, const float*, const float*, const float*, Activation, const float*, int64_t, int64_t,
                    float*, int) {
  fail_without_cuda("batch_norm backward");
}
void bn_input_grad(const float*, const float*, const float*, const float*, Activation, const float*, const float*,
                   const float*, bool, int64_t, int64_t, float*, float*, float*, int) {
  fail_without_cuda("batch_norm backward");
}

void conv_forward(const ConvShape&, const float*, const float*, const float*, float*, int) { fail_without_cuda("conv2d"); }
void conv_backward_data(const ConvShape&, const float*, const float*, float*, int) { fail_without_cuda("conv2d"); }
void conv_backward_filter(const ConvShape&, const float*, const float*, float*, int) { fail_without_cuda("conv2d"); }
void conv_forward_epilogue(const ConvShape&, const float*, const float*, const float*, Activation, const float*, float*,
                           int) {
  fail_without_cuda("conv2d_inference");
}
size_t conv_plan_cache_size() { return 0; }
void depthwise_forward_epilogue(const DepthwiseGeom&, const float*, const float*, const DepthwiseWeightLayout&,
                                const float*, Activation, const float*, float*, int) {
  fail_without_cuda("conv2d_inference");
}
void depthwise_forward(const DepthwiseGeom&, const float*, const float*, const DepthwiseWeightLayout&, const float*,
                       float*, int) {
  fail_without_cuda("depthwise conv");
}
void depthwise_backward_data(const DepthwiseGeom&, const float*, const float*, const DepthwiseWeightLayout&, float*,
                             int) {
  fail_without_cuda("depthwise conv backward");
}
void depthwise_backward_weight(const DepthwiseGeom&, const float*, const float*, float*, const DepthwiseWeightLayout&,
                               float*, int) {
  fail_without_cuda("depthwise conv backward");
}

void weighted_sum_forward(const WeightedSumArgs&, int) { fail_without_cuda("weighted_sum"); }
void weighted_sum_backward(const WeightedSumArgs&, float*, int) { fail_without_cuda("weighted_sum backward"); }
void split_attention_forward(const SplitAttentionArgs&, int) { fail_without_cuda("split_attention_combine"); }
void split_attention_backward(const SplitAttentionArgs&, int) {
  fail_without_cuda("split_attention_combine backward");
}
void width_masked_copy(const WidthMaskArgs&, const float*, float*, int) { fail_without_cuda("ordered_dropout"); }
void split_attention_pool(const SplitAttentionArgs&, float*, int) { fail_without_cuda("split_attention_pool"); }

void sgd_step(const TensorList&, const SgdScalars&, int) { fail_without_cuda("sgd step"); }
void adamw_step(const TensorList&, const AdamWScalars&, int) { fail_without_cuda("adamw step"); }

void max_pool_forward(const PoolArgs&, const float*, float*, int64_t*, int) { fail_without_cuda("max_pool2d"); }
void max_pool_backward(const PoolArgs&, const float*, const int64_t*, float*, int) {
  fail_without_cuda("max_pool2d backward");
}
void avg_pool_forward(const PoolArgs&, const float*, float*, int) { fail_without_cuda("avg_pool2d"); }
void avg_pool_backward(const PoolArgs&, const float*, float*, int) { fail_without_cuda("avg_pool2d backward"); }
void dropout_apply(const DropoutArgs&, const float*, float*, int64_t, int) { fail_without_cuda("dropout"); }

void cast_f32_to_bf16(const float*, uint16_t*, int64_t, int) { fail_without_cuda("cast to bf16"); }
void cast_bf16_to_f32(const uint16_t*, float*, int64_t, int) { fail_without_cuda("cast from bf16"); }

}  // namespace hwnas::cuda
