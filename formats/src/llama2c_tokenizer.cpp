// llama2.c tokenizer files (tok512.bin, tokenizer.bin): int32 max_token_length, then
// vocab_size records of (float32 score, int32 length, length bytes), and nothing after
// (LLAMA2C_FORMAT.md §3). The count is not stored: it is the model's vocab_size, so a
// file is checked against it, and every length against max_token_length, which run.c
// sizes its buffers by.
#include "llama2c_tokenizer.h"

#include <cmath>

#include "weightgate/core/byte_reader.h"

namespace wg {
namespace llama2c_detail {
namespace {

std::string EntryField(uint64_t i, const char* what) {
  return "token[" + std::to_string(i) + "]." + what;
}

Result<int32_t> ReadMaxTokenLength(ByteReader& r) {
  WG_ASSIGN_OR_RETURN(int32_t max_len, r.Read<int32_t>("max_token_length"));
  if (max_len <= 0)
    return Error::Malformed("tokenizer max_token_length out of range")
        .File(r.file())
        .Offset(0)
        .Field("max_token_length")
        .Expected("> 0")
        .Found(std::to_string(max_len));
  return max_len;
}

// Reads records from r until `limit` were read or the data ends at a record boundary.
// Returns how many were read; appends them to `out` when given.
Result<uint64_t> ReadRecords(ByteReader& r, int32_t max_len, uint64_t limit,
                             Llama2cTokenizer* out) {
  uint64_t i = 0;
  for (; i < limit && !r.at_end(); ++i) {
    const uint64_t at = r.offset();
    WG_ASSIGN_OR_RETURN(float score, r.Read<float>(EntryField(i, "score")));
    if (!std::isfinite(score))
      return Error::Malformed("tokenizer score is not a finite number")
          .File(r.file())
          .Offset(at)
          .Field(EntryField(i, "score"))
          .Expected("a finite float32")
          .Found(std::to_string(score));
    WG_ASSIGN_OR_RETURN(int32_t len, r.Read<int32_t>(EntryField(i, "length")));
    if (len < 0 || len > max_len)
      return Error::Malformed("tokenizer piece length out of range")
          .File(r.file())
          .Offset(at + 4)
          .Field(EntryField(i, "length"))
          .Expected("0.." + std::to_string(max_len) + " (max_token_length)")
          .Found(std::to_string(len));
    WG_ASSIGN_OR_RETURN(std::string_view piece, r.ReadString(len, EntryField(i, "bytes")));
    if (out) {
      out->pieces.emplace_back(piece);
      out->scores.push_back(score);
    }
  }
  return i;
}

}  // namespace

Result<uint64_t> CountTokenizerEntries(const std::string& path) {
  WG_ASSIGN_OR_RETURN(std::shared_ptr<MappedFile> file, MappedFile::Open(path));
  ByteReader r(file->bytes(), path);
  WG_ASSIGN_OR_RETURN(int32_t max_len, ReadMaxTokenLength(r));
  return ReadRecords(r, max_len, UINT64_MAX, nullptr);
}

}  // namespace llama2c_detail

Result<Llama2cTokenizer> ReadLlama2cTokenizer(const std::string& path, int32_t vocab_size) {
  using llama2c_detail::ReadMaxTokenLength;
  using llama2c_detail::ReadRecords;
  if (vocab_size <= 0)
    return Error::Usage("tokenizer vocab size must be positive")
        .File(path)
        .Found(std::to_string(vocab_size));
  WG_ASSIGN_OR_RETURN(std::shared_ptr<MappedFile> file, MappedFile::Open(path));
  ByteReader r(file->bytes(), path);
  Llama2cTokenizer tok;
  WG_ASSIGN_OR_RETURN(tok.max_token_length, ReadMaxTokenLength(r));
  tok.pieces.reserve(vocab_size);
  tok.scores.reserve(vocab_size);
  WG_ASSIGN_OR_RETURN(uint64_t n, ReadRecords(r, tok.max_token_length, vocab_size, &tok));
  if (n < uint64_t(vocab_size))
    return Error::Mismatch("tokenizer has fewer entries than the model's vocab_size")
        .File(path)
        .Offset(r.offset())
        .Field("entries")
        .Expected(std::to_string(vocab_size))
        .Found(std::to_string(n));
  if (!r.at_end()) {
    const uint64_t end = r.offset();
    // Well-formed extra records mean a tokenizer for a larger vocabulary; anything
    // else is garbage after the last entry.
    auto extra = ReadRecords(r, tok.max_token_length, UINT64_MAX, nullptr);
    if (extra.ok())
      return Error::Mismatch("tokenizer has more entries than the model's vocab_size")
          .File(path)
          .Offset(end)
          .Field("entries")
          .Expected(std::to_string(vocab_size))
          .Found(std::to_string(n + *extra));
    return Error::Malformed("trailing bytes after the last tokenizer entry")
        .File(path)
        .Offset(end)
        .Expected("end of file after " + std::to_string(vocab_size) + " entries")
        .Found(std::to_string(file->size() - end) + " more bytes");
  }
  return tok;
}

}  // namespace wg
