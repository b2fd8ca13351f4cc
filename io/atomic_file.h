#pragma once
// Writes that never leave a half-written file under the final name: data goes to
// "<path>.tmp-<pid>", is fsync'ed, then renamed over <path>. If anything fails before the
// rename, the temporary is removed and an existing <path> is untouched.
#include <cstddef>
#include <string>
#include <string_view>

namespace hwnas {

class AtomicWriter {
 public:
  explicit AtomicWriter(std::string path);  // opens the temporary (throws naming it on failure)
  ~AtomicWriter();                          // removes the temporary unless commit() succeeded
  AtomicWriter(const AtomicWriter&) = delete;
  AtomicWriter& operator=(const AtomicWriter&) = delete;

  void write(const void* data, size_t n);
  void write(std::string_view s) { write(s.data(), s.size()); }
  void write_zeros(size_t n);
  size_t bytes_written() const { return written_; }
  // fsync, close and rename onto the final path (and fsync the directory).
  void commit();

  const std::string& path() const { return path_; }
  const std::string& temp_path() const { return tmp_; }

 private:
  std::string path_, tmp_;
  int fd_ = -1;
  size_t written_ = 0;
  bool committed_ = false;
};

void write_file_atomic(const std::string& path, std::string_view bytes);

}  // namespace hwnas
