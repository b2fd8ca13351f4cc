#pragma once
// MNIST / Fashion-MNIST IDX files (gzip-compressed or plain). Every check names the file:
// magic number, dimensions, exact byte count (truncated or trailing data), image and label
// counts agreeing, labels in range.
#include <string>

#include "io/dataset.h"

namespace hwnas {

// Where the Debian package dataset-fashion-mnist installs the files.
inline constexpr const char* kFashionMnistDir = "/usr/share/datasets/fashion-mnist";

// Loads an images file (magic 0x00000803, [N, rows, cols]) and a labels file (0x00000801, [N]).
// Images become [N,1,rows,cols]; labels must be below num_classes.
Dataset load_idx(const std::string& images_path, const std::string& labels_path, const std::string& name,
                 int64_t num_classes = 10);

// "<dir>/{train,t10k}-{images-idx3,labels-idx1}-ubyte[.gz]": the .gz file, else the plain one.
Dataset load_fashion_mnist(bool train, const std::string& dir = kFashionMnistDir);

}  // namespace hwnas
