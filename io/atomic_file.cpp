#include "io/atomic_file.h"

#include <fcntl.h>
#include <unistd.h>

#include <cerrno>
#include <cstdio>
#include <cstring>
#include <filesystem>

#include "tensor/error.h"

namespace hwnas {

AtomicWriter::AtomicWriter(std::string path) : path_(std::move(path)) {
  tmp_ = path_ + ".tmp-" + std::to_string(::getpid());
  fd_ = ::open(tmp_.c_str(), O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0644);
  if (fd_ < 0) fail("write {}: cannot create temporary {}: {}", path_, tmp_, std::strerror(errno));
}

AtomicWriter::~AtomicWriter() {
  if (fd_ >= 0) ::close(fd_);
  if (!committed_) ::unlink(tmp_.c_str());
}

void AtomicWriter::write(const void* data, size_t n) {
  HWNAS_CHECK(fd_ >= 0, "write {}: file already committed", path_);
  const char* p = static_cast<const char*>(data);
  while (n > 0) {
    const ssize_t r = ::write(fd_, p, n);
    if (r < 0) {
      if (errno == EINTR) continue;
      fail("write {}: writing {} failed after {} bytes: {}", path_, tmp_, written_, std::strerror(errno));
    }
    p += r;
    n -= static_cast<size_t>(r);
    written_ += static_cast<size_t>(r);
  }
}

void AtomicWriter::write_zeros(size_t n) {
  static const char zeros[4096] = {};
  while (n > 0) {
    const size_t k = std::min(n, sizeof zeros);
    write(zeros, k);
    n -= k;
  }
}

void AtomicWriter::commit() {
  HWNAS_CHECK(fd_ >= 0, "write {}: file already committed", path_);
  if (::fsync(fd_) != 0) fail("write {}: fsync of {} failed: {}", path_, tmp_, std::strerror(errno));
  const int fd = fd_;
  fd_ = -1;
  if (::close(fd) != 0) fail("write {}: close of {} failed: {}", path_, tmp_, std::strerror(errno));
  if (std::rename(tmp_.c_str(), path_.c_str()) != 0)
    fail("write {}: rename from {} failed: {}", path_, tmp_, std::strerror(errno));
  committed_ = true;
  // Make the rename itself durable; failure here loses nothing already visible, so ignore it.
  const std::filesystem::path parent = std::filesystem::path(path_).parent_path();
  std::error_code ec;
  const std::filesystem::path dir = parent.empty() ? std::filesystem::current_path(ec) : parent;
  const int dfd = ::open(dir.c_str(), O_RDONLY | O_DIRECTORY | O_CLOEXEC);
  if (dfd >= 0) {
    ::fsync(dfd);
    ::close(dfd);
  }
}

void write_file_atomic(const std::string& path, std::string_view bytes) {
  AtomicWriter w(path);
  w.write(bytes);
  w.commit();
}

}  // namespace hwnas
