// Hashing files and byte ranges of files (OMS "files" and "shards" serialization).
//
// Every range is read once, from a memory map, and hashed independently. Work is spread
// over `threads` threads: SHA-256 runs many ranges at once through the multi-buffer engine
// (or OpenSSL where the CPU's SHA extensions make it faster); BLAKE3 hashes small ranges
// side by side and splits each large range into subtrees hashed on all threads. Mapped pages
// are released as they are consumed, so memory stays flat however large the files are.
#pragma once

#include <cstdint>
#include <span>
#include <string>
#include <vector>

#include "weightgate/core/error.h"
#include "weightgate/core/hash.h"

namespace wg {

struct FileRange {
  std::string path;
  uint64_t offset = 0;
  uint64_t length = UINT64_MAX;  // to the end of the file
};

// Hashes each range independently, in parallel on `threads` threads (0 = all cores); out[i]
// is the digest of ranges[i]. A range that reaches past the end of its file is an error
// naming the file; an empty range hashes the empty message.
Result<std::vector<Digest>> HashFileRanges(std::span<const FileRange> ranges, HashAlgo algo,
                                           unsigned threads = 0);

// The digest of one whole file.
Result<Digest> HashFile(const std::string& path, HashAlgo algo);

}  // namespace wg
