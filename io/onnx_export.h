#pragma once
// ONNX export of a fixed network (nn/network.h) with the weights of its built modules, in
// standard ONNX ops that any runtime runs:
//   input  "input"  float [batch, C, H, W] (NCHW; "batch" is symbolic unless dynamic_batch is off)
//   output "logits" float [batch, classes]; a fragment (spec.classes == 0, a few layers timed
//          alone) keeps the shape its last layer produces, e.g. [batch, C, H, W]
//
// Layer by layer:
//   conv_bn_act      Conv (+ BatchNormalization unless folded) + activation
//   mbconv           1x1 expand Conv (grouped) + act [+ channel shuffle when groups > 1]
//                    + kxk depthwise Conv (stride) + act + 1x1 project Conv [+ Add of the input when
//                    the module applies its residual]; radix > 1: Split-Attention, below
//   conv             Conv (weights and optional bias as they are; a following batch_norm layer is
//                    folded into it when folding is on)
//   batch_norm       BatchNormalization + activation
//   channel_shuffle  Reshape [N, g, C/g, H, W] -> Transpose(0, 2, 1, 3, 4) -> Reshape [N, C, H, W]
//   max/avg_pool     MaxPool / AveragePool (count_include_pad = 1, as our avg pool)
//   global_avg_pool  GlobalAveragePool + Flatten (our pool returns [N, C])
//   flatten          Flatten(axis 1);  linear  Gemm(transB = 1);  identity, dropout  no node
// Activations: relu -> Relu; relu6 -> Clip(0, 6) with min/max inputs; sigmoid -> Sigmoid;
// swish -> x * Sigmoid(x); hsigmoid -> HardSigmoid(1/6, 1/2); hswish -> HardSwish at opset >= 14,
// and at opset 13 (the default: HardSwish does not exist there, and 13 is what older runtimes and
// converters accept) composed as x * Clip(x + 3, 0, 6) * (1/6), the formula our kernel uses.
// Split-Attention (mbconv radix r > 1; nn/split_attention.h): r depthwise Convs (+BN) + act,
// summed, GlobalAveragePool, fc1 Conv (+BN) + Relu, fc2 Conv to r*C logits, Reshape [N, r, C, 1, 1],
// Softmax(axis 1), Mul with the splits stacked by Unsqueeze + Concat [N, r, C, H, W], ReduceSum
// over axis 1.
//
// Folding (default on) rewrites conv + batch norm as one Conv with scaled filters and a bias, as a
// deployment would; off, every batch norm is a BatchNormalization node with its running
// statistics. Weights are written in ONNX layouts (Conv OIHW, Gemm [out, in] with transB) from
// the tensors' logical order, whatever their memory layout.
//
// The model is checked with onnx::checker before it is returned. This header only
// forward-declares onnx::ModelProto: callers of export_onnx include <onnx/onnx_pb.h> themselves;
// the bytes and file functions need no ONNX headers at all.
#include <cstdint>
#include <string>

#include "nn/network.h"

namespace onnx {
class ModelProto;
}

namespace hwnas {

struct OnnxExportOptions {
  int opset = 13;               // 13..17 (what libonnx 1.12's checker knows)
  bool fold_bn = true;          // fold batch norm into the preceding conv
  bool dynamic_batch = true;    // symbolic batch dim "batch"; else fixed at `batch`
  int64_t batch = 1;            // only with dynamic_batch off
};

// `net` must be build_network(spec, ...) (same layers in the same order); it is read, never
// changed (batch norm running statistics are exported as they are). Throws naming the layer
// index, its type and the problem for anything that cannot be expressed.
onnx::ModelProto export_onnx(const NetworkSpec& spec, Sequential& net, const OnnxExportOptions& opts = {});
// The model checked by onnx::checker and written atomically (io/atomic_file.h).
void save_onnx(const onnx::ModelProto& model, const std::string& path);

// The serialized model (for callers that do not include the ONNX headers).
std::string export_onnx_bytes(const NetworkSpec& spec, Sequential& net, const OnnxExportOptions& opts = {});
void export_onnx_file(const NetworkSpec& spec, Sequential& net, const std::string& path,
                      const OnnxExportOptions& opts = {});
// Builds the network with weights from `seed` and exports it.
void export_network_onnx(const NetworkSpec& spec, uint64_t seed, const std::string& path,
                         const OnnxExportOptions& opts = {});

}  // namespace hwnas
