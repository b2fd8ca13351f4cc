#pragma once
// A fresh folder under the system temp folder, removed with what is in it when the object goes.
#include <filesystem>
#include <string>

namespace hwnas {

class TempDir {
 public:
  explicit TempDir(const std::string& prefix = "hwnas");  // throws naming the folder when it cannot
  ~TempDir();
  TempDir(const TempDir&) = delete;
  TempDir& operator=(const TempDir&) = delete;
  const std::filesystem::path& path() const { return path_; }

 private:
  std::filesystem::path path_;
};

}  // namespace hwnas
