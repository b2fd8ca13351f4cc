#include "nas/progress_bar.h"

#include <unistd.h>

#include <algorithm>
#include <cstdio>

namespace hwnas {

namespace {
std::string bar_text(int64_t done, int64_t total) {
  const int width = 24, filled = static_cast<int>(width * done / std::max<int64_t>(total, 1));
  std::string bar(filled, '=');
  if (filled < width) bar += '>' + std::string(width - filled - 1, ' ');
  return bar;
}
}  // namespace

ProgressBar::ProgressBar(bool enabled, int64_t epoch, int64_t epochs, int64_t total, std::string unit)
    : enabled_(enabled), tty_(isatty(fileno(stderr))), epoch_(epoch), epochs_(epochs), total_(total),
      unit_(std::move(unit)), start_(std::chrono::steady_clock::now()) {}

void ProgressBar::update(int64_t done, double loss, int64_t images) {
  if (!enabled_ || total_ <= 0) return;
  const double s = std::chrono::duration<double>(std::chrono::steady_clock::now() - start_).count();
  const bool milestone = done == total_ || done * 10 / total_ != (done - 1) * 10 / total_;
  if (!tty_ && !milestone) return;
  const double ips = s > 0 ? images / s : 0;
  const double eta = done > 0 ? s / done * (total_ - done) : 0;
  const std::string bar = bar_text(done, total_);
  std::fprintf(stderr, "%sepoch %lld/%lld [%s] %lld/%lld loss %.4f %.0f %s ETA %d:%02d%s", tty_ ? "\r" : "",
               static_cast<long long>(epoch_ + 1), static_cast<long long>(epochs_), bar.c_str(),
               static_cast<long long>(done), static_cast<long long>(total_), loss, ips, unit_.c_str(),
               static_cast<int>(eta) / 60, static_cast<int>(eta) % 60, tty_ ? "" : "\n");
  if (tty_ && done == total_) std::fputc('\n', stderr);
  std::fflush(stderr);
}

TaskProgress::TaskProgress(bool enabled, std::string label, int64_t total)
    : enabled_(enabled), tty_(isatty(fileno(stderr))), label_(std::move(label)), total_(total),
      start_(std::chrono::steady_clock::now()) {}

void TaskProgress::update(int64_t done) {
  if (!enabled_ || total_ <= 0) return;
  const bool milestone = done == total_ || done * 10 / total_ != (done - 1) * 10 / total_;
  if (!tty_ && !milestone) return;
  const double s = std::chrono::duration<double>(std::chrono::steady_clock::now() - start_).count();
  const double eta = done > 0 ? s / done * (total_ - done) : 0;
  std::fprintf(stderr, "%s%s [%s] %lld/%lld ETA %d:%02d%s", tty_ ? "\r" : "", label_.c_str(), bar_text(done, total_).c_str(),
               static_cast<long long>(done), static_cast<long long>(total_), static_cast<int>(eta) / 60,
               static_cast<int>(eta) % 60, tty_ ? "" : "\n");
  if (tty_ && done == total_) std::fputc('\n', stderr);
  std::fflush(stderr);
}

}  // namespace hwnas
