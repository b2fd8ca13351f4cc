#include "io/idx.h"

#include <zlib.h>

#include <algorithm>
#include <cerrno>
#include <cstring>
#include <filesystem>

namespace hwnas {

namespace {

constexpr uint32_t kImagesMagic = 0x00000803, kLabelsMagic = 0x00000801;

// gzread reads gzip streams and, transparently, plain files.
class GzFile {
 public:
  explicit GzFile(const std::string& path) : path_(path) {
    f_ = gzopen(path.c_str(), "rb");
    if (!f_) fail("idx: cannot open {}: {}", path, std::strerror(errno));
  }
  ~GzFile() {
    if (f_) gzclose(f_);
  }
  GzFile(const GzFile&) = delete;
  GzFile& operator=(const GzFile&) = delete;

  // Reads up to n bytes; fewer only at end of data. A corrupt gzip stream is an error.
  size_t read(void* dst, size_t n) {
    size_t got = 0;
    while (got < n) {
      const unsigned chunk = static_cast<unsigned>(std::min<size_t>(n - got, 1u << 30));
      const int r = gzread(f_, static_cast<char*>(dst) + got, chunk);
      if (r < 0) {
        int err = 0;
        const char* msg = gzerror(f_, &err);
        // A gzip stream cut short: report it as a truncated file, with the byte counts.
        if (err == Z_BUF_ERROR) break;
        fail("idx: {}: read error after {} bytes: {}", path_, consumed_ + got, msg ? msg : "?");
      }
      if (r == 0) break;
      got += static_cast<size_t>(r);
    }
    consumed_ += got;
    return got;
  }

 private:
  std::string path_;
  gzFile f_ = nullptr;
  size_t consumed_ = 0;
};

uint32_t be32(const uint8_t* p) {
  return (uint32_t(p[0]) << 24) | (uint32_t(p[1]) << 16) | (uint32_t(p[2]) << 8) | uint32_t(p[3]);
}

struct IdxFile {
  std::vector<uint32_t> dims;
  std::vector<uint8_t> data;
};

IdxFile read_idx(const std::string& path, uint32_t magic, size_t ndims) {
  GzFile f(path);
  const size_t header = 4 + 4 * ndims;
  std::vector<uint8_t> h(header);
  const size_t got_h = f.read(h.data(), header);
  if (got_h < 4) fail("idx: {}: truncated: expected at least {} header bytes, got {}", path, header, got_h);
  const uint32_t m = be32(h.data());
  if (m != magic)
    fail("idx: {}: bad magic number 0x{:08x}, expected 0x{:08x} ({})", path, m, magic,
         magic == kImagesMagic ? "ubyte images, 3 dims" : "ubyte labels, 1 dim");
  if (got_h < header) fail("idx: {}: truncated: expected at least {} header bytes, got {}", path, header, got_h);
  IdxFile out;
  size_t n = 1;
  for (size_t d = 0; d < ndims; ++d) {
    out.dims.push_back(be32(h.data() + 4 + 4 * d));
    n *= out.dims.back();
  }
  // Guards against absurd dimensions in a corrupt header before allocating.
  if (n > (size_t(1) << 34)) fail("idx: {}: dimensions {} declare {} bytes, too large", path, out.dims, n);
  out.data.resize(n);
  const size_t got = f.read(out.data.data(), n);
  if (got < n)
    fail("idx: {}: truncated: expected {} bytes ({} header + {} data for dims {}), got {}", path, header + n,
         header, n, out.dims, header + got);
  uint8_t extra[64];
  const size_t more = f.read(extra, sizeof extra);
  if (more > 0)
    fail("idx: {}: trailing data: expected exactly {} bytes for dims {}, the file holds more", path, header + n,
         out.dims);
  return out;
}

std::string pick(const std::string& dir, const std::string& base) {
  const std::string gz = dir + "/" + base + ".gz";
  if (std::filesystem::exists(gz)) return gz;
  const std::string plain = dir + "/" + base;
  if (std::filesystem::exists(plain)) return plain;
  fail("fashion-mnist: neither {} nor {} exists (install dataset-fashion-mnist or pass the data directory)", gz,
       plain);
}

}  // namespace

Dataset load_idx(const std::string& images_path, const std::string& labels_path, const std::string& name,
                 int64_t num_classes) {
  IdxFile im = read_idx(images_path, kImagesMagic, 3);
  IdxFile lb = read_idx(labels_path, kLabelsMagic, 1);
  if (im.dims[0] != lb.dims[0])
    fail("idx: {} holds {} images but {} holds {} labels", images_path, im.dims[0], labels_path, lb.dims[0]);
  if (im.dims[1] == 0 || im.dims[2] == 0) fail("idx: {}: empty image size {}x{}", images_path, im.dims[1], im.dims[2]);
  for (size_t i = 0; i < lb.data.size(); ++i)
    if (lb.data[i] >= num_classes)
      fail("idx: {}: label {} of sample {} is out of range [0, {})", labels_path, int(lb.data[i]), i, num_classes);
  return Dataset::from_u8(name, 1, im.dims[1], im.dims[2], std::move(im.data), std::move(lb.data), num_classes);
}

Dataset load_fashion_mnist(bool train, const std::string& dir) {
  const std::string split = train ? "train" : "t10k";
  const std::string images = pick(dir, split + "-images-idx3-ubyte");
  const std::string labels = pick(dir, split + "-labels-idx1-ubyte");
  return load_idx(images, labels, "fashion-mnist/" + split);
}

}  // namespace hwnas
