// Writes a GGUF v3 file byte-identical to gguf-py's GGUFWriter for the same key/values
// and tensors (write_header_to_file, write_kv_data_to_file, write_tensors_to_file):
// header, key/values in the given order, tensor infos with offsets packed in order, zero
// padding to the alignment after the infos and after every tensor, the last included.
//
// A file without tensors ends right after the key/values, without padding, as gguf-py
// writes vocab-only files (convert_hf_to_gguf.py --vocab-only never calls
// write_tensors_to_file), so llama.cpp's vocab files are reproduced byte for byte.
//
// Every header field is computed before the first tensor byte, so tensors stream from
// their producers straight to the file; nothing appears at `path` unless all succeed.
#include <limits>
#include <unordered_set>

#include "gguf_internal.h"
#include "safetensors_internal.h"
#include "weightgate/core/byte_reader.h"

namespace wg {
namespace {

using namespace gguf_detail;

class HeaderBuffer {
 public:
  template <typename T>
  void Put(T v) {
    static_assert(std::is_trivially_copyable_v<T>);
    const char* p = reinterpret_cast<const char*>(&v);  // the host is little-endian
    buf_.append(p, sizeof v);
  }
  void PutString(std::string_view s) {
    Put<uint64_t>(s.size());
    buf_.append(s);
  }
  std::string& str() { return buf_; }

