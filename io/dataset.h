#pragma once
// An in-memory image classification dataset. Image datasets arrive as bytes, so pixels are
// kept as uint8 (a quarter of the memory of f32: CIFAR's 50k images are 150 MB, not 600 MB)
// and converted to f32 in [0, 1] per batch. Small synthetic datasets (tests, smoke runs) can
// instead hold arbitrary f32 values. Copies are cheap: the pixel memory is shared.
#include <cstdint>
#include <memory>
#include <string>
#include <vector>

#include "tensor/tensor.h"

namespace hwnas {

class Dataset {
 public:
  Dataset() = default;
  // pixels: N*C*H*W bytes in NCHW order; labels: N values in [0, num_classes).
  static Dataset from_u8(std::string name, int64_t c, int64_t h, int64_t w, std::vector<uint8_t> pixels,
                         std::vector<uint8_t> labels, int64_t num_classes);
  // images: f32 [N,C,H,W] (any layout, used as is); labels: i64 [N] in [0, num_classes).
  static Dataset from_tensors(std::string name, const Tensor& images, const Tensor& labels, int64_t num_classes);

  const std::string& name() const { return name_; }
  int64_t size() const { return n_; }
  int64_t channels() const { return c_; }
  int64_t height() const { return h_; }
  int64_t width() const { return w_; }
  int64_t num_classes() const { return num_classes_; }
  Shape image_shape() const { return {c_, h_, w_}; }
  int64_t label(int64_t i) const;

  // Writes sample i as f32 (uint8 pixels divided by 255) into dst, in CHW order.
  void read_image(int64_t i, float* dst) const;

  // Every sample (or [start, start+count)) as f32 [n,C,H,W] contiguous and i64 [n].
  Tensor images(int64_t start = 0, int64_t count = -1) const;
  Tensor labels(int64_t start = 0, int64_t count = -1) const;

  // A dataset of the given samples, in that order (e.g. a held-out split of the training set).
  Dataset subset(const std::vector<int64_t>& indices) const;
  // The first `count` samples from `start` (no copy of the pixels).
  Dataset slice(int64_t start, int64_t count) const;

 private:
  void check_range(int64_t start, int64_t& count, const char* what) const;

  std::string name_;
  int64_t n_ = 0, c_ = 0, h_ = 0, w_ = 0, num_classes_ = 0;
  int64_t first_ = 0;  // sample offset into the shared memory (slices)
  std::shared_ptr<const std::vector<uint8_t>> pixels_u8_;
  std::shared_ptr<const std::vector<uint8_t>> labels_u8_;
  Tensor images_f32_;  // contiguous [N,C,H,W] when the dataset holds floats
  Tensor labels_i64_;  // contiguous [N]
};

}  // namespace hwnas
