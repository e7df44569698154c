#include "weightgate/core/progress.h"

#include <unistd.h>

#include <cstdio>

namespace wg {
namespace {
std::atomic<bool> g_quiet{false};
}

void Progress::SetQuiet(bool quiet) {
  g_quiet = quiet;
}
bool Progress::Enabled() {
  return !g_quiet.load() && ::isatty(STDERR_FILENO);
}

Progress::Progress(std::string label, uint64_t total_bytes)
    : label_(std::move(label)),
      total_(total_bytes),
      start_(std::chrono::steady_clock::now()),
      last_draw_(start_),
      enabled_(Enabled()) {}

Progress::~Progress() {
  Finish();
}

void Progress::Add(uint64_t bytes) {
  done_ += bytes;
  if (!enabled_) return;
  auto now = std::chrono::steady_clock::now();
  std::unique_lock<std::mutex> lock(mu_, std::try_to_lock);
  if (!lock.owns_lock() || now - last_draw_ < std::chrono::milliseconds(200)) return;
  last_draw_ = now;
  Draw(false);
}

void Progress::Finish() {
  if (!enabled_ || finished_) return;
  std::lock_guard<std::mutex> lock(mu_);
  finished_ = true;
  if (drawn_) Draw(true);
}

void Progress::Draw(bool final) {
  double secs = std::chrono::duration<double>(std::chrono::steady_clock::now() - start_).count();
  uint64_t done = done_.load();
  double frac = total_ ? static_cast<double>(done) / static_cast<double>(total_) : 1.0;
  if (frac > 1) frac = 1;
  constexpr int kWidth = 30;
  int fill = static_cast<int>(frac * kWidth);
  char bar[kWidth + 1];
  for (int i = 0; i < kWidth; ++i) bar[i] = i < fill ? '#' : '-';
  bar[kWidth] = 0;
  double mbps = secs > 0 ? static_cast<double>(done) / 1e6 / secs : 0;
  // ETA from the average rate so far; the final line shows the elapsed time instead.
  double left =
      final || mbps <= 0 || done >= total_ ? secs : static_cast<double>(total_ - done) / 1e6 / mbps;
  int t = static_cast<int>(left + 0.5);
  std::fprintf(stderr, "\r%s [%s] %5.1f%% %9.1f/%.1f MB %8.1f MB/s %s %d:%02d:%02d ",
               label_.c_str(), bar, frac * 100, static_cast<double>(done) / 1e6,
               static_cast<double>(total_) / 1e6, mbps, final ? "in " : "ETA", t / 3600,
               t / 60 % 60, t % 60);
  if (final) std::fputc('\n', stderr);
  std::fflush(stderr);
  drawn_ = true;
}

}  // namespace wg
