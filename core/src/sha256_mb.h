// The multi-buffer SHA-256 driver as used by HashMany and HashFileRanges: several threads
// each run one driver, all pulling messages from one queue.
#pragma once

#include <atomic>
#include <span>

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

class JobQueue {
 public:
  explicit JobQueue(std::span<Job> jobs) : jobs_(jobs) {}
  Job* Next() {
    size_t i = next_.fetch_add(1);
    return i < jobs_.size() ? &jobs_[i] : nullptr;
  }

 private:
  std::span<Job> jobs_;
  std::atomic<size_t> next_{0};
};

// Hashes jobs from the queue on this thread until it is empty, with a multi-buffer engine
// (kMultiBufferAvx2 or kMultiBufferAvx512, supported by this CPU). With straggler_single
// and SHA-NI, once the queue is empty and at most half the lanes are busy, the remaining
// messages finish one at a time on SHA-NI, which is then faster than the half-empty lanes.
void RunMultiBuffer(Sha256Engine engine, JobQueue& queue, bool straggler_single = true);

}  // namespace wg::sha256mb
