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

// The same line for work counted in items rather than epochs (layers measured, archs
// evaluated): "measuring layers [=====>    ] 12/80 ETA 0:31".
class TaskProgress {
 public:
  TaskProgress(bool enabled, std::string label, int64_t total);
  void update(int64_t done);

 private:
  bool enabled_, tty_;
  std::string label_;
  int64_t total_;
  std::chrono::steady_clock::time_point start_;
};

}  // namespace hwnas
