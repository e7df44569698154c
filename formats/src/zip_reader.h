// ZipArchive: the central directory of a zip file read from a memory map, with every
// entry's data located and bounds-checked.
//
// torch.save writes a ZIP64 archive of stored (uncompressed) entries whose data is
// 64-byte aligned by padding in the local header's extra field, so the local header
// is read too: its extra length differs from the central directory's. Entries that
// overlap each other or the central directory, reach past the end of the file, are
// encrypted or share a name are refused, so that every reader of the archive sees the
// same bytes for the same name. Internal to the formats library.
#pragma once

#include <cstdint>
#include <memory>
#include <string>
#include <string_view>
#include <unordered_map>
#include <vector>

#include "weightgate/core/error.h"
#include "weightgate/core/file.h"

namespace wg::zip {

enum class Method : uint16_t { kStored = 0, kDeflated = 8 };

struct Entry {
  std::string name;
  uint16_t method = 0;
  uint16_t flags = 0;
  uint32_t crc32 = 0;
  uint64_t compressed_size = 0;
  uint64_t size = 0;           // uncompressed
  uint64_t header_offset = 0;  // local file header
  uint64_t data_offset = 0;    // first byte of the (possibly compressed) data
  bool stored() const { return method == static_cast<uint16_t>(Method::kStored); }
};

// True when the bytes begin like a zip archive (a local header, or the end record of
// an empty archive).
bool LooksLikeZip(Bytes head);

class ZipArchive {
 public:
  static Result<ZipArchive> Open(std::shared_ptr<const MappedFile> file);

  const std::vector<Entry>& entries() const { return entries_; }  // in central directory order
  const Entry* Find(std::string_view name) const;
  const std::string& path() const { return file_->path(); }
  const std::shared_ptr<const MappedFile>& file() const { return file_; }

  // A stored entry's bytes, in place in the map. Compressed entries are Unsupported: a
  // weight storage must stay zero-copy. The CRC-32 is not checked here: storages can be
  // gigabytes, and every consumer of tensor bytes hashes them anyway.
  Result<Bytes> StoredBytes(const Entry& e) const;

  // A small entry (a pickle, "byteorder") copied out, inflated when deflated, with its
  // CRC-32 checked. Entries larger than max_bytes are refused.
  Result<std::vector<uint8_t>> ReadSmall(const Entry& e, uint64_t max_bytes) const;

 private:
  explicit ZipArchive(std::shared_ptr<const MappedFile> file) : file_(std::move(file)) {}
  std::shared_ptr<const MappedFile> file_;
  std::vector<Entry> entries_;
  std::unordered_map<std::string, size_t> by_name_;
  friend class ZipParser;
};

}  // namespace wg::zip
