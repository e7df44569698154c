#include "zip_reader.h"

#include <zlib.h>

#include <algorithm>
#include <cstring>

#include "weightgate/core/byte_reader.h"

namespace wg::zip {
namespace {

// Record layouts: PKWARE APPNOTE.TXT sections 4.3.7 (local header), 4.3.12 (central
// directory header), 4.3.14-4.3.16 (ZIP64 end record and locator, classic end record).
constexpr uint32_t kLocalHeaderSig = 0x04034b50;
constexpr uint32_t kCentralHeaderSig = 0x02014b50;
constexpr uint32_t kEndSig = 0x06054b50;
constexpr uint32_t kZip64EndSig = 0x06064b50;
constexpr uint32_t kZip64LocatorSig = 0x07064b50;
constexpr uint64_t kEndSize = 22;
constexpr uint64_t kZip64LocatorSize = 20;
constexpr uint64_t kZip64EndSize = 56;
constexpr uint64_t kZip64EndBodySize = kZip64EndSize - 12;  // "size of record" excludes sig+size
constexpr uint64_t kCentralHeaderSize = 46;
constexpr uint64_t kMaxComment = 0xffff;
constexpr uint16_t kZip64ExtraId = 0x0001;
constexpr uint16_t kFlagEncrypted = 1 << 0;
constexpr uint16_t kFlagDataDescriptor = 1 << 3;
constexpr uint16_t kFlagStrongEncryption = 1 << 6;
constexpr uint16_t kMethodAes = 99;
constexpr uint16_t kSat16 = 0xffff;
constexpr uint32_t kSat32 = 0xffffffff;

uint32_t Load32(Bytes b, uint64_t pos) {
  uint32_t v;
  std::memcpy(&v, b.data() + pos, 4);
  return v;
}
uint16_t Load16(Bytes b, uint64_t pos) {
  uint16_t v;
  std::memcpy(&v, b.data() + pos, 2);
  return v;
}

std::string Hex32(uint32_t v) {
  char buf[11];
  std::snprintf(buf, sizeof buf, "0x%08x", v);
  return buf;
}

// Where the central directory is, from the end record(s).
struct Directory {
  uint64_t entries = 0;
  uint64_t size = 0;
  uint64_t offset = 0;
  uint64_t end_record = 0;  // first byte of the (ZIP64) end record: the directory ends here
};

Result<uint64_t> FindEndRecord(Bytes data, const std::string& path) {
  if (data.size() < kEndSize)
    return Error::Malformed("not a zip archive: too short for an end of central directory record")
        .File(path)
        .Expected(">= 22 bytes")
        .Found(std::to_string(data.size()) + " bytes");
  const uint64_t last = data.size() - kEndSize;
  const uint64_t first = last > kMaxComment ? last - kMaxComment : 0;
  // The last signature whose comment ends exactly at the end of the file: a signature
  // inside a comment, or bytes appended after the archive, are not taken for the record.
  for (uint64_t pos = last + 1; pos-- > first;) {
    if (Load32(data, pos) == kEndSig && pos + kEndSize + Load16(data, pos + 20) == data.size())
      return pos;
  }
  return Error::Malformed("not a zip archive: no end of central directory record")
      .File(path)
      .Offset(first)
      .Expected("signature PK\\5\\6 within the last 64 KiB + 22 bytes");
}

// A field of the classic end record that is not saturated must agree with its ZIP64
// twin; otherwise two zip readers could disagree on where the directory is.
Status Agree(uint64_t classic, uint64_t saturated, uint64_t zip64, const char* field,
             const std::string& path, uint64_t offset) {
  if (classic == saturated || classic == zip64) return Ok();
  return Error::Malformed("end record disagrees with the ZIP64 end record")
      .File(path)
      .Offset(offset)
      .Field(field)
      .Expected(std::to_string(zip64))
      .Found(std::to_string(classic));
}

Result<Directory> ReadDirectoryLocation(Bytes data, const std::string& path) {
  WG_ASSIGN_OR_RETURN(uint64_t end_pos, FindEndRecord(data, path));
  ByteReader r(data.subspan(end_pos), path, end_pos);
  WG_TRY(r.Skip(4, "end record signature"));
  WG_ASSIGN_OR_RETURN(uint16_t disk, r.Read<uint16_t>("end record disk number"));
  WG_ASSIGN_OR_RETURN(uint16_t cd_disk, r.Read<uint16_t>("end record directory disk"));
  WG_ASSIGN_OR_RETURN(uint16_t disk_entries, r.Read<uint16_t>("end record entries on disk"));
  WG_ASSIGN_OR_RETURN(uint16_t entries, r.Read<uint16_t>("end record entries"));
  WG_ASSIGN_OR_RETURN(uint32_t cd_size, r.Read<uint32_t>("end record directory size"));
  WG_ASSIGN_OR_RETURN(uint32_t cd_offset, r.Read<uint32_t>("end record directory offset"));

  Directory dir{entries, cd_size, cd_offset, end_pos};
  const bool has_locator =
      end_pos >= kZip64LocatorSize && Load32(data, end_pos - kZip64LocatorSize) == kZip64LocatorSig;
  if (has_locator) {
    const uint64_t loc_pos = end_pos - kZip64LocatorSize;
    ByteReader loc(data.subspan(loc_pos, kZip64LocatorSize), path, loc_pos);
    WG_TRY(loc.Skip(4, "ZIP64 locator signature"));
    WG_ASSIGN_OR_RETURN(uint32_t end64_disk, loc.Read<uint32_t>("ZIP64 locator disk"));
    WG_ASSIGN_OR_RETURN(uint64_t end64_pos, loc.Read<uint64_t>("ZIP64 end record offset"));
    WG_ASSIGN_OR_RETURN(uint32_t disks, loc.Read<uint32_t>("ZIP64 locator disk count"));
    if (end64_disk != 0 || disks != 1)
      return Error::Unsupported("multi-disk zip archives are not supported")
          .File(path)
          .Offset(loc_pos)
          .Expected("1 disk")
          .Found(std::to_string(disks) + " disks");
    // The record sits right before its locator; some readers assume that position and
    // others follow the locator's offset, so both must name the same bytes.
    if (loc_pos < kZip64EndSize || end64_pos != loc_pos - kZip64EndSize)
      return Error::Malformed("ZIP64 end record is not directly before its locator")
          .File(path)
          .Offset(loc_pos)
          .Field("ZIP64 end record offset")
          .Expected(loc_pos < kZip64EndSize ? "a record before the locator"
                                            : std::to_string(loc_pos - kZip64EndSize))
          .Found(std::to_string(end64_pos));
    ByteReader e(data.subspan(end64_pos, kZip64EndSize), path, end64_pos);
    WG_ASSIGN_OR_RETURN(uint32_t sig, e.Read<uint32_t>("ZIP64 end record signature"));
    if (sig != kZip64EndSig)
      return e.Fail("bad ZIP64 end record signature", "ZIP64 end record")
          .Expected(Hex32(kZip64EndSig))
          .Found(Hex32(sig));
    WG_ASSIGN_OR_RETURN(uint64_t body, e.Read<uint64_t>("ZIP64 end record size"));
    if (body != kZip64EndBodySize)
      return Error::Unsupported("ZIP64 end record with extensible data")
          .File(path)
          .Offset(end64_pos + 4)
          .Expected(std::to_string(kZip64EndBodySize))
          .Found(std::to_string(body));
    WG_TRY(e.Skip(4, "ZIP64 end record versions"));
    WG_ASSIGN_OR_RETURN(uint32_t disk64, e.Read<uint32_t>("ZIP64 end record disk"));
    WG_ASSIGN_OR_RETURN(uint32_t cd_disk64, e.Read<uint32_t>("ZIP64 end record directory disk"));
    WG_ASSIGN_OR_RETURN(uint64_t disk_entries64, e.Read<uint64_t>("ZIP64 entries on disk"));
    WG_ASSIGN_OR_RETURN(uint64_t entries64, e.Read<uint64_t>("ZIP64 entries"));
    WG_ASSIGN_OR_RETURN(uint64_t cd_size64, e.Read<uint64_t>("ZIP64 directory size"));
    WG_ASSIGN_OR_RETURN(uint64_t cd_offset64, e.Read<uint64_t>("ZIP64 directory offset"));
    if (disk64 != 0 || cd_disk64 != 0 || disk_entries64 != entries64)
      return Error::Unsupported("multi-disk zip archives are not supported")
          .File(path)
          .Offset(end64_pos);
    WG_TRY(Agree(disk, kSat16, 0, "end record disk number", path, end_pos));
    WG_TRY(Agree(cd_disk, kSat16, 0, "end record directory disk", path, end_pos));
    WG_TRY(Agree(disk_entries, kSat16, entries64, "end record entries on disk", path, end_pos));
    WG_TRY(Agree(entries, kSat16, entries64, "end record entries", path, end_pos));
    WG_TRY(Agree(cd_size, kSat32, cd_size64, "end record directory size", path, end_pos));
    WG_TRY(Agree(cd_offset, kSat32, cd_offset64, "end record directory offset", path, end_pos));
    dir = Directory{entries64, cd_size64, cd_offset64, end64_pos};
  } else if (disk != 0 || cd_disk != 0 || disk_entries != entries) {
    return Error::Unsupported("multi-disk zip archives are not supported")
        .File(path)
        .Offset(end_pos);
  }

  // The directory ends exactly where the end record begins. Readers that tolerate a gap
  // (or bytes prepended to the archive) shift every offset, and would then read
  // different bytes than we do.
  uint64_t cd_end;
  if (!CheckedAdd(dir.offset, dir.size, &cd_end) || cd_end != dir.end_record)
    return Error::Malformed("central directory does not end at the end record")
        .File(path)
        .Offset(dir.end_record)
        .Field("central directory offset + size")
        .Expected(std::to_string(dir.end_record))
        .Found(std::to_string(dir.offset) + " + " + std::to_string(dir.size));
  if (dir.entries > dir.size / kCentralHeaderSize)
    return Error::Malformed("more entries than the central directory can hold")
        .File(path)
        .Offset(dir.end_record)
        .Expected("<= " + std::to_string(dir.size / kCentralHeaderSize))
        .Found(std::to_string(dir.entries));
  return dir;
}

// Sizes and offset that saturate at 0xffff(ffff) are in the ZIP64 extra field, in this
// order, each present only when its classic field is saturated.
Status ApplyZip64Extra(ByteReader& extra, uint32_t usize, uint32_t csize, uint32_t lho,
                       uint16_t disk, Entry& e, uint32_t* disk_out) {
  bool found = false;
  while (!extra.at_end()) {
    WG_ASSIGN_OR_RETURN(uint16_t id, extra.Read<uint16_t>("extra field id"));
    WG_ASSIGN_OR_RETURN(uint16_t len, extra.Read<uint16_t>("extra field length"));
    const uint64_t field_offset = extra.offset();
    WG_ASSIGN_OR_RETURN(Bytes body, extra.ReadBytes(len, "extra field data"));
    if (id != kZip64ExtraId) continue;
    if (found) return extra.Fail("two ZIP64 extra fields", "entry '" + e.name + "'");
    found = true;
    ByteReader z(body, extra.file(), field_offset);
    if (usize == kSat32) {
      WG_ASSIGN_OR_RETURN(e.size, z.Read<uint64_t>("ZIP64 uncompressed size"));
    }
    if (csize == kSat32) {
      WG_ASSIGN_OR_RETURN(e.compressed_size, z.Read<uint64_t>("ZIP64 compressed size"));
    }
    if (lho == kSat32) {
      WG_ASSIGN_OR_RETURN(e.header_offset, z.Read<uint64_t>("ZIP64 local header offset"));
    }
    if (disk == kSat16) {
      WG_ASSIGN_OR_RETURN(*disk_out, z.Read<uint32_t>("ZIP64 disk number"));
    }
  }
  if (!found && (usize == kSat32 || csize == kSat32 || lho == kSat32 || disk == kSat16))
    return extra.Fail("saturated size or offset without a ZIP64 extra field",
                      "entry '" + e.name + "'");
  return Ok();
}

}  // namespace

bool LooksLikeZip(Bytes head) {
  return head.size() >= 4 && (Load32(head, 0) == kLocalHeaderSig || Load32(head, 0) == kEndSig);
}

class ZipParser {
 public:
  static Status ReadCentralDirectory(ZipArchive& zip, const Directory& dir);
  static Status LocateData(ZipArchive& zip, const Directory& dir);
};

Status ZipParser::ReadCentralDirectory(ZipArchive& zip, const Directory& dir) {
  const std::string& path = zip.path();
  Bytes data = zip.file_->bytes();
  ByteReader r(data.subspan(dir.offset, dir.size), path, dir.offset);
  zip.entries_.reserve(dir.entries);
  for (uint64_t i = 0; i < dir.entries; ++i) {
    const uint64_t header = r.offset();
    WG_ASSIGN_OR_RETURN(uint32_t sig, r.Read<uint32_t>("central directory header signature"));
    if (sig != kCentralHeaderSig)
      return Error::Malformed("bad central directory header signature")
          .File(path)
          .Offset(header)
          .Field("entry " + std::to_string(i))
          .Expected(Hex32(kCentralHeaderSig))
          .Found(Hex32(sig));
    Entry e;
    WG_TRY(r.Skip(4, "versions"));
    WG_ASSIGN_OR_RETURN(e.flags, r.Read<uint16_t>("flags"));
    WG_ASSIGN_OR_RETURN(e.method, r.Read<uint16_t>("compression method"));
    WG_TRY(r.Skip(4, "modification time"));
    WG_ASSIGN_OR_RETURN(e.crc32, r.Read<uint32_t>("crc-32"));
    WG_ASSIGN_OR_RETURN(uint32_t csize, r.Read<uint32_t>("compressed size"));
    WG_ASSIGN_OR_RETURN(uint32_t usize, r.Read<uint32_t>("uncompressed size"));
    WG_ASSIGN_OR_RETURN(uint16_t name_len, r.Read<uint16_t>("name length"));
    WG_ASSIGN_OR_RETURN(uint16_t extra_len, r.Read<uint16_t>("extra length"));
    WG_ASSIGN_OR_RETURN(uint16_t comment_len, r.Read<uint16_t>("comment length"));
    WG_ASSIGN_OR_RETURN(uint16_t disk16, r.Read<uint16_t>("disk number"));
    WG_TRY(r.Skip(6, "file attributes"));
    WG_ASSIGN_OR_RETURN(uint32_t lho, r.Read<uint32_t>("local header offset"));
    WG_ASSIGN_OR_RETURN(std::string_view name, r.ReadString(name_len, "entry name"));
    e.name = std::string(name);
    const uint64_t extra_offset = r.offset();
    WG_ASSIGN_OR_RETURN(Bytes extra, r.ReadBytes(extra_len, "extra field"));
    WG_TRY(r.Skip(comment_len, "entry comment"));

    e.size = usize;
    e.compressed_size = csize;
    e.header_offset = lho;
    uint32_t disk = disk16;
    ByteReader extra_reader(extra, path, extra_offset);
    WG_TRY(ApplyZip64Extra(extra_reader, usize, csize, lho, disk16, e, &disk));

    auto entry_error = [&](Error err) { return std::move(err).File(path).Offset(header); };
    if (e.name.empty() || e.name.find('\0') != std::string::npos)
      return entry_error(Error::Malformed("empty entry name or a name with a NUL byte")
                             .Field("entry " + std::to_string(i)));
    const std::string field = "entry '" + e.name + "'";
    if (disk != 0)
      return entry_error(
          Error::Unsupported("multi-disk zip archives are not supported").Field(field));
    if ((e.flags & (kFlagEncrypted | kFlagStrongEncryption)) || e.method == kMethodAes)
      return entry_error(Error::Unsupported("encrypted zip entry").Field(field));
    if (e.stored() && e.compressed_size != e.size)
      return entry_error(
          Error::Malformed("stored entry whose compressed and uncompressed sizes differ")
              .Field(field)
              .Expected(std::to_string(e.size))
              .Found(std::to_string(e.compressed_size)));
    if (!zip.by_name_.emplace(e.name, zip.entries_.size()).second)
      return entry_error(Error::Malformed("duplicate entry name").Field(field));
    zip.entries_.push_back(std::move(e));
  }
  if (!r.at_end())
    return r.Fail("central directory is longer than its entries", "central directory size")
        .Expected(std::to_string(r.pos()) + " bytes")
        .Found(std::to_string(dir.size) + " bytes");
  return Ok();
}

Status ZipParser::LocateData(ZipArchive& zip, const Directory& dir) {
  const std::string& path = zip.path();
  ByteReader r(zip.file_->bytes().first(dir.offset), path, 0);
  for (Entry& e : zip.entries_) {
    const std::string field = "entry '" + e.name + "'";
    if (e.header_offset >= dir.offset)
      return Error::Malformed("local header inside or past the central directory")
          .File(path)
          .Offset(e.header_offset)
          .Field(field)
          .Expected("offset < " + std::to_string(dir.offset))
          .Found(std::to_string(e.header_offset));
    WG_TRY(r.Seek(e.header_offset, field));
    WG_ASSIGN_OR_RETURN(uint32_t sig, r.Read<uint32_t>("local header signature"));
    if (sig != kLocalHeaderSig)
      return Error::Malformed("bad local header signature")
          .File(path)
          .Offset(e.header_offset)
          .Field(field)
          .Expected(Hex32(kLocalHeaderSig))
          .Found(Hex32(sig));
    WG_TRY(r.Skip(2, "local version"));
    WG_ASSIGN_OR_RETURN(uint16_t flags, r.Read<uint16_t>("local flags"));
    WG_ASSIGN_OR_RETURN(uint16_t method, r.Read<uint16_t>("local compression method"));
    WG_TRY(r.Skip(4, "local modification time"));
    WG_ASSIGN_OR_RETURN(uint32_t crc, r.Read<uint32_t>("local crc-32"));
    WG_ASSIGN_OR_RETURN(uint32_t csize, r.Read<uint32_t>("local compressed size"));
    WG_ASSIGN_OR_RETURN(uint32_t usize, r.Read<uint32_t>("local uncompressed size"));
    WG_ASSIGN_OR_RETURN(uint16_t name_len, r.Read<uint16_t>("local name length"));
    WG_ASSIGN_OR_RETURN(uint16_t extra_len, r.Read<uint16_t>("local extra length"));
    WG_ASSIGN_OR_RETURN(std::string_view name, r.ReadString(name_len, "local entry name"));
    // The local extra field is not the central one: torch pads it ('FB' field) so that
    // the data starts 64-byte aligned. Its contents are not needed.
    WG_TRY(r.Skip(extra_len, "local extra field"));
    auto differs = [&](const char* what, std::string expected, std::string found) {
      return Error::Malformed(std::string("local header disagrees with the central directory: ") +
                              what)
          .File(path)
          .Offset(e.header_offset)
          .Field(field)
          .Expected(std::move(expected))
          .Found(std::move(found));
    };
    if (name != e.name) return differs("name", e.name, std::string(name));
    if (method != e.method)
      return differs("method", std::to_string(e.method), std::to_string(method));
    // Without a data descriptor the local header carries the real sizes and CRC (or
    // 0xffffffff with a ZIP64 extra); they must be the central directory's.
    if (!(flags & kFlagDataDescriptor)) {
      if (crc != e.crc32) return differs("crc-32", Hex32(e.crc32), Hex32(crc));
      if (csize != kSat32 && csize != e.compressed_size)
        return differs("compressed size", std::to_string(e.compressed_size), std::to_string(csize));
      if (usize != kSat32 && usize != e.size)
        return differs("uncompressed size", std::to_string(e.size), std::to_string(usize));
    }
    e.data_offset = r.offset();
    uint64_t end;
    if (!CheckedAdd(e.data_offset, e.compressed_size, &end) || end > dir.offset)
      return Error::Malformed(
                 "entry data runs into the central directory or past the end of the file")
          .File(path)
          .Offset(e.data_offset)
          .Field(field)
          .Expected("end <= " + std::to_string(dir.offset))
          .Found(std::to_string(e.data_offset) + " + " + std::to_string(e.compressed_size));
  }

  // No two entries share bytes: an archive whose entries overlap can show different
  // content to readers that walk local headers and readers that use the directory.
  std::vector<const Entry*> order;
  order.reserve(zip.entries_.size());
  for (const Entry& e : zip.entries_) order.push_back(&e);
  std::sort(order.begin(), order.end(),
            [](const Entry* a, const Entry* b) { return a->header_offset < b->header_offset; });
  for (size_t i = 1; i < order.size(); ++i) {
    const Entry& prev = *order[i - 1];
    const Entry& next = *order[i];
    if (prev.data_offset + prev.compressed_size > next.header_offset)
      return Error::Malformed("zip entries overlap")
          .File(path)
          .Offset(next.header_offset)
          .Field("entries '" + prev.name + "' and '" + next.name + "'")
          .Expected("'" + next.name + "' to start at or after " +
                    std::to_string(prev.data_offset + prev.compressed_size))
          .Found(std::to_string(next.header_offset));
  }
  return Ok();
}

Result<ZipArchive> ZipArchive::Open(std::shared_ptr<const MappedFile> file) {
  ZipArchive zip(std::move(file));
  WG_ASSIGN_OR_RETURN(Directory dir, ReadDirectoryLocation(zip.file_->bytes(), zip.path()));
  WG_TRY(ZipParser::ReadCentralDirectory(zip, dir));
  WG_TRY(ZipParser::LocateData(zip, dir));
  return zip;
}

const Entry* ZipArchive::Find(std::string_view name) const {
  auto it = by_name_.find(std::string(name));
  return it == by_name_.end() ? nullptr : &entries_[it->second];
}

Result<Bytes> ZipArchive::StoredBytes(const Entry& e) const {
  if (!e.stored())
    return Error::Unsupported(
               "compressed zip entry: weight storages must be stored uncompressed so they can be "
               "read in place (torch.save writes them so; re-zip with `zip -0` or re-save)")
        .File(path())
        .Offset(e.header_offset)
        .Field("entry '" + e.name + "'")
        .Expected("method 0 (stored)")
        .Found("method " + std::to_string(e.method));
  return file_->bytes().subspan(e.data_offset, e.size);
}

Result<std::vector<uint8_t>> ZipArchive::ReadSmall(const Entry& e, uint64_t max_bytes) const {
  const std::string field = "entry '" + e.name + "'";
  if (e.size > max_bytes)
    return Error::Unsupported("zip entry too large to read into memory")
        .File(path())
        .Offset(e.header_offset)
        .Field(field)
        .Expected("<= " + std::to_string(max_bytes) + " bytes")
        .Found(std::to_string(e.size) + " bytes");
  std::vector<uint8_t> out;
  Bytes in = file_->bytes().subspan(e.data_offset, e.compressed_size);
  if (e.stored()) {
    out.assign(in.begin(), in.end());
  } else if (e.method == static_cast<uint16_t>(Method::kDeflated)) {
    // Deflate never expands more than a few bytes per 16 KiB block; a larger
    // compressed size is not a deflate stream of this entry.
    if (e.compressed_size > e.size + e.size / 8 + 1024)
      return Error::Malformed("deflated entry is larger than its content could be")
          .File(path())
          .Offset(e.data_offset)
          .Field(field)
          .Found(std::to_string(e.compressed_size) + " compressed bytes for " +
                 std::to_string(e.size));
    out.resize(e.size + 1);  // one spare byte: a stream longer than declared fails below
    z_stream zs{};
    if (inflateInit2(&zs, -MAX_WBITS) != Z_OK)
      return Error::Io("zlib inflateInit2 failed").File(path()).Field(field);
    zs.next_in = const_cast<Bytef*>(in.data());
    zs.avail_in = static_cast<uInt>(in.size());
    zs.next_out = out.data();
    zs.avail_out = static_cast<uInt>(out.size());
    const int rc = inflate(&zs, Z_FINISH);
    const uint64_t produced = zs.total_out;
    inflateEnd(&zs);
    if (rc != Z_STREAM_END || produced != e.size)
      return Error::Malformed("corrupt deflate stream")
          .File(path())
          .Offset(e.data_offset)
          .Field(field)
          .Expected(std::to_string(e.size) + " bytes, stream end")
          .Found(rc == Z_STREAM_END ? std::to_string(produced) + " bytes"
                                    : std::string("zlib error ") + std::to_string(rc));
    out.resize(e.size);
  } else {
    return Error::Unsupported("unsupported zip compression method")
        .File(path())
        .Offset(e.header_offset)
        .Field(field)
        .Expected("0 (stored) or 8 (deflate)")
        .Found(std::to_string(e.method));
  }
  const uint32_t crc = static_cast<uint32_t>(crc32_z(0, out.data(), out.size()));
  if (crc != e.crc32)
    return Error::Malformed("CRC-32 mismatch: entry is corrupt")
        .File(path())
        .Offset(e.data_offset)
        .Field(field)
        .Expected(Hex32(e.crc32))
        .Found(Hex32(crc));
  return out;
}

}  // namespace wg::zip
