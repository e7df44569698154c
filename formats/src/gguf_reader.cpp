// Reads a GGUF file: header, metadata key/values, tensor infos, then the data section.
//
// The rules are llama.cpp's (ggml/src/gguf.cpp gguf_init_from_file_impl, plus the
// bounds check its model loader adds), in its order, so a file is refused here when
// llama.cpp refuses it, with three deliberate differences:
// - nested arrays are read (the specification allows them; llama.cpp refuses them),
// - a general.alignment of the wrong type is an error instead of an abort,
// - bytes after the last tensor's padding are refused (llama.cpp ignores them), so a
//   GGUF file cannot carry a second payload.
// See /work/shared/reference/formats.md §1.
#include <cstdio>
#include <unordered_set>

#include "gguf_internal.h"
#include "safetensors_internal.h"
#include "weightgate/core/byte_reader.h"

namespace wg {
namespace {

using namespace gguf_detail;

// Every array element becomes a GgufValue (about 100 bytes), so a file of one-byte
// elements would cost 100 times its size in memory. Real files hold around a million
// (vocabulary, scores, token types, merges); this bounds a hostile one.
constexpr uint64_t kMaxMetadataValues = uint64_t{1} << 22;
// Nested arrays recurse; a hostile file must not exhaust the stack.
constexpr int kMaxArrayDepth = 16;
// Arrays longer than this are summarized in the catalogue's metadata JSON.
constexpr size_t kJsonArrayLimit = 64;

constexpr uint64_t kMinKVBytes = 8 + 4 + 1;              // key length, type, a u8 value
constexpr uint64_t kMinTensorInfoBytes = 8 + 4 + 4 + 8;  // name length, n_dims, type, offset

std::string Hex32(uint32_t v) {
  char buf[16];
  std::snprintf(buf, sizeof buf, "0x%08x", v);
  return buf;
}

class MetadataParser {
 public:
  MetadataParser(ByteReader& r) : r_(r) {}

  Result<std::string> ReadString(std::string_view field) {
    WG_ASSIGN_OR_RETURN(uint64_t len, r_.Read<uint64_t>(field));
    if (len > r_.remaining())
      return r_.Fail("string extends past end of file", field)
          .Expected("length <= " + std::to_string(r_.remaining()))
          .Found(std::to_string(len));
    WG_ASSIGN_OR_RETURN(std::string_view s, r_.ReadString(len, field));
    return std::string(s);
  }

  // Reads one value of type `t`. Errors carry no field; the caller names the key (and
  // the array index) once it knows which value failed, so that the common path builds
  // no names.
  Status ReadValue(GgufType t, GgufValue* out, const std::string& where, int depth) {
    out->type = t;
    switch (t) {
      case GgufType::kU8:
        return Get<uint8_t>(&out->u);
      case GgufType::kU16:
        return Get<uint16_t>(&out->u);
      case GgufType::kU32:
        return Get<uint32_t>(&out->u);
      case GgufType::kU64:
        return Get<uint64_t>(&out->u);
      case GgufType::kBool:
        return Get<uint8_t>(&out->u);  // llama.cpp reads any nonzero byte as true
      case GgufType::kI8:
        return Get<int8_t>(&out->i);
      case GgufType::kI16:
        return Get<int16_t>(&out->i);
      case GgufType::kI32:
        return Get<int32_t>(&out->i);
      case GgufType::kI64:
        return Get<int64_t>(&out->i);
      case GgufType::kF32:
        return Get<float>(&out->f);
      case GgufType::kF64:
        return Get<double>(&out->f);
      case GgufType::kString: {
        WG_ASSIGN_OR_RETURN(out->str, ReadString(""));
        return Ok();
      }
      case GgufType::kArray:
        return ReadArray(out, where, depth);
    }
    return r_.Fail("unknown metadata value type", "");
  }

 private:
  template <typename T, typename Out>
  Status Get(Out* out) {
    WG_ASSIGN_OR_RETURN(T v, r_.Read<T>(""));
    *out = static_cast<Out>(v);
    return Ok();
  }

