// ForEachPiece: walks a range of a memory-mapped file in pieces small enough to stay in
// the CPU cache between hashing a piece and writing it (measured: 512 KiB pieces unpack
// about 2x faster than 8 MiB ones), prefetching ahead and dropping consumed pages from
// the resident set a window at a time so RSS stays flat whatever the file size.
#pragma once

#include <algorithm>
#include <cstdint>
#include <functional>

#include "weightgate/core/file.h"

namespace wg::oci::internal {

inline constexpr uint64_t kPiece = 512 << 10;
inline constexpr uint64_t kWindow = 8 << 20;

inline Status ForEachPiece(const MappedFile& file, uint64_t offset, uint64_t size,
                           const std::function<Status(Bytes)>& fn) {
  for (uint64_t done = 0; done < size;) {
    uint64_t window = std::min(kWindow, size - done);
    file.WillNeed(offset + done + window, kWindow);  // the next window
    for (uint64_t p = 0; p < window; p += kPiece)
      WG_TRY(fn(file.bytes().subspan(offset + done + p, std::min(kPiece, window - p))));
    file.Release(offset + done, window);
    done += window;
  }
  return Ok();
}

}  // namespace wg::oci::internal
