#pragma once
// The activation enum alone, without autograd or fmt, so that cuda/ kernels (compiled by nvcc,
// which cannot compile this fmt) share it with ops/activation.h.
namespace hwnas {

enum class Activation { none, relu, relu6, hswish, hsigmoid, sigmoid, swish };

}  // namespace hwnas
