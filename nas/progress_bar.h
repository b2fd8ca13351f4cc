#pragma once
// The training progress line: redraws itself on a terminal; on a pipe or CI log it prints a
// line every ~10% so logs stay short.
#include <chrono>
#include <cstdint>
#include <string>

namespace hwnas {

class ProgressBar {
 public:
  // `unit` names what images_per_s counts ("img/s", "subnet-img/s").
  ProgressBar(bool enabled, int64_t epoch, int64_t epochs, int64_t total, std::string unit = "img/s");
  void update(int64_t done, double loss, int64_t images);

 private:
  bool enabled_, tty_;
  int64_t epoch_, epochs_, total_;
  std::string unit_;
  std::chrono::steady_clock::time_point start_;
};

}  // namespace hwnas
