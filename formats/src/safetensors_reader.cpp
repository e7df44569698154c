// Reads one .safetensors file: u64 header length N, N bytes of JSON, then the tensor bytes.
//
// The checks follow the reference reader (safetensors/src/tensor.rs, read_metadata and
// Metadata::validate) rule by rule and in its order, so a file is refused here exactly
// when the reference refuses it, plus duplicate keys, which the reference lets through.
// See /work/shared/reference/formats.md §3.
#include <algorithm>

#include "safetensors_internal.h"
#include "weightgate/core/byte_reader.h"
#include "weightgate/formats/safetensors.h"

namespace wg {
namespace {

using Json = nlohmann::ordered_json;
using safetensors_detail::StDType;

constexpr uint64_t kLengthBytes = 8;
constexpr uint64_t kMaxHeaderBytes = 100'000'000;  // the reference's MAX_HEADER_SIZE
constexpr const char* kMetadataKey = "__metadata__";

// One header entry, as written; validated against the others once all are read.
struct HeaderEntry {
  std::string name;
  const StDType* dtype = nullptr;
  std::vector<uint64_t> shape;
  uint64_t begin = 0;
  uint64_t end = 0;
};

// Schema problems have no finer position than the header itself: nlohmann keeps none.
Error SchemaError(const std::string& path, const std::string& name, std::string message) {
  return Error::Malformed(std::move(message)).File(path).Offset(kLengthBytes).Field(name);
}

Result<std::vector<uint64_t>> ParseUintArray(const Json& v, const std::string& path,
                                             const std::string& name, const char* key) {
  // Only is_number_unsigned: the reference (serde into usize) also refuses -0, 1.0 and
  // integers past 2^64, which nlohmann would read as signed or floating point.
  bool ok = v.is_array() &&
            std::all_of(v.begin(), v.end(), [](const Json& x) { return x.is_number_unsigned(); });
  if (!ok)
    return SchemaError(path, name, std::string("'") + key + "' must be an array of integers")
        .Expected("non-negative integers below 2^64")
        .Found(v.dump());
  std::vector<uint64_t> out;
  out.reserve(v.size());
  for (const Json& x : v) out.push_back(x.get<uint64_t>());
  return out;
}

const Json* Member(const Json& entry, const char* key) {
  auto it = entry.find(key);
  return it == entry.end() ? nullptr : &*it;
}

// Reads {"dtype": str, "shape": [u64...], "data_offsets": [begin, end]}. Other members
// are ignored, as the reference ignores them.
Result<HeaderEntry> ParseEntry(const std::string& name, const Json& entry,
                               const std::string& path) {
  if (!entry.is_object())
    return SchemaError(path, name, "tensor entry must be a JSON object").Found(entry.type_name());
  HeaderEntry e;
  e.name = name;
  for (const char* key : {"dtype", "shape", "data_offsets"})
    if (!Member(entry, key)) return SchemaError(path, name, std::string("missing '") + key + "'");

  const Json& dtype = *Member(entry, "dtype");
  if (!dtype.is_string())
    return SchemaError(path, name, "'dtype' must be a string").Found(dtype.dump());
  e.dtype = safetensors_detail::FindStDType(dtype.get<std::string>());
  if (!e.dtype)
    return SchemaError(path, name, "unknown safetensors dtype")
        .Expected("BOOL, U8, I8, I16, U16, F16, BF16, I32, U32, F32, F64, I64, U64, F8_*, ...")
        .Found(dtype.dump());

  WG_ASSIGN_OR_RETURN(e.shape, ParseUintArray(*Member(entry, "shape"), path, name, "shape"));
  WG_ASSIGN_OR_RETURN(auto offsets,
                      ParseUintArray(*Member(entry, "data_offsets"), path, name, "data_offsets"));
  if (offsets.size() != 2)
    return SchemaError(path, name, "'data_offsets' must be [begin, end]")
        .Expected("2 integers")
        .Found(std::to_string(offsets.size()));
  e.begin = offsets[0];
  e.end = offsets[1];
  return e;
}

Result<Json> ParseMetadata(const Json& v, const std::string& path) {
  const char* why = "'__metadata__' must map strings to strings (it cannot name a tensor)";
  if (!v.is_object()) return SchemaError(path, kMetadataKey, why).Found(v.type_name());
  for (const auto& [key, value] : v.items())
    if (!value.is_string())
      return SchemaError(path, kMetadataKey, why).Found("\"" + key + "\": " + value.dump());
  return v;
}

// Metadata::validate: contiguous from 0, no overlap, sizes that match shape x dtype.
// Returns the end of the last tensor's bytes, relative to the data section.
Result<uint64_t> ValidateLayout(const std::vector<HeaderEntry>& entries, const std::string& path,
                                uint64_t data_base) {
  uint64_t expected_begin = 0;
  for (const HeaderEntry& e : entries) {
    // Where the bytes should start; cannot overflow, earlier ends all lie in the file.
    const uint64_t at = data_base + expected_begin;
    if (e.begin != expected_begin)
      return Error::Malformed(e.begin > expected_begin ? "gap before tensor data"
                                                       : "tensor data overlaps the previous tensor")
          .File(path)
          .Offset(at)
          .Field(e.name)
          .Expected("data_offsets begin " + std::to_string(expected_begin))
          .Found(std::to_string(e.begin));
    if (e.end < e.begin)
      return Error::Malformed("tensor data ends before it begins")
          .File(path)
          .Offset(at)
          .Field(e.name)
          .Expected("end >= " + std::to_string(e.begin))
          .Found(std::to_string(e.end));
    uint64_t elements = 1, bits = 0;
    for (uint64_t d : e.shape)
      if (!CheckedMul(elements, d, &elements))
        return Error::Malformed("element count overflows 64 bits")
            .File(path)
            .Offset(at)
            .Field(e.name);
    if (!CheckedMul(elements, e.dtype->bits, &bits))
      return Error::Malformed("tensor bit size overflows 64 bits")
          .File(path)
          .Offset(at)
          .Field(e.name);
    if (bits % 8 != 0)
      return Error::Malformed("sub-byte tensor does not end on a byte boundary")
          .File(path)
          .Offset(at)
          .Field(e.name)
          .Found(std::to_string(bits) + " bits");
    if (e.end - e.begin != bits / 8)
      return Error::Malformed("tensor byte length does not match its shape and dtype")
          .File(path)
          .Offset(at)
          .Field(e.name)
          .Expected(std::to_string(bits / 8) + " bytes")
          .Found(std::to_string(e.end - e.begin) + " bytes");
    if (e.end > UINT64_MAX - data_base)
      return Error::Malformed("tensor data extends past end of file")
          .File(path)
          .Offset(at)
          .Field(e.name);
    expected_begin = e.end;
  }
  return expected_begin;
}

}  // namespace

Result<TensorCatalog> ReadSafetensors(const std::string& path) {
  WG_ASSIGN_OR_RETURN(std::shared_ptr<MappedFile> file, MappedFile::Open(path));
  const uint64_t size = file->size();
  ByteReader reader(file->bytes(), path);

  if (size < kLengthBytes)
    return Error::Malformed("file too small for a safetensors header length")
        .File(path)
        .Offset(0)
        .Expected("at least 8 bytes")
        .Found(std::to_string(size) + " bytes");
  WG_ASSIGN_OR_RETURN(uint64_t header_len, reader.Read<uint64_t>("header length"));
  if (header_len > kMaxHeaderBytes)
    return Error::Malformed("header too large")
        .File(path)
        .Offset(0)
        .Field("header length")
        .Expected("at most " + std::to_string(kMaxHeaderBytes) + " bytes")
        .Found(std::to_string(header_len));
  const uint64_t data_base = kLengthBytes + header_len;  // small: header_len is capped above
  if (data_base > size)
    return Error::Malformed("header extends past end of file")
        .File(path)
        .Offset(0)
        .Field("header length")
        .Expected("header end <= file size " + std::to_string(size))
        .Found(std::to_string(data_base));
  WG_ASSIGN_OR_RETURN(std::string_view header, reader.ReadString(header_len, "header"));

  if (auto bad = safetensors_detail::FindInvalidUtf8(header))
    return Error::Malformed("header is not valid UTF-8").File(path).Offset(kLengthBytes + *bad);
  WG_ASSIGN_OR_RETURN(Json doc,
                      safetensors_detail::ParseJsonNoDuplicates(header, path, kLengthBytes));
  if (!doc.is_object())
    return Error::Malformed("header must be a JSON object")
        .File(path)
        .Offset(kLengthBytes)
        .Found(doc.type_name());

  TensorCatalog catalog;
  catalog.format = Format::kSafetensors;
  catalog.files = {path};
  std::vector<HeaderEntry> entries;
  entries.reserve(doc.size());
  for (const auto& [key, value] : doc.items()) {
    if (key == kMetadataKey) {
      if (value.is_null()) continue;  // the reference reads null as "no metadata"
      WG_ASSIGN_OR_RETURN(catalog.metadata[kMetadataKey], ParseMetadata(value, path));
      continue;
    }
    WG_ASSIGN_OR_RETURN(HeaderEntry e, ParseEntry(key, value, path));
    entries.push_back(std::move(e));
  }

  // Any JSON order is valid; the bytes are laid out in offset order. Stable, so tensors
  // sharing an offset (empty ones) keep the header's order.
  std::stable_sort(entries.begin(), entries.end(), [](const HeaderEntry& a, const HeaderEntry& b) {
    return std::pair(a.begin, a.end) < std::pair(b.begin, b.end);
  });
  WG_ASSIGN_OR_RETURN(uint64_t data_len, ValidateLayout(entries, path, data_base));
  if (data_base + data_len != size)
    return Error::Malformed(data_base + data_len < size ? "trailing bytes after the last tensor"
                                                        : "tensor data extends past end of file")
        .File(path)
        .Offset(std::min(data_base + data_len, size))
        .Expected("file size " + std::to_string(data_base + data_len))
        .Found(std::to_string(size));

  // The file is well formed; only now say whether weightgate can handle every dtype in it.
  catalog.tensors.reserve(entries.size());
  for (HeaderEntry& e : entries) {
    if (!e.dtype->wg)
      return Error::Unsupported("safetensors dtype not supported by weightgate")
          .File(path)
          .Offset(kLengthBytes)
          .Field(e.name)
          .Expected(
              "BOOL, U8, I8, I16, U16, F16, BF16, I32, U32, F32, F64, I64, U64, F8_E4M3, F8_E5M2")
          .Found(std::string(e.dtype->name));
    TensorInfo t;
    t.name = std::move(e.name);
    t.dtype = *e.dtype->wg;
    t.shape = std::move(e.shape);
    t.file = file;
    t.offset = data_base + e.begin;
    t.nbytes = e.end - e.begin;
    catalog.tensors.push_back(std::move(t));
  }
  return catalog;
}

}  // namespace wg
