#pragma once
// Small helpers for writing an ONNX graph by hand: unique value names, float/int64 initializers,
// shared scalar constants and nodes with attributes. Only the ONNX exporter (io/onnx_export.cpp)
// includes this header, so the generated protobuf headers stay out of the rest of the build.
#include <onnx/onnx_pb.h>

#include <cstdint>
#include <map>
#include <string>
#include <vector>

namespace hwnas {

// One node attribute; built with the attr_* helpers below.
using OnnxAttr = onnx::AttributeProto;
OnnxAttr attr_int(const std::string& name, int64_t v);
OnnxAttr attr_ints(const std::string& name, const std::vector<int64_t>& v);
OnnxAttr attr_float(const std::string& name, float v);

class OnnxGraphBuilder {
 public:
  explicit OnnxGraphBuilder(onnx::GraphProto* graph) : g_(graph) {}

  // A value name not used before, derived from `base` ("layer3/conv" -> "layer3/conv_1" on reuse).
  std::string fresh(const std::string& base);

  // A float initializer named fresh(base) with the given ONNX shape and row-major data.
  std::string weight(const std::string& base, const std::vector<int64_t>& shape, const std::vector<float>& data);
  // A 1-D int64 initializer (Reshape shapes, ReduceSum axes).
  std::string int64s(const std::string& base, const std::vector<int64_t>& values);
  // A rank-0 float constant; equal values share one initializer (Clip bounds, the 3 and 1/6 of
  // hard-swish).
  std::string scalar(float v);

  // Appends a node with one output named fresh(out_base); returns that output's name.
  std::string op(const std::string& op_type, const std::vector<std::string>& inputs, const std::string& out_base,
                 const std::vector<OnnxAttr>& attrs = {});

  onnx::GraphProto& graph() { return *g_; }
  // The node that produced `value`, or null (graph inputs and initializers).
  onnx::NodeProto* producer(const std::string& value);

 private:
  onnx::GraphProto* g_;
  std::map<std::string, int> used_;
  std::map<uint32_t, std::string> scalars_;  // keyed by the float's bits
};

// Fills a ValueInfoProto as a float tensor; a dim given as -1 becomes the symbolic `dyn_name`.
void set_float_tensor_info(onnx::ValueInfoProto* info, const std::string& name, const std::vector<int64_t>& dims,
                           const std::string& dyn_name);

}  // namespace hwnas