  Status ReadArray(GgufValue* out, const std::string& where, int depth) {
    const uint64_t at = r_.offset();
    WG_ASSIGN_OR_RETURN(int32_t elem, r_.Read<int32_t>("array element type"));
    if (!IsKnownType(elem))
      return Error::Malformed("unknown array element type")
          .File(r_.file())
          .Offset(at)
          .Field(where)
          .Expected("0..12")
          .Found(std::to_string(elem));
    out->elem_type = static_cast<GgufType>(elem);
    if (out->elem_type == GgufType::kArray && depth >= kMaxArrayDepth)
      return Error::Unsupported("arrays nested too deeply")
          .File(r_.file())
          .Offset(at)
          .Field(where)
          .Expected("at most " + std::to_string(kMaxArrayDepth) + " levels");
    WG_ASSIGN_OR_RETURN(uint64_t count, r_.Read<uint64_t>("array length"));
    // Bound the count by the bytes left before allocating anything for it.
    const uint64_t max_count = r_.remaining() / MinEncodedSize(out->elem_type);
    if (count > max_count)
      return Error::Malformed("array length exceeds the bytes left in the file")
          .File(r_.file())
          .Offset(at + 4)
          .Field(where)
          .Expected("at most " + std::to_string(max_count) + " " + TypeName(out->elem_type) +
                    " elements")
          .Found(std::to_string(count));
    values_ += count;
    if (values_ > kMaxMetadataValues)
      return Error::Unsupported("metadata holds too many array elements")
          .File(r_.file())
          .Offset(at + 4)
          .Field(where)
          .Expected("at most " + std::to_string(kMaxMetadataValues) + " in all");
    out->array.resize(count);
    for (uint64_t k = 0; k < count; ++k) {
      if (out->elem_type == GgufType::kArray) {
        WG_TRY(ReadValue(GgufType::kArray, &out->array[k], where + "[" + std::to_string(k) + "]",
                         depth + 1));
        continue;
      }
      Status s = ReadValue(out->elem_type, &out->array[k], where, depth + 1);
      if (!s.ok()) return std::move(s).error().Field(where + "[" + std::to_string(k) + "]");
    }
    return Ok();
  }