 private:
  std::string buf_;
};

// Appends one value, refusing values that do not fit their declared type: a caller's
// mistake must not become a silently truncated number in a released file.
Status PutValue(HeaderBuffer& out, const GgufValue& v, const std::string& where) {
  auto out_of_range = [&](const std::string& value) {
    return Error::Usage("metadata value does not fit its type")
        .Field(where)
        .Expected(TypeName(v.type))
        .Found(value);
  };
  auto put_unsigned = [&](auto zero) -> Status {
    using T = decltype(zero);
    if (v.u > std::numeric_limits<T>::max()) return out_of_range(std::to_string(v.u));
    out.Put(static_cast<T>(v.u));
    return Ok();
  };
  auto put_signed = [&](auto zero) -> Status {
    using T = decltype(zero);
    if (v.i < std::numeric_limits<T>::min() || v.i > std::numeric_limits<T>::max())
      return out_of_range(std::to_string(v.i));
    out.Put(static_cast<T>(v.i));
    return Ok();
  };
  switch (v.type) {
    case GgufType::kU8:
      return put_unsigned(uint8_t{});
    case GgufType::kU16:
      return put_unsigned(uint16_t{});
    case GgufType::kU32:
      return put_unsigned(uint32_t{});
    case GgufType::kU64:
      return put_unsigned(uint64_t{});
    case GgufType::kBool:
      return put_unsigned(uint8_t{});
    case GgufType::kI8:
      return put_signed(int8_t{});
    case GgufType::kI16:
      return put_signed(int16_t{});
    case GgufType::kI32:
      return put_signed(int32_t{});
    case GgufType::kI64:
      return put_signed(int64_t{});
    case GgufType::kF32:
      out.Put(static_cast<float>(v.f));
      return Ok();
    case GgufType::kF64:
      out.Put(v.f);
      return Ok();
    case GgufType::kString:
      out.PutString(v.str);
      return Ok();
    case GgufType::kArray: {
      if (!IsKnownType(static_cast<int32_t>(v.elem_type)))
        return Error::Usage("unknown array element type").Field(where).Found(TypeName(v.elem_type));
      out.Put(static_cast<int32_t>(v.elem_type));
      out.Put<uint64_t>(v.array.size());
      for (size_t k = 0; k < v.array.size(); ++k) {
        const GgufValue& item = v.array[k];
        if (item.type != v.elem_type)
          return Error::Usage("array element has a different type than the array declares")
              .Field(where + "[" + std::to_string(k) + "]")
              .Expected(TypeName(v.elem_type))
              .Found(TypeName(item.type));
        if (item.type == GgufType::kArray) {
          WG_TRY(PutValue(out, item, where + "[" + std::to_string(k) + "]"));
        } else {
          Status s = PutValue(out, item, where);
          if (!s.ok()) return std::move(s).error();
        }
      }
      return Ok();
    }
  }
  return Error::Usage("unknown metadata value type").Field(where).Found(TypeName(v.type));
}

Status CheckAlignment(const std::vector<GgufKV>& kvs, uint32_t alignment) {
  if (alignment == 0 || (alignment & (alignment - 1)) != 0)
    return Error::Usage("alignment must be a power of two").Found(std::to_string(alignment));
  for (const GgufKV& kv : kvs) {
    if (kv.key != kAlignmentKey) continue;
    if (kv.value.type != GgufType::kU32 || kv.value.u != alignment)
      return Error::Usage("general.alignment disagrees with the alignment the file is written with")
          .Field(kv.key)
          .Expected("U32 " + std::to_string(alignment))
          .Found(TypeName(kv.value.type) + " " + std::to_string(kv.value.u));
    return Ok();
  }
  if (alignment != kDefaultAlignment)
    return Error::Usage("an alignment other than 32 must be stated in general.alignment")
        .Field(kAlignmentKey)
        .Expected("a U32 key/value " + std::to_string(alignment));
  return Ok();
}

// Appends the tensor info for `s` at data-section offset `offset`.
Status PutTensorInfo(HeaderBuffer& out, const TensorWriteSpec& s, uint64_t offset) {
  if (safetensors_detail::FindInvalidUtf8(s.name))
    return Error::Usage("tensor name is not valid UTF-8").Field(s.name);
  if (s.name.size() > kMaxNameBytes)
    return Error::Usage("tensor name too long for llama.cpp")
        .Field(s.name)
        .Expected("at most " + std::to_string(kMaxNameBytes) + " bytes")
        .Found(std::to_string(s.name.size()) + " bytes");
  if (s.shape.size() > kMaxDims)
    return Error::Usage("GGUF tensors have at most 4 dimensions")
        .Field(s.name)
        .Found(std::to_string(s.shape.size()));
  Result<int32_t> type = GgmlTypeFromDType(s.dtype);
  if (!type.ok()) return std::move(type).error().Field(s.name);
  const uint32_t block = Info(s.dtype).block_elems;
  const uint64_t inner = s.shape.empty() ? 1 : s.shape.back();
  if (inner % block != 0)
    return Error::Usage("innermost dimension is not a whole number of blocks")
        .Field(s.name)
        .Expected("a multiple of " + std::to_string(block) + " for " + std::string(Name(s.dtype)))
        .Found(std::to_string(inner));
  Result<uint64_t> elements = ElementCount(s.shape);
  if (!elements.ok() || *elements > INT64_MAX)
    return Error::Usage("tensor element count overflows int64").Field(s.name);
  Result<uint64_t> bytes = ByteSize(s.dtype, *elements);
  if (!bytes.ok()) return std::move(bytes).error().Field(s.name);
  if (*bytes != s.nbytes)
    return Error::Usage("tensor byte count does not match its shape and dtype")
        .Field(s.name)
        .Expected(std::to_string(*bytes) + " bytes")
        .Found(std::to_string(s.nbytes) + " bytes");
  if (!s.produce) return Error::Usage("tensor has no data producer").Field(s.name);

  out.PutString(s.name);
  out.Put<uint32_t>(static_cast<uint32_t>(s.shape.size()));
  for (auto d = s.shape.rbegin(); d != s.shape.rend(); ++d) out.Put<uint64_t>(*d);  // ne[0] first
  out.Put<int32_t>(*type);
  out.Put<uint64_t>(offset);
  return Ok();
}

// Streams one tensor, refusing a producer that delivers more or fewer bytes than declared.
Status WriteTensor(AtomicFile& out, const TensorWriteSpec& spec) {
  uint64_t written = 0;
  ByteSink sink = [&](Bytes chunk) -> Status {
    if (chunk.size() > spec.nbytes - written)
      return Error::Mismatch("tensor producer delivered more bytes than declared")
          .Field(spec.name)
          .Expected(std::to_string(spec.nbytes) + " bytes")
          .Found("at least " + std::to_string(written + chunk.size()) + " bytes");
    written += chunk.size();
    return out.Append(chunk);
  };
  Status s = spec.produce(sink);
  if (!s.ok()) return std::move(s).error().Field(spec.name);
  if (written != spec.nbytes)
    return Error::Mismatch("tensor producer delivered fewer bytes than declared")
        .Field(spec.name)
        .Expected(std::to_string(spec.nbytes) + " bytes")
        .Found(std::to_string(written) + " bytes");
  return Ok();
}

Result<std::string> BuildHeader(const std::vector<GgufKV>& kvs,
                                const std::vector<TensorWriteSpec>& tensors, uint32_t alignment) {
  WG_TRY(CheckAlignment(kvs, alignment));
  HeaderBuffer h;
  h.Put<uint32_t>(kMagic);
  h.Put<uint32_t>(3);
  h.Put<uint64_t>(tensors.size());
  h.Put<uint64_t>(kvs.size());
  std::unordered_set<std::string_view> keys;
  for (const GgufKV& kv : kvs) {
    if (!keys.insert(kv.key).second) return Error::Usage("duplicate metadata key").Field(kv.key);
    if (safetensors_detail::FindInvalidUtf8(kv.key))
      return Error::Usage("metadata key is not valid UTF-8").Field(kv.key);
    h.PutString(kv.key);
    h.Put<int32_t>(static_cast<int32_t>(kv.value.type));
    Status s = PutValue(h, kv.value, kv.key);
    if (!s.ok()) return std::move(s).error().Field(kv.key);
  }
  std::unordered_set<std::string_view> names;
  uint64_t offset = 0;
  for (const TensorWriteSpec& t : tensors) {
    if (!names.insert(t.name).second) return Error::Usage("duplicate tensor name").Field(t.name);
    WG_TRY(PutTensorInfo(h, t, offset));
    if (t.nbytes > UINT64_MAX / 2 || !CheckedAdd(offset, AlignUp(t.nbytes, alignment), &offset))
      return Error::Usage("total tensor bytes overflow 64 bits").Field(t.name);
  }
  if (!tensors.empty()) h.str().resize(AlignUp(h.str().size(), alignment), '\0');
  return std::move(h.str());
}

}  // namespace

Status WriteGguf(const std::string& path, const std::vector<GgufKV>& kvs,
                 std::vector<TensorWriteSpec> tensors, uint32_t alignment) {
  Result<std::string> header = BuildHeader(kvs, tensors, alignment);
  if (!header.ok()) return std::move(header).error().File(path);
  WG_ASSIGN_OR_RETURN(std::unique_ptr<AtomicFile> out, AtomicFile::Create(path));
  auto write_all = [&]() -> Status {
    WG_TRY(out->Append(*header));
    for (const TensorWriteSpec& t : tensors) {
      WG_TRY(WriteTensor(*out, t));
      WG_TRY(out->AppendZeros(AlignUp(t.nbytes, alignment) - t.nbytes));
    }
    return out->Commit();
  };
  Status s = write_all();
  if (!s.ok()) return std::move(s).error().File(path);
  return Ok();
}

}  // namespace wg
