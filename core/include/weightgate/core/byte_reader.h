// ByteReader: a bounds-checked little-endian cursor over a byte span.
//
// Parsers read every length, count and offset through this class so that nothing read
// from a file is trusted before it is checked against the bytes actually present. Each
// failure is an Error naming the file, the absolute offset and the field being read.
#pragma once

#include <cstdint>
#include <cstring>
#include <string>
#include <string_view>
#include <type_traits>

#include "weightgate/core/file.h"

namespace wg {

class ByteReader {
 public:
  // base_offset: where data starts in the file, so errors report absolute offsets.
  ByteReader(Bytes data, std::string file, uint64_t base_offset = 0)
      : data_(data), file_(std::move(file)), base_(base_offset) {}

  uint64_t pos() const { return pos_; }               // relative to data
  uint64_t offset() const { return base_ + pos_; }    // absolute, for messages
  uint64_t remaining() const { return data_.size() - pos_; }
  bool at_end() const { return pos_ == data_.size(); }
  const std::string& file() const { return file_; }
  Bytes data() const { return data_; }

  template <typename T>
  Result<T> Read(std::string_view field) {
    static_assert(std::is_trivially_copyable_v<T>);
    if (remaining() < sizeof(T)) return Truncated(field, sizeof(T));
    T v;
    std::memcpy(&v, data_.data() + pos_, sizeof(T));  // the host is little-endian (checked at build)
    pos_ += sizeof(T);
    return v;
  }

  Result<Bytes> ReadBytes(uint64_t n, std::string_view field) {
    if (remaining() < n) return Truncated(field, n);
    Bytes b = data_.subspan(pos_, n);
    pos_ += n;
    return b;
  }

  Result<std::string_view> ReadString(uint64_t n, std::string_view field) {
    WG_ASSIGN_OR_RETURN(Bytes b, ReadBytes(n, field));
    return std::string_view(reinterpret_cast<const char*>(b.data()), b.size());
  }

  Status Skip(uint64_t n, std::string_view field) {
    if (remaining() < n) return Truncated(field, n);
    pos_ += n;
    return Ok();
  }

  Status Seek(uint64_t pos, std::string_view field) {
    if (pos > data_.size())
      return Fail("seek past end of data", field)
          .Expected("position <= " + std::to_string(base_ + data_.size()))
          .Found(std::to_string(base_ + pos));
    pos_ = pos;
    return Ok();
  }

  // An error at the current offset.
  Error Fail(std::string message, std::string_view field) const {
    Error e = Error::Malformed(std::move(message)).File(file_).Offset(offset());
    if (!field.empty()) e.Field(std::string(field));
    return e;
  }

 private:
  Error Truncated(std::string_view field, uint64_t need) const {
    return Fail("unexpected end of file", field)
        .Expected(std::to_string(need) + " more bytes")
        .Found(std::to_string(remaining()));
  }

  Bytes data_;
  std::string file_;
  uint64_t base_;
  uint64_t pos_ = 0;
};

// Checked arithmetic for sizes computed from file fields.
inline bool CheckedMul(uint64_t a, uint64_t b, uint64_t* out) {
  return !__builtin_mul_overflow(a, b, out);
}
inline bool CheckedAdd(uint64_t a, uint64_t b, uint64_t* out) {
  return !__builtin_add_overflow(a, b, out);
}

}  // namespace wg
