// Progress: a byte-count progress bar on stderr.
//
// It draws only when stderr is a terminal and the user did not ask for --quiet, so
// CI logs and `--json` output stay clean. Add() is safe from any thread; drawing is
// throttled to a few times a second.
#pragma once

#include <atomic>
#include <chrono>
#include <cstdint>
#include <mutex>
#include <string>

namespace wg {

class Progress {
 public:
  Progress(std::string label, uint64_t total_bytes);
  ~Progress();  // finishes the line if one was drawn
  void Add(uint64_t bytes);
  void Finish();

  // Global switch set by the CLI's --quiet.
  static void SetQuiet(bool quiet);
  static bool Enabled();

 private:
  void Draw(bool final);
  std::string label_;
  uint64_t total_;
  std::atomic<uint64_t> done_{0};
  std::chrono::steady_clock::time_point start_;
  std::chrono::steady_clock::time_point last_draw_;
  std::mutex mu_;
  bool enabled_;
  bool drawn_ = false;
  bool finished_ = false;
};

}  // namespace wg
