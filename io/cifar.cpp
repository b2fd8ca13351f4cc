#include "io/cifar.h"

#include <cerrno>
#include <cstdio>
#include <cstring>
#include <memory>

namespace hwnas {

namespace {

constexpr int64_t kPixels = 3 * 32 * 32;

std::vector<uint8_t> read_all(const std::string& path) {
  std::unique_ptr<FILE, int (*)(FILE*)> f(std::fopen(path.c_str(), "rb"), &std::fclose);
  if (!f) fail("cifar: cannot open {}: {}", path, std::strerror(errno));
  std::vector<uint8_t> out;
  uint8_t buf[1 << 16];
  size_t r;
  while ((r = std::fread(buf, 1, sizeof buf, f.get())) > 0) out.insert(out.end(), buf, buf + r);
  if (std::ferror(f.get())) fail("cifar: read error in {}", path);
  return out;
}

// Appends the records of one file. Each record starts with one label byte per entry of
// `classes` (every one range-checked); `which` picks the label kept.
void append_records(const std::string& path, const std::vector<int64_t>& classes, size_t which,
                    std::vector<uint8_t>& pixels, std::vector<uint8_t>& labels) {
  const std::vector<uint8_t> raw = read_all(path);
  const int64_t label_bytes = static_cast<int64_t>(classes.size());
  const int64_t rec = label_bytes + kPixels;
  const int64_t size = static_cast<int64_t>(raw.size());
  if (size == 0 || size % rec != 0)
    fail("cifar: {}: size {} bytes is not a positive multiple of the {}-byte record ({} label byte(s) + {} "
         "pixels); truncated or not a CIFAR binary file",
         path, size, rec, label_bytes, kPixels);
  const int64_t n = size / rec;
  const size_t p0 = pixels.size();
  pixels.resize(p0 + n * kPixels);
  for (int64_t i = 0; i < n; ++i) {
    const uint8_t* r = raw.data() + i * rec;
    for (size_t k = 0; k < classes.size(); ++k)
      if (r[k] >= classes[k])
        fail("cifar: {}: label {} of record {} is out of range [0, {})", path, int(r[k]), i, classes[k]);
    labels.push_back(r[which]);
    std::memcpy(pixels.data() + p0 + i * kPixels, r + label_bytes, kPixels);
  }
}

}  // namespace

Dataset load_cifar10_files(const std::vector<std::string>& files, const std::string& name) {
  HWNAS_CHECK(!files.empty(), "cifar10: no files given");
  std::vector<uint8_t> pixels, labels;
  for (const auto& f : files) append_records(f, {10}, 0, pixels, labels);
  return Dataset::from_u8(name, 3, 32, 32, std::move(pixels), std::move(labels), 10);
}

Dataset load_cifar10(const std::string& dir, bool train) {
  std::vector<std::string> files;
  if (train)
    for (int i = 1; i <= 5; ++i) files.push_back(dir + "/data_batch_" + std::to_string(i) + ".bin");
  else
    files.push_back(dir + "/test_batch.bin");
  return load_cifar10_files(files, train ? "cifar10/train" : "cifar10/test");
}

Dataset load_cifar100_file(const std::string& file, bool coarse, const std::string& name) {
  std::vector<uint8_t> pixels, labels;
  const int64_t classes = coarse ? 20 : 100;
  append_records(file, {20, 100}, coarse ? 0 : 1, pixels, labels);
  return Dataset::from_u8(name, 3, 32, 32, std::move(pixels), std::move(labels), classes);
}

Dataset load_cifar100(const std::string& dir, bool train, bool coarse) {
  return load_cifar100_file(dir + (train ? "/train.bin" : "/test.bin"), coarse,
                            train ? "cifar100/train" : "cifar100/test");
}

}  // namespace hwnas
