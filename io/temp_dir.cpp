#include "io/temp_dir.h"

#include <stdlib.h>

#include <cerrno>
#include <cstring>

#include "tensor/error.h"

namespace hwnas {

TempDir::TempDir(const std::string& prefix) {
  std::string t = (std::filesystem::temp_directory_path() / (prefix + "_XXXXXX")).string();
  if (!mkdtemp(t.data())) fail("cannot create a temporary directory {}: {}", t, std::strerror(errno));
  path_ = t;
}

TempDir::~TempDir() {
  std::error_code ec;
  std::filesystem::remove_all(path_, ec);
}

}  // namespace hwnas
