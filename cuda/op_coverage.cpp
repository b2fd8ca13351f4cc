#include "cuda/op_coverage.h"

#include <algorithm>
#include <array>

namespace hwnas {

namespace {

// Add an op here in the commit that gives it a CUDA forward and backward and its CPU-vs-CUDA
// test (tests/cuda/ops_cuda_test.cpp); tests/cuda/cuda_coverage_test.cpp checks that every op the
// supernet spaces use is here.
constexpr std::array kCudaOps = {
    // Own kernels (cuda/*.cu), cuBLAS (matmul, linear) and cuDNN (conv2d but depthwise).
    OpKind::relu, OpKind::relu6, OpKind::hswish, OpKind::hsigmoid, OpKind::sigmoid, OpKind::swish, OpKind::add,
    OpKind::sub, OpKind::mul, OpKind::div, OpKind::add_scalar, OpKind::mul_scalar, OpKind::neg, OpKind::matmul,
    OpKind::linear, OpKind::cross_entropy, OpKind::softmax, OpKind::log_softmax, OpKind::batch_norm, OpKind::conv2d,
    OpKind::global_avg_pool, OpKind::max_pool2d, OpKind::avg_pool2d, OpKind::dropout,
    // Views and strided device copies (shape ops; reductions through sum_to_shape's kernel).
    OpKind::sum, OpKind::mean, OpKind::concat, OpKind::split, OpKind::slice, OpKind::reshape, OpKind::permute,
    OpKind::channel_shuffle, OpKind::channel_bypass,
    // Fused single-launch kernels (cuda/fused_supernet.h).
    OpKind::weighted_sum, OpKind::split_attention_combine, OpKind::split_attention_pool, OpKind::ordered_dropout,
    // Composed of the ops above.
    OpKind::gumbel_softmax, OpKind::channel_mask, OpKind::soft_cross_entropy,
};

}  // namespace

bool has_cuda_kernel(OpKind op) { return std::find(kCudaOps.begin(), kCudaOps.end(), op) != kCudaOps.end(); }

std::vector<OpKind> ops_without_cuda_kernel() {
  std::vector<OpKind> r;
  for (size_t i = 0; i < kOpNames.size(); ++i)
    if (!has_cuda_kernel(static_cast<OpKind>(i))) r.push_back(static_cast<OpKind>(i));
  return r;
}

std::optional<OpKind> op_kind_from_name(std::string_view name) {
  for (size_t i = 0; i < kOpNames.size(); ++i)
    if (kOpNames[i] == name) return static_cast<OpKind>(i);
  return std::nullopt;
}

}  // namespace hwnas