  ByteReader& r_;
  uint64_t values_ = 0;
};

Result<uint32_t> AlignmentOf(const GgufKV& kv, const std::string& path, uint64_t at) {
  if (kv.value.type != GgufType::kU32)
    return Error::Malformed("general.alignment must be a U32")
        .File(path)
        .Offset(at)
        .Field(kv.key)
        .Expected("U32")
        .Found(TypeName(kv.value.type));
  const uint64_t a = kv.value.u;
  if (a == 0 || (a & (a - 1)) != 0)
    return Error::Malformed("general.alignment must be a power of two")
        .File(path)
        .Offset(at)
        .Field(kv.key)
        .Expected("a nonzero power of two")
        .Found(std::to_string(a));
  return static_cast<uint32_t>(a);
}

// One tensor info as written (dimensions innermost-first), before the data is checked.
struct RawTensorInfo {
  std::string name;
  uint64_t info_offset = 0;  // where the info starts, for messages
  std::vector<uint64_t> ne;
  int32_t ggml_type = 0;
  uint64_t offset = 0;  // relative to the data section
  uint64_t nbytes = 0;
};

Result<RawTensorInfo> ReadTensorInfo(ByteReader& r, MetadataParser& p, uint64_t index) {
  RawTensorInfo t;
  t.info_offset = r.offset();
  const std::string what = "tensor #" + std::to_string(index);
  WG_ASSIGN_OR_RETURN(t.name, p.ReadString(what + " name"));
  auto fail = [&](std::string message) {
    return Error::Malformed(std::move(message)).File(r.file()).Offset(t.info_offset).Field(t.name);
  };
  if (auto bad = safetensors_detail::FindInvalidUtf8(t.name))
    return Error::Malformed("tensor name is not valid UTF-8")
        .File(r.file())
        .Offset(t.info_offset + 8 + *bad)
        .Field(what + " name");
  if (t.name.size() > kMaxNameBytes)
    return fail("tensor name too long")
        .Expected("at most " + std::to_string(kMaxNameBytes) + " bytes")
        .Found(std::to_string(t.name.size()) + " bytes");
  WG_ASSIGN_OR_RETURN(uint32_t n_dims, r.Read<uint32_t>(t.name + " n_dims"));
  if (n_dims > kMaxDims)
    return fail("too many dimensions")
        .Expected("at most " + std::to_string(kMaxDims))
        .Found(std::to_string(n_dims));
  t.ne.resize(n_dims);
  uint64_t elements = 1;
  for (uint32_t j = 0; j < n_dims; ++j) {
    WG_ASSIGN_OR_RETURN(t.ne[j], r.Read<uint64_t>(t.name + " ne[" + std::to_string(j) + "]"));
    // llama.cpp keeps dimensions and their product in int64_t.
    if (t.ne[j] > INT64_MAX || !CheckedMul(elements, t.ne[j], &elements) || elements > INT64_MAX)
      return fail("tensor element count overflows int64")
          .Found("ne[" + std::to_string(j) + "] = " + std::to_string(t.ne[j]));
  }
  const uint64_t type_at = r.offset();
  WG_ASSIGN_OR_RETURN(t.ggml_type, r.Read<int32_t>(t.name + " type"));
  std::optional<GgmlType> type = FindGgmlType(t.ggml_type);
  if (!type)
    return Error::Malformed("unknown ggml tensor type")
        .File(r.file())
        .Offset(type_at)
        .Field(t.name)
        .Expected("a ggml type id in use (0-3, 6-30, 34, 35, 39)")
        .Found(std::to_string(t.ggml_type));
  const uint64_t ne0 = n_dims ? t.ne[0] : 1;
  if (ne0 % type->block_elems != 0)
    return fail("innermost dimension is not a whole number of blocks")
        .Expected("ne[0] a multiple of " + std::to_string(type->block_elems) + " for " +
                  std::string(type->name))
        .Found(std::to_string(ne0));
  // nbytes = ne0 / block * block_bytes * ne1 * ne2 * ne3, as ggml_nbytes.
  t.nbytes = ne0 / type->block_elems;
  bool ok = CheckedMul(t.nbytes, type->block_bytes, &t.nbytes);
  for (uint32_t j = 1; j < n_dims && ok; ++j) ok = CheckedMul(t.nbytes, t.ne[j], &t.nbytes);
  if (!ok) return fail("tensor byte size overflows 64 bits");
  WG_ASSIGN_OR_RETURN(t.offset, r.Read<uint64_t>(t.name + " offset"));
  return t;
}

}  // namespace

Result<GgufFile> ReadGguf(const std::string& path) {
  WG_ASSIGN_OR_RETURN(std::shared_ptr<MappedFile> file, MappedFile::Open(path));
  const uint64_t size = file->size();
  ByteReader r(file->bytes(), path);
  MetadataParser parser(r);
  GgufFile g;
  g.alignment = kDefaultAlignment;

  // Header.
  if (size < 4)
    return Error::Malformed("file too small for a GGUF header")
        .File(path)
        .Offset(0)
        .Expected("at least 24 bytes")
        .Found(std::to_string(size) + " bytes");
  WG_ASSIGN_OR_RETURN(uint32_t magic, r.Read<uint32_t>("magic"));
  if (magic != kMagic)
    return Error::Malformed("not a GGUF file")
        .File(path)
        .Offset(0)
        .Field("magic")
        .Expected("\"GGUF\" (0x46554747)")
        .Found(Hex32(magic));
  WG_ASSIGN_OR_RETURN(g.version, r.Read<uint32_t>("version"));
  if (g.version == 0x02000000 || g.version == 0x03000000)
    return Error::Unsupported("big-endian GGUF files are not supported")
        .File(path)
        .Offset(4)
        .Field("version")
        .Expected("a little-endian file (version 3 reads as 3)")
        .Found(std::to_string(g.version) + ", which is version " +
               std::to_string(__builtin_bswap32(g.version)) + " byte-swapped");
  if (g.version != 2 && g.version != 3)
    return Error::Unsupported("GGUF version not supported")
        .File(path)
        .Offset(4)
        .Field("version")
        .Expected("3 (or 2)")
        .Found(std::to_string(g.version));
  WG_ASSIGN_OR_RETURN(uint64_t tensor_count, r.Read<uint64_t>("tensor_count"));
  WG_ASSIGN_OR_RETURN(uint64_t kv_count, r.Read<uint64_t>("kv_count"));
  if (kv_count > r.remaining() / kMinKVBytes)
    return Error::Malformed("kv_count exceeds what the file can hold")
        .File(path)
        .Offset(16)
        .Field("kv_count")
        .Expected("at most " + std::to_string(r.remaining() / kMinKVBytes))
        .Found(std::to_string(kv_count));
  if (tensor_count > r.remaining() / kMinTensorInfoBytes)
    return Error::Malformed("tensor_count exceeds what the file can hold")
        .File(path)
        .Offset(8)
        .Field("tensor_count")
        .Expected("at most " + std::to_string(r.remaining() / kMinTensorInfoBytes))
        .Found(std::to_string(tensor_count));

  // Key/values.
  g.kvs.reserve(kv_count);
  std::unordered_set<std::string> keys;
  for (uint64_t k = 0; k < kv_count; ++k) {
    const uint64_t at = r.offset();
    GgufKV kv;
    WG_ASSIGN_OR_RETURN(kv.key, parser.ReadString("key of kv #" + std::to_string(k)));
    // Keys and tensor names become JSON object keys and command-line output; string
    // values stay as they are (some vocabularies hold raw bytes).
    if (auto bad = safetensors_detail::FindInvalidUtf8(kv.key))
      return Error::Malformed("metadata key is not valid UTF-8")
          .File(path)
          .Offset(at + 8 + *bad)
          .Field("key of kv #" + std::to_string(k));
    if (!keys.insert(kv.key).second)
      return Error::Malformed("duplicate metadata key").File(path).Offset(at).Field(kv.key);
    const uint64_t type_at = r.offset();
    WG_ASSIGN_OR_RETURN(int32_t type, r.Read<int32_t>(kv.key + " type"));
    if (!IsKnownType(type))
      return Error::Malformed("unknown metadata value type")
          .File(path)
          .Offset(type_at)
          .Field(kv.key)
          .Expected("0..12")
          .Found(std::to_string(type));
    Status s = parser.ReadValue(static_cast<GgufType>(type), &kv.value, kv.key, 0);
    if (!s.ok()) return std::move(s).error().Field(kv.key);
    if (kv.key == kAlignmentKey) {
      WG_ASSIGN_OR_RETURN(g.alignment, AlignmentOf(kv, path, at));
    }
    g.kvs.push_back(std::move(kv));
  }

  // Tensor infos. The count was bounded by the whole file; bound it again by what is left.
  if (tensor_count > r.remaining() / kMinTensorInfoBytes)
    return Error::Malformed("tensor_count exceeds what the file can hold")
        .File(path)
        .Offset(8)
        .Field("tensor_count")
        .Expected("at most " + std::to_string(r.remaining() / kMinTensorInfoBytes) +
                  " after the key/values")
        .Found(std::to_string(tensor_count));
  std::vector<RawTensorInfo> infos;
  infos.reserve(tensor_count);
  std::unordered_set<std::string> names;
  for (uint64_t k = 0; k < tensor_count; ++k) {
    WG_ASSIGN_OR_RETURN(RawTensorInfo t, ReadTensorInfo(r, parser, k));
    if (!names.insert(t.name).second)
      return Error::Malformed("duplicate tensor name")
          .File(path)
          .Offset(t.info_offset)
          .Field(t.name);
    infos.push_back(std::move(t));
  }

  // Data section: aligned after the infos; tensors packed in info order, each padded.
  const uint64_t infos_end = r.offset();
  g.data_offset = AlignUp(infos_end, g.alignment);
  if (infos.empty()) {
    // Vocab-only files written by convert_hf_to_gguf.py --vocab-only stop right after the
    // key/values; others pad to the alignment. Either way nothing may follow.
    if (size != infos_end && size != g.data_offset)
      return Error::Malformed("trailing bytes after the metadata of a file without tensors")
          .File(path)
          .Offset(infos_end)
          .Expected("file size " + std::to_string(infos_end) + " or " +
                    std::to_string(g.data_offset))
          .Found(std::to_string(size));
  } else if (g.data_offset > size) {
    return Error::Malformed("data section starts past end of file")
        .File(path)
        .Offset(infos_end)
        .Expected("file size >= " + std::to_string(g.data_offset))
        .Found(std::to_string(size));
  }
  uint64_t expected = 0;  // next tensor's offset, relative to the data section
  uint64_t data_end = 0;  // end of the last tensor's bytes, without padding
  for (const RawTensorInfo& t : infos) {
    if (t.offset != expected)
      return Error::Malformed(t.offset > expected ? "gap before tensor data"
                                                  : "tensor data overlaps the previous tensor")
          .File(path)
          .Offset(t.info_offset)
          .Field(t.name)
          .Expected("offset " + std::to_string(expected) +
                    " (tensors packed in info order, each padded to " +
                    std::to_string(g.alignment) + ")")
          .Found(std::to_string(t.offset));
    // The previous tensor ended within the file, so begin cannot overflow; its padding
    // may still reach past the end.
    const uint64_t begin = g.data_offset + t.offset;
    if (begin > size || t.nbytes > size - begin)
      return Error::Malformed("tensor data extends past end of file")
          .File(path)
          .Offset(begin)
          .Field(t.name)
          .Expected("end <= " + std::to_string(size))
          .Found(std::to_string(begin) + " + " + std::to_string(t.nbytes) + " bytes");
    data_end = begin + t.nbytes;
    expected = AlignUp(data_end, g.alignment) - g.data_offset;
  }
  if (!infos.empty() && size > g.data_offset + expected)
    return Error::Malformed("trailing bytes after the last tensor")
        .File(path)
        .Offset(g.data_offset + expected)
        .Expected("file size " + std::to_string(g.data_offset + expected))
        .Found(std::to_string(size));

  // The file is well formed; only now say whether weightgate can handle every type in it.
  TensorCatalog& cat = g.catalog;
  cat.format = Format::kGguf;
  cat.files = {path};
  cat.tensors.reserve(infos.size());
  for (RawTensorInfo& t : infos) {
    std::optional<DType> dtype = DTypeFromGgml(t.ggml_type);
    if (!dtype)
      return Error::Unsupported("ggml tensor type not supported by weightgate")
          .File(path)
          .Offset(t.info_offset)
          .Field(t.name)
          .Expected("F32, F16, BF16, F64, I8, I16, I32, I64, Q8_0, Q4_0, Q4_K or Q6_K")
          .Found(std::string(FindGgmlType(t.ggml_type)->name));
    TensorInfo info;
    info.name = std::move(t.name);
    info.dtype = *dtype;
    info.shape.assign(t.ne.rbegin(), t.ne.rend());  // GGUF lists the innermost first
    info.file = file;
    info.offset = g.data_offset + t.offset;
    info.nbytes = t.nbytes;
    cat.tensors.push_back(std::move(info));
  }
  for (const GgufKV& kv : g.kvs) cat.metadata[kv.key] = kv.value.ToJson(kJsonArrayLimit);
  return g;
}

}  // namespace wg
