// WriteBehind: starts writeback of each piece as soon as it is written, so the disk works
// while the next pieces are hashed and copied, and the final fsync finds little left to
// do. (Also waiting for older ranges, to bound dirty memory, measured 1.7x slower.)
#pragma once

#include <fcntl.h>

#include <cstdint>

namespace wg::internal {

class WriteBehind {
 public:
  explicit WriteBehind(int fd) : fd_(fd) {}
  // [offset, offset+n) was just written.
  void Written(uint64_t offset, uint64_t n) {
    if (offset < start_) start_ = offset;  // a tar writer rewound (duplicate blob)
    uint64_t end = offset + n;
    if (end - start_ < kBatch) return;
    ::sync_file_range(fd_, static_cast<off_t>(start_), static_cast<off_t>(end - start_),
                      SYNC_FILE_RANGE_WRITE);
    start_ = end;
  }

 private:
  static constexpr uint64_t kBatch = 8 << 20;
  int fd_;
  uint64_t start_ = 0;
};

}  // namespace wg::internal
