#pragma once
// Shared helpers for the op tests: random inputs, closeness checks, gradcheck assertions.
#include <gtest/gtest.h>

#include <stdlib.h>

#include <cmath>
#include <filesystem>
#include <functional>
#include <string>
#include <vector>

#include "autograd/gradcheck.h"
#include "io/idx.h"
#include "nn/layers.h"
#include "tensor/tensor.h"

namespace hwnas::test {

// The ops of arch 0 of the FBNet space's archs.csv, so that tests need not find the shared data
// folder (a clean clone elsewhere has none): resolve_network("fbnet:" + ...), fbnet_arch_ops(...).
inline const char* kFbnetArch0 =
    "k5_e6,skip,k3_e1_g2,skip,k5_e1,skip,skip,skip,k5_e6,k5_e1,k3_e1_g2,k5_e1,k5_e6,k3_e6,k3_e3,k5_e6,k3_e6,k3_e3,"
    "k5_e1,k3_e3,k5_e1,k5_e1_g2";

// Whether the Debian package's Fashion-MNIST is there (compressed or not); tests that train skip
// without it.
inline bool have_fashion_mnist() {
  const std::filesystem::path d(kFashionMnistDir);
  return std::filesystem::exists(d / "train-images-idx3-ubyte.gz") || std::filesystem::exists(d / "train-images-idx3-ubyte");
}

// A fresh directory under the system temp dir, removed with everything in it at scope exit.
struct TempDir {
  std::filesystem::path path;
  explicit TempDir(const std::string& prefix = "hwnas") {
    std::string t = (std::filesystem::temp_directory_path() / (prefix + "_XXXXXX")).string();
    path = mkdtemp(t.data());
  }
  ~TempDir() { std::filesystem::remove_all(path); }
  TempDir(const TempDir&) = delete;
  TempDir& operator=(const TempDir&) = delete;
  std::string operator/(const std::string& f) const { return (path / f).string(); }
  size_t entries() const {
    return std::distance(std::filesystem::directory_iterator(path), std::filesystem::directory_iterator());
  }
};

inline Tensor randn(const Shape& s, uint64_t seed = 1, float scale = 1.f) {
  Generator g(seed);
  return Tensor::randn(s, g, 0.f, scale);
}

inline Tensor cl(const Tensor& t) { return t.contiguous(MemoryFormat::channels_last); }
inline bool contains(const std::string& s, const std::string& part) { return s.find(part) != std::string::npos; }

inline Variable param(const Tensor& t) { return Variable(t, /*requires_grad=*/true); }

// Element-wise |a - b| <= atol + rtol * |b| over logical (row-major) order; layouts may differ.
inline ::testing::AssertionResult all_close(const Tensor& a, const Tensor& b, float atol = 1e-4f, float rtol = 1e-4f) {
  if (a.shape() != b.shape())
    return ::testing::AssertionFailure() << "shape " << shape_str(a.shape()) << " vs " << shape_str(b.shape());
  auto va = a.to_vector(), vb = b.to_vector();
  for (size_t i = 0; i < va.size(); ++i) {
    if (!(std::fabs(va[i] - vb[i]) <= atol + rtol * std::fabs(vb[i])))
      return ::testing::AssertionFailure() << "element " << i << ": " << va[i] << " vs " << vb[i];
  }
  return ::testing::AssertionSuccess();
}

// The message of the hwnas::Error that f throws, or "(no error)": for checking what an error says.
inline std::string error_of(const std::function<void()>& f) {
  try {
    f();
  } catch (const Error& e) {
    return e.what();
  }
  return "(no error)";
}

inline ::testing::AssertionResult grad_ok(const std::function<Variable(const std::vector<Variable>&)>& f,
                                          const std::vector<Variable>& inputs, GradcheckOptions o = {}) {
  auto r = gradcheck(f, inputs, o);
  if (r.ok) return ::testing::AssertionSuccess();
  return ::testing::AssertionFailure() << r.message;
}

// Non-trivial batch-norm statistics and affine parameters in every BatchNorm2d of `m`, so that a
// misplaced or unfolded entry shows in an output comparison.
inline void randomize_batch_norms(Module& m, Generator& g) {
  if (auto* bn = dynamic_cast<BatchNorm2d*>(&m)) {
    const Shape s = bn->running_mean.shape();
    bn->weight.data().copy_(Tensor::uniform(s, g, 0.6f, 1.4f));
    bn->bias.data().copy_(Tensor::randn(s, g, 0.f, 0.2f));
    bn->running_mean.copy_(Tensor::randn(s, g, 0.f, 0.2f));
    bn->running_var.copy_(Tensor::uniform(s, g, 0.6f, 1.6f));
  }
  for (auto& [name, child] : m.children()) randomize_batch_norms(*child, g);
}

// Largest |a - b| over elements in logical order (same numel), and largest |a|.
inline float max_abs_diff(const Tensor& a, const Tensor& b) {
  const auto va = a.to_vector(), vb = b.to_vector();
  float d = 0;
  for (size_t i = 0; i < va.size(); ++i) d = std::max(d, std::fabs(va[i] - vb[i]));
  return d;
}
inline float max_abs(const Tensor& a) {
  float m = 0;
  for (float v : a.to_vector()) m = std::max(m, std::fabs(v));
  return m;
}

}  // namespace hwnas::test
