#include "io/onnx_builder.h"

#include <cstring>

#include "tensor/error.h"

namespace hwnas {

OnnxAttr attr_int(const std::string& name, int64_t v) {
  OnnxAttr a;
  a.set_name(name);
  a.set_type(onnx::AttributeProto::INT);
  a.set_i(v);
  return a;
}

OnnxAttr attr_ints(const std::string& name, const std::vector<int64_t>& v) {
  OnnxAttr a;
  a.set_name(name);
  a.set_type(onnx::AttributeProto::INTS);
  for (int64_t x : v) a.add_ints(x);
  return a;
}

OnnxAttr attr_float(const std::string& name, float v) {
  OnnxAttr a;
  a.set_name(name);
  a.set_type(onnx::AttributeProto::FLOAT);
  a.set_f(v);
  return a;
}

std::string OnnxGraphBuilder::fresh(const std::string& base) {
  const int n = used_[base]++;
  return n == 0 ? base : base + "_" + std::to_string(n);
}

std::string OnnxGraphBuilder::weight(const std::string& base, const std::vector<int64_t>& shape,
                                     const std::vector<float>& data) {
  int64_t numel = 1;
  for (int64_t d : shape) numel *= d;
  if (numel != static_cast<int64_t>(data.size()))
    fail("onnx export: initializer {} has {} values, but its shape [{}] needs {}", base, data.size(),
         fmt::join(shape, ", "), numel);
  const std::string name = fresh(base);
  onnx::TensorProto* t = g_->add_initializer();
  t->set_name(name);
  t->set_data_type(onnx::TensorProto::FLOAT);
  for (int64_t d : shape) t->add_dims(d);
  // raw_data is little-endian float32, which is what this (x86/ARM little-endian) host holds.
  t->set_raw_data(std::string(reinterpret_cast<const char*>(data.data()), data.size() * sizeof(float)));
  return name;
}

std::string OnnxGraphBuilder::int64s(const std::string& base, const std::vector<int64_t>& values) {
  const std::string name = fresh(base);
  onnx::TensorProto* t = g_->add_initializer();
  t->set_name(name);
  t->set_data_type(onnx::TensorProto::INT64);
  t->add_dims(static_cast<int64_t>(values.size()));
  for (int64_t v : values) t->add_int64_data(v);
  return name;
}

std::string OnnxGraphBuilder::scalar(float v) {
  uint32_t bits;
  std::memcpy(&bits, &v, sizeof bits);
  auto it = scalars_.find(bits);
  if (it != scalars_.end()) return it->second;
  const std::string name = fresh(fmt::format("const_{}", v));
  onnx::TensorProto* t = g_->add_initializer();
  t->set_name(name);
  t->set_data_type(onnx::TensorProto::FLOAT);
  t->add_float_data(v);
  scalars_[bits] = name;
  return name;
}

std::string OnnxGraphBuilder::op(const std::string& op_type, const std::vector<std::string>& inputs,
                                 const std::string& out_base, const std::vector<OnnxAttr>& attrs) {
  const std::string out = fresh(out_base);
  onnx::NodeProto* n = g_->add_node();
  n->set_op_type(op_type);
  n->set_name(out);
  for (const auto& i : inputs) n->add_input(i);
  n->add_output(out);
  for (const auto& a : attrs) *n->add_attribute() = a;
  return out;
}

onnx::NodeProto* OnnxGraphBuilder::producer(const std::string& value) {
  for (int i = g_->node_size() - 1; i >= 0; --i)
    for (const auto& o : g_->node(i).output())
      if (o == value) return g_->mutable_node(i);
  return nullptr;
}

void set_float_tensor_info(onnx::ValueInfoProto* info, const std::string& name, const std::vector<int64_t>& dims,
                           const std::string& dyn_name) {
  info->set_name(name);
  auto* tt = info->mutable_type()->mutable_tensor_type();
  tt->set_elem_type(onnx::TensorProto::FLOAT);
  auto* shape = tt->mutable_shape();
  for (int64_t d : dims) {
    auto* dim = shape->add_dim();
    if (d < 0)
      dim->set_dim_param(dyn_name);
    else
      dim->set_dim_value(d);
  }
}

}  // namespace hwnas
