// The multi-buffer SHA-256 driver as used by HashMany and HashFileRanges: several threads
// each run one driver, all pulling messages from one queue.
#pragma once

#include <atomic>
#include <condition_variable>
#include <mutex>
#include <optional>
#include <span>
#include <vector>

#include "weightgate/core/file.h"
#include "weightgate/core/hash.h"
#include "weightgate/core/hash_engine.h"

namespace wg::sha256mb {

struct Job {
  Bytes data;
  Digest* out = nullptr;
  // When the bytes are a mapped file's, pages are released as they are consumed.
  const MappedFile* file = nullptr;
  uint64_t file_offset = 0;
};

// Where one message stands: its whole blocks straight from the caller's memory, then one or
// two padding blocks in `tail`.
struct Progress {
  Job* job = nullptr;
  uint32_t state[8];
  bool in_tail = false;
  const uint8_t* ptr = nullptr;  // next block
  size_t left = 0;               // blocks left in the current phase
  uint64_t released = 0;         // bytes of the message already handed back to the kernel
  size_t tail_blocks = 0;
  uint8_t tail[128];
  size_t tail_pos = 0;  // once detached from a lane: in the tail, ptr is tail + tail_pos
};

// Hands messages to the drivers of all threads, and collects the messages a driver stops
// running in lanes (stragglers) so that any thread with nothing left can finish them.
class JobQueue {
 public:
  explicit JobQueue(std::span<Job> jobs) : jobs_(jobs) {}
  Job* Next() {
    size_t i = next_.fetch_add(1);
    return i < jobs_.size() ? &jobs_[i] : nullptr;
  }
  void DriverStarted();
  void DriverStopped();
  void AddStraggler(const Progress& p);
  // A straggler to finish; waits while a running driver may still add one.
  std::optional<Progress> TakeStraggler();

 private:
  std::span<Job> jobs_;
  std::atomic<size_t> next_{0};
  std::mutex mu_;
  std::condition_variable cv_;
  size_t running_ = 0;
  std::vector<Progress> stragglers_;
};

// Hashes jobs from the queue on this thread until none is left anywhere, with a multi-buffer
// engine (kMultiBufferAvx2 or kMultiBufferAvx512, supported by this CPU). With
// straggler_single and SHA-NI, once the queue is empty and at most half the lanes are busy,
// the remaining messages are finished one at a time on SHA-NI, shared among the threads:
// that is faster than half-empty lanes.
void RunMultiBuffer(Sha256Engine engine, JobQueue& queue, bool straggler_single = true);

}  // namespace wg::sha256mb
