#include "io/dataset.h"

#include <cstring>

namespace hwnas {

Dataset Dataset::from_u8(std::string name, int64_t c, int64_t h, int64_t w, std::vector<uint8_t> pixels,
                         std::vector<uint8_t> labels, int64_t num_classes) {
  HWNAS_CHECK(c > 0 && h > 0 && w > 0, "dataset {}: image shape [{}, {}, {}] must be positive", name, c, h, w);
  HWNAS_CHECK(num_classes > 0 && num_classes <= 256, "dataset {}: num_classes {} must be in [1, 256]", name,
              num_classes);
  const int64_t n = static_cast<int64_t>(labels.size());
  HWNAS_CHECK(static_cast<int64_t>(pixels.size()) == n * c * h * w,
              "dataset {}: {} pixel bytes for {} labels, expected {} ({} x {}x{}x{})", name, pixels.size(), n,
              n * c * h * w, n, c, h, w);
  for (int64_t i = 0; i < n; ++i)
    HWNAS_CHECK(labels[i] < num_classes, "dataset {}: label {} of sample {} is out of range [0, {})", name,
                int(labels[i]), i, num_classes);
  Dataset d;
  d.name_ = std::move(name);
  d.n_ = n, d.c_ = c, d.h_ = h, d.w_ = w, d.num_classes_ = num_classes;
  d.pixels_u8_ = std::make_shared<const std::vector<uint8_t>>(std::move(pixels));
  d.labels_u8_ = std::make_shared<const std::vector<uint8_t>>(std::move(labels));
  return d;
}

Dataset Dataset::from_tensors(std::string name, const Tensor& images, const Tensor& labels, int64_t num_classes) {
  HWNAS_CHECK(images.defined() && labels.defined(), "dataset {}: undefined images or labels tensor", name);
  HWNAS_CHECK(images.dim() == 4 && images.dtype() == DType::f32, "dataset {}: images {} expected f32 [N,C,H,W]",
              name, images.str());
  HWNAS_CHECK(labels.dim() == 1 && labels.dtype() == DType::i64 && labels.size(0) == images.size(0),
              "dataset {}: labels {} expected i64 [{}]", name, labels.str(), images.size(0));
  HWNAS_CHECK(num_classes > 0, "dataset {}: num_classes {} must be positive", name, num_classes);
  Dataset d;
  d.name_ = std::move(name);
  d.n_ = images.size(0), d.c_ = images.size(1), d.h_ = images.size(2), d.w_ = images.size(3);
  d.num_classes_ = num_classes;
  d.images_f32_ = images.contiguous();
  d.labels_i64_ = labels.contiguous();
  const int64_t* lp = d.labels_i64_.data<int64_t>();
  for (int64_t i = 0; i < d.n_; ++i)
    HWNAS_CHECK(lp[i] >= 0 && lp[i] < num_classes, "dataset {}: label {} of sample {} is out of range [0, {})",
                d.name_, lp[i], i, num_classes);
  return d;
}

int64_t Dataset::label(int64_t i) const {
  HWNAS_CHECK(i >= 0 && i < n_, "dataset {}: sample {} out of range [0, {})", name_, i, n_);
  if (labels_u8_) return (*labels_u8_)[first_ + i];
  return labels_i64_.data<int64_t>()[first_ + i];
}

void Dataset::read_image(int64_t i, float* dst) const {
  HWNAS_CHECK(i >= 0 && i < n_, "dataset {}: sample {} out of range [0, {})", name_, i, n_);
  const int64_t m = c_ * h_ * w_;
  if (pixels_u8_) {
    const uint8_t* src = pixels_u8_->data() + (first_ + i) * m;
    for (int64_t k = 0; k < m; ++k) dst[k] = static_cast<float>(src[k]) * (1.0f / 255.0f);
  } else {
    std::memcpy(dst, images_f32_.data<float>() + (first_ + i) * m, m * sizeof(float));
  }
}

void Dataset::check_range(int64_t start, int64_t& count, const char* what) const {
  if (count < 0) count = n_ - start;
  HWNAS_CHECK(start >= 0 && count >= 0 && start + count <= n_, "dataset {}: {} [{}, {}) out of range [0, {})",
              name_, what, start, start + count, n_);
}

Tensor Dataset::images(int64_t start, int64_t count) const {
  check_range(start, count, "images");
  Tensor t = Tensor::empty({count, c_, h_, w_});
  float* p = t.data<float>();
  for (int64_t i = 0; i < count; ++i) read_image(start + i, p + i * c_ * h_ * w_);
  return t;
}

Tensor Dataset::labels(int64_t start, int64_t count) const {
  check_range(start, count, "labels");
  Tensor t = Tensor::empty({count}, DType::i64);
  int64_t* p = t.data<int64_t>();
  for (int64_t i = 0; i < count; ++i) p[i] = label(start + i);
  return t;
}

Dataset Dataset::slice(int64_t start, int64_t count) const {
  check_range(start, count, "slice");
  Dataset d = *this;
  d.first_ = first_ + start;
  d.n_ = count;
  return d;
}

Dataset Dataset::subset(const std::vector<int64_t>& indices) const {
  for (int64_t i : indices)
    HWNAS_CHECK(i >= 0 && i < n_, "dataset {}: subset index {} out of range [0, {})", name_, i, n_);
  const int64_t m = c_ * h_ * w_, k = static_cast<int64_t>(indices.size());
  if (pixels_u8_) {
    std::vector<uint8_t> px(k * m), lb(k);
    for (int64_t j = 0; j < k; ++j) {
      const int64_t src = first_ + indices[j];
      std::memcpy(px.data() + j * m, pixels_u8_->data() + src * m, m);
      lb[j] = (*labels_u8_)[src];
    }
    return from_u8(name_, c_, h_, w_, std::move(px), std::move(lb), num_classes_);
  }
  Tensor im = Tensor::empty({k, c_, h_, w_});
  Tensor lb = Tensor::empty({k}, DType::i64);
  for (int64_t j = 0; j < k; ++j) {
    read_image(indices[j], im.data<float>() + j * m);
    lb.data<int64_t>()[j] = label(indices[j]);
  }
  return from_tensors(name_, im, lb, num_classes_);
}

}  // namespace hwnas
