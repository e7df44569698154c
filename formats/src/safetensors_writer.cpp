// Writes a .safetensors file byte-identical to the reference writer's (safetensors/src/
// tensor.rs, prepare() + serialize_to_file) for the same tensors and metadata.
//
// The header JSON is written by hand rather than through nlohmann: byte identity depends
// on member order and string escaping, and those are the reference's (serde_json), not
// nlohmann's. One difference cannot be removed: the reference keeps __metadata__ in a
// Rust HashMap, whose order changes from run to run; we write its keys sorted.
#include <algorithm>
#include <set>

#include "safetensors_internal.h"
#include "weightgate/core/byte_reader.h"
#include "weightgate/formats/safetensors.h"

namespace wg {
namespace {

using safetensors_detail::StDType;

// serde_json's escaping: the two mandatory escapes, short forms for five control
// characters, \u00xx (lower-case hex) for the other controls, everything else raw.
void AppendJsonString(std::string& out, std::string_view s) {
  static constexpr char kHex[] = "0123456789abcdef";
  out += '"';
  for (char ch : s) {
    auto c = static_cast<unsigned char>(ch);
    switch (c) {
      case '"':
        out += "\\\"";
        break;
      case '\\':
        out += "\\\\";
        break;
      case '\b':
        out += "\\b";
        break;
      case '\f':
        out += "\\f";
        break;
      case '\n':
        out += "\\n";
        break;
      case '\r':
        out += "\\r";
        break;
      case '\t':
        out += "\\t";
        break;
      default:
        if (c < 0x20) {
          out += "\\u00";
          out += kHex[c >> 4];
          out += kHex[c & 0xF];
        } else {
          out += ch;
        }
    }
  }
  out += '"';
}

Status CheckUtf8(std::string_view text, const std::string& path, const std::string& what) {
  if (safetensors_detail::FindInvalidUtf8(text))
    return Error::Usage(what + " is not valid UTF-8; JSON cannot carry it").File(path).Field(what);
  return Ok();
}

struct Planned {
  TensorWriteSpec* spec;
  const StDType* dtype;
};

// Checks every spec before a byte is written, and orders them as prepare() does.
Result<std::vector<Planned>> Plan(const std::string& path, std::vector<TensorWriteSpec>& specs) {
  std::vector<Planned> plan;
  plan.reserve(specs.size());
  for (TensorWriteSpec& s : specs) {
    if (s.name == "__metadata__")
      return Error::Usage("a tensor cannot be named __metadata__ (readers take it for metadata)")
          .File(path)
          .Field(s.name);
    WG_TRY(CheckUtf8(s.name, path, "tensor name '" + s.name + "'"));
    const StDType* dtype = safetensors_detail::FindStDType(s.dtype);
    if (!dtype)
      return Error::Unsupported("safetensors cannot store this dtype")
          .File(path)
          .Field(s.name)
          .Found(std::string(Name(s.dtype)));
    Result<uint64_t> elements = ElementCount(s.shape);
    if (!elements.ok()) return std::move(elements).error().File(path).Field(s.name);
    Result<uint64_t> bytes = ByteSize(s.dtype, *elements);
    if (!bytes.ok()) return std::move(bytes).error().File(path).Field(s.name);
    if (*bytes != s.nbytes)
      return Error::Usage("tensor byte count does not match its shape and dtype")
          .File(path)
          .Field(s.name)
          .Expected(std::to_string(*bytes) + " bytes")
          .Found(std::to_string(s.nbytes) + " bytes");
    if (!s.produce) return Error::Usage("tensor has no data producer").File(path).Field(s.name);
    plan.push_back({&s, dtype});
  }
  // prepare(): dtype descending in the reference's enum order, then name (byte order).
  std::sort(plan.begin(), plan.end(), [](const Planned& a, const Planned& b) {
    if (a.dtype->rank != b.dtype->rank) return a.dtype->rank > b.dtype->rank;
    return a.spec->name < b.spec->name;
  });
  // Names sort within a dtype only, so equal names of different dtypes may sit apart.
  std::set<std::string_view> seen;
  for (const Planned& p : plan)
    if (!seen.insert(p.spec->name).second)
      return Error::Usage("duplicate tensor name").File(path).Field(p.spec->name);
  return plan;
}

// The header exactly as serde_json writes the reference's Metadata, padded with spaces to a
// multiple of 8 bytes.
Result<std::string> BuildHeader(const std::string& path,
                                const std::map<std::string, std::string>& metadata,
                                const std::vector<Planned>& plan) {
  std::string h = "{";
  if (!metadata.empty()) {
    h += "\"__metadata__\":{";
    bool first = true;
    for (const auto& [key, value] : metadata) {
      WG_TRY(CheckUtf8(key, path, "metadata key"));
      WG_TRY(CheckUtf8(value, path, "metadata value of '" + key + "'"));
      if (!first) h += ',';
      first = false;
      AppendJsonString(h, key);
      h += ':';
      AppendJsonString(h, value);
    }
    h += '}';
  }
  uint64_t offset = 0;
  for (const Planned& p : plan) {
    if (h.size() > 1) h += ',';
    AppendJsonString(h, p.spec->name);
    h += ":{\"dtype\":\"";
    h += p.dtype->name;
    h += "\",\"shape\":[";
    for (size_t i = 0; i < p.spec->shape.size(); ++i) {
      if (i) h += ',';
      h += std::to_string(p.spec->shape[i]);
    }
    uint64_t end;
    if (!CheckedAdd(offset, p.spec->nbytes, &end))
      return Error::Usage("total tensor bytes overflow 64 bits").File(path).Field(p.spec->name);
    h += "],\"data_offsets\":[" + std::to_string(offset) + "," + std::to_string(end) + "]}";
    offset = end;
  }
  h += '}';
  h.resize((h.size() + 7) / 8 * 8, ' ');
  return h;
}

// Streams one tensor, refusing a producer that delivers more or fewer bytes than declared.
Status WriteTensor(AtomicFile& out, const std::string& path, const TensorWriteSpec& spec) {
  uint64_t written = 0;
  ByteSink sink = [&](Bytes chunk) -> Status {
    if (chunk.size() > spec.nbytes - written)
      return Error::Mismatch("tensor producer delivered more bytes than declared")
          .File(path)
          .Field(spec.name)
          .Expected(std::to_string(spec.nbytes) + " bytes")
          .Found("at least " + std::to_string(written + chunk.size()) + " bytes");
    written += chunk.size();
    return out.Append(chunk);
  };
  Status s = spec.produce(sink);
  if (!s.ok()) return std::move(s).error().File(path).Field(spec.name);
  if (written != spec.nbytes)
    return Error::Mismatch("tensor producer delivered fewer bytes than declared")
        .File(path)
        .Field(spec.name)
        .Expected(std::to_string(spec.nbytes) + " bytes")
        .Found(std::to_string(written) + " bytes");
  return Ok();
}

}  // namespace

Status WriteSafetensors(const std::string& path, const std::map<std::string, std::string>& metadata,
                        std::vector<TensorWriteSpec> tensors) {
  WG_ASSIGN_OR_RETURN(std::vector<Planned> plan, Plan(path, tensors));
  WG_ASSIGN_OR_RETURN(std::string header, BuildHeader(path, metadata, plan));
  if (header.size() > 100'000'000)
    return Error::Unsupported("header would exceed the 100,000,000-byte limit readers enforce")
        .File(path)
        .Found(std::to_string(header.size()) + " bytes");

  // Nothing reaches `path` unless every tensor was written in full: the AtomicFile
  // removes its temporary file when it goes out of scope uncommitted.
  WG_ASSIGN_OR_RETURN(std::unique_ptr<AtomicFile> out, AtomicFile::Create(path));
  auto write_all = [&]() -> Status {
    uint64_t header_len = header.size();
    WG_TRY(out->Append(Bytes(reinterpret_cast<const uint8_t*>(&header_len), sizeof header_len)));
    WG_TRY(out->Append(header));
    for (const Planned& p : plan) WG_TRY(WriteTensor(*out, path, *p.spec));
    return out->Commit();
  };
  Status s = write_all();
  if (!s.ok()) return std::move(s).error().File(path);
  return Ok();
}

}  // namespace wg
