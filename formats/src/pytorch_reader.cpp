// ReadPyTorch: a torch.save zip checkpoint as a TensorCatalog.
//
// data.pkl runs on the restricted machine (pickle_machine.h); its value tree is then
// flattened into names, and each tensor is checked against the zip record holding its
// storage before it is catalogued as a view into the memory map.
#include <cstdio>
#include <unordered_map>
#include <unordered_set>

#include "pickle_machine.h"
#include "weightgate/core/byte_reader.h"
#include "weightgate/formats/pytorch.h"
#include "zip_reader.h"

namespace wg {
namespace {

using pickle::Value;
using Kind = Value::Kind;

constexpr uint64_t kMaxPickleBytes = 256 << 20;
// Shared references let a small pickle describe a huge tree (a dict holding the same
// dict twice, nested 60 times); flattening visits at most this many nodes.
constexpr uint64_t kMaxVisits = 10'000'000;
constexpr int kMaxDepth = 100;
constexpr size_t kMaxInlineBytes = 256;  // bytes values shown in metadata as hex up to this

// A file that is not a zip is refused without being unpickled. The scanner (which
// executes nothing) tells a malicious pickle, refused as unsafe by the import it
// would make, from a legacy checkpoint or a file that is no pickle at all.
Error NotAZip(const std::string& path, Bytes head) {
  Result<PickleScan> scan = ScanPickles(path);
  if (scan.ok()) {
    for (const PickleGlobal& g : scan->globals) {
      if (g.safe) continue;
      return Error::Unsafe("a bare pickle that imports '" + g.module + "." + g.name + "' (" +
                           g.severity +
                           "), not a torch.save zip checkpoint; weightgate never unpickles it")
          .File(path)
          .Offset(g.offset);
    }
  }
  const bool legacy =
      head.size() >= 4 && head[0] == 0x80 && head[1] == 0x02 && head[2] == 0x8a && head[3] == 0x0a;
  if (legacy || scan.ok())
    return Error::Unsupported(
               std::string(legacy ? "legacy (pre-1.6) torch.save format"
                                  : "a bare pickle, not a torch.save zip checkpoint") +
               ": re-save it with torch>=1.6 (torch.save(torch.load(f, weights_only=True), g)) "
               "or convert it to safetensors in a sandbox; weightgate never unpickles it "
               "(`weightgate scan` lists what it would import)")
        .File(path)
        .Offset(0);
  return Error::Unsupported("not a torch.save checkpoint: no zip signature")
      .File(path)
      .Offset(0)
      .Expected("PK\\3\\4");
}

std::string KeyText(const Value& k) {
  switch (k.kind) {
    case Kind::kString:
    case Kind::kBigInt:
      return k.text;
    case Kind::kInt:
      return std::to_string(k.integer);
    case Kind::kBool:
      return k.boolean ? "True" : "False";
    case Kind::kNone:
      return "None";
    case Kind::kFloat: {
      char buf[32];
      std::snprintf(buf, sizeof buf, "%.17g", k.real);
      return buf;
    }
    default:
      return {};
  }
}

std::string Hex(std::string_view bytes) {
  static constexpr char kDigits[] = "0123456789abcdef";
  std::string s;
  for (unsigned char c : bytes) {
    s.push_back(kDigits[c >> 4]);
    s.push_back(kDigits[c & 15]);
  }
  return s;
}

// A storage record checked once against what the pickle says it holds.
struct Record {
  uint64_t offset = 0;  // absolute, in the checkpoint file
  uint64_t nbytes = 0;
};

class Flattener {
 public:
  Flattener(const zip::ZipArchive& zip, std::string prefix, TensorCatalog& catalog)
      : zip_(zip), prefix_(std::move(prefix)), cat_(catalog) {}

  Status Visit(const Value& v, const std::string& key, int depth) {
    if (++visits_ > kMaxVisits)
      return Error::Unsupported("checkpoint expands to too many entries (shared references)")
          .File(zip_.path())
          .Field(key)
          .Expected("<= " + std::to_string(kMaxVisits));
    if (depth > kMaxDepth)
      return Error::Unsupported("checkpoint nests containers too deeply")
          .File(zip_.path())
          .Field(key)
          .Expected("<= " + std::to_string(kMaxDepth) + " levels");
    switch (v.kind) {
      case Kind::kDict:
        for (size_t i = 0; i + 1 < v.items.size(); i += 2) {
          const Value& k = *v.items[i];
          const std::string part = KeyText(k);
          if (part.empty() && k.kind != Kind::kString)
            return Error::Unsupported(std::string("dict key of type ") + pickle::KindName(k.kind))
                .File(zip_.path())
                .Field(key.empty() ? "<root>" : key);
          WG_TRY(Visit(*v.items[i + 1], key.empty() ? part : key + "." + part, depth + 1));
        }
        return Ok();
      case Kind::kList:
      case Kind::kTuple: {
        WG_ASSIGN_OR_RETURN(bool tensors, HoldsTensors(v, depth));
        if (!tensors) {
          WG_ASSIGN_OR_RETURN(auto json, ToJson(v, key, depth));
          return AddMetadata(key, std::move(json));
        }
        for (size_t i = 0; i < v.items.size(); ++i) {
          const std::string part = std::to_string(i);
          WG_TRY(Visit(*v.items[i], key.empty() ? part : key + "." + part, depth + 1));
        }
        return Ok();
      }
      case Kind::kTensor:
        return AddTensor(*v.tensor, key);
      case Kind::kStorage:
        return AddStorage(*v.storage, key);
      default: {
        WG_ASSIGN_OR_RETURN(auto json, ToJson(v, key, depth));
        return AddMetadata(key, std::move(json));
      }
    }
  }

 private:
  Status Claim(const std::string& name) {
    if (!names_.insert(name).second)
      return Error::Malformed("two checkpoint entries flatten to the same name")
          .File(zip_.path())
          .Field(name);
    return Ok();
  }

  Result<bool> HoldsTensors(const Value& v, int depth) {
    if (++visits_ > kMaxVisits || depth > kMaxDepth)
      return Error::Unsupported("checkpoint nests containers too deeply or too widely")
          .File(zip_.path());
    if (v.kind == Kind::kTensor || v.kind == Kind::kStorage) return true;
    if (v.kind != Kind::kList && v.kind != Kind::kTuple && v.kind != Kind::kDict) return false;
    for (const Value* item : v.items) {
      WG_ASSIGN_OR_RETURN(bool t, HoldsTensors(*item, depth + 1));
      if (t) return true;
    }
    return false;
  }

  Result<nlohmann::ordered_json> ToJson(const Value& v, const std::string& key, int depth) {
    if (++visits_ > kMaxVisits || depth > kMaxDepth)
      return Error::Unsupported("checkpoint metadata nests too deeply or too widely")
          .File(zip_.path())
          .Field(key);
    using J = nlohmann::ordered_json;
    switch (v.kind) {
      case Kind::kNone:
        return J(nullptr);
      case Kind::kBool:
        return J(v.boolean);
      case Kind::kInt:
        return J(v.integer);
      case Kind::kBigInt:
        return J(v.text);  // wider than JSON integers carry
      case Kind::kFloat:
        return J(v.real);
      case Kind::kString:
        return J(v.text);
      case Kind::kBytes: {
        J j = {{"bytes", v.text.size()}};
        if (v.text.size() <= kMaxInlineBytes) j["hex"] = Hex(v.text);
        return j;
      }
      case Kind::kGlobal:
        return J(std::string(v.global->module) + "." + std::string(v.global->name));
      case Kind::kList:
      case Kind::kTuple: {
        J arr = J::array();
        for (const Value* item : v.items) {
          WG_ASSIGN_OR_RETURN(J j, ToJson(*item, key, depth + 1));
          arr.push_back(std::move(j));
        }
        return arr;
      }
      case Kind::kDict: {
        J obj = J::object();
        for (size_t i = 0; i + 1 < v.items.size(); i += 2) {
          WG_ASSIGN_OR_RETURN(J j, ToJson(*v.items[i + 1], key, depth + 1));
          obj[KeyText(*v.items[i])] = std::move(j);
        }
        return obj;
      }
      case Kind::kTensor:
      case Kind::kStorage:
        break;
    }
    return Error::Malformed("tensor inside metadata").File(zip_.path()).Field(key);
  }

  Status AddMetadata(const std::string& key, nlohmann::ordered_json value) {
    const std::string name = key.empty() ? "value" : key;
    WG_TRY(Claim(name));
    cat_.metadata[name] = std::move(value);
    return Ok();
  }

  // The record data/<key>, whose size must be exactly what the storage declares.
  Result<Record> StorageRecord(const pickle::Storage& s, const std::string& tensor) {
    if (auto it = records_.find(s.key); it != records_.end()) return it->second;
    const std::string name = prefix_ + "/data/" + s.key;
    const zip::Entry* e = zip_.Find(name);
    if (!e)
      return Error::Malformed("storage record '" + name + "' is missing from the archive")
          .File(zip_.path())
          .Field(tensor);
    if (!s.dtype)
      return Error::Unsupported("storage of " + s.type_name + ": weightgate has no matching dtype")
          .File(zip_.path())
          .Field(tensor);
    WG_ASSIGN_OR_RETURN(Bytes bytes, zip_.StoredBytes(*e));
    uint64_t expected;
    if (!CheckedMul(s.numel, Info(*s.dtype).block_bytes, &expected) || bytes.size() != expected)
      return Error::Malformed("storage record size does not match the storage in data.pkl")
          .File(zip_.path())
          .Offset(e->data_offset)
          .Field(name)
          .Expected(std::to_string(s.numel) + " x " + std::string(Name(*s.dtype)) + " = " +
                    std::to_string(s.numel * Info(*s.dtype).block_bytes) + " bytes")
          .Found(std::to_string(bytes.size()) + " bytes");
    Record r{e->data_offset, bytes.size()};
    records_.emplace(s.key, r);
    return r;
  }

  Status AddTensor(const pickle::Tensor& t, const std::string& key) {
    const std::string name = key.empty() ? "tensor" : key;
    WG_TRY(Claim(name));
    const pickle::Storage& s = *t.storage->storage;
    WG_ASSIGN_OR_RETURN(Record rec, StorageRecord(s, name));
    const DType dtype = *t.dtype;
    const uint64_t item = Info(dtype).block_bytes;
    auto out_of_bounds = [&](std::string found) {
      return Error::Malformed("tensor view reaches past its storage")
          .File(zip_.path())
          .Offset(rec.offset)
          .Field(name)
          .Expected("end <= " + std::to_string(rec.nbytes) + " bytes of storage '" + s.key + "'")
          .Found(std::move(found));
    };
    WG_ASSIGN_OR_RETURN(uint64_t elements, ElementCount(t.size));
    // Bytes from the view's first element to one past its last, walking the strides.
    uint64_t start, span = 0;
    if (!CheckedMul(t.storage_offset, item, &start)) return out_of_bounds("offset overflows");
    if (elements > 0) {
      uint64_t last = 0;
      for (size_t i = 0; i < t.size.size(); ++i) {
        uint64_t step;
        if (!CheckedMul(t.size[i] - 1, t.stride[i], &step) || !CheckedAdd(last, step, &last))
          return out_of_bounds("strides overflow");
      }
      if (!CheckedMul(last + 1, item, &span)) return out_of_bounds("span overflows");
    }
    uint64_t end;
    if (!CheckedAdd(start, span, &end) || end > rec.nbytes)
      return out_of_bounds("offset " + std::to_string(start) + " + span " + std::to_string(span));

    TensorInfo info;
    info.name = name;
    info.dtype = dtype;
    info.shape = t.size;
    info.file = zip_.file();
    info.offset = rec.offset + start;
    info.nbytes = span;
    // C-contiguous as torch.is_contiguous() sees it: dimensions of size 1 may carry any
    // stride. Anything else keeps its strides for the consumer to gather.
    uint64_t expected = 1;
    bool contiguous = true;
    for (size_t i = t.size.size(); i-- > 0;) {
      if (t.size[i] != 1 && t.stride[i] != expected) contiguous = false;
      expected *= t.size[i];
    }
    if (!contiguous && elements > 0) info.strides.assign(t.stride.begin(), t.stride.end());
    cat_.tensors.push_back(std::move(info));
    return Ok();
  }

  // A storage saved on its own (not through a tensor) is one flat tensor.
  Status AddStorage(const pickle::Storage& s, const std::string& key) {
    const std::string name = key.empty() ? "storage" : key;
    WG_TRY(Claim(name));
    WG_ASSIGN_OR_RETURN(Record rec, StorageRecord(s, name));
    TensorInfo info;
    info.name = name;
    info.dtype = *s.dtype;
    info.shape = {s.numel};
    info.file = zip_.file();
    info.offset = rec.offset;
    info.nbytes = rec.nbytes;
    cat_.tensors.push_back(std::move(info));
    return Ok();
  }

  const zip::ZipArchive& zip_;
  std::string prefix_;
  TensorCatalog& cat_;
  std::unordered_set<std::string> names_;
  std::unordered_map<std::string, Record> records_;
  uint64_t visits_ = 0;
};

Result<std::string> ArchivePrefix(const zip::ZipArchive& zip) {
  if (zip.entries().empty())
    return Error::Malformed("empty zip archive: not a torch.save checkpoint").File(zip.path());
  const std::string& first = zip.entries().front().name;
  const size_t slash = first.find('/');
  if (slash == std::string::npos || slash == 0)
    return Error::Malformed("not a torch.save checkpoint: entries are not under an archive folder")
        .File(zip.path())
        .Field("entry '" + first + "'");
  return first.substr(0, slash);
}

}  // namespace

Result<TensorCatalog> ReadPyTorch(const std::string& path) {
  WG_ASSIGN_OR_RETURN(std::shared_ptr<const MappedFile> file, MappedFile::Open(path));
  const Bytes head = file->bytes().first(std::min<uint64_t>(file->size(), 16));
  if (!zip::LooksLikeZip(head)) return NotAZip(path, head);
  WG_ASSIGN_OR_RETURN(zip::ZipArchive zip, zip::ZipArchive::Open(file));
  WG_ASSIGN_OR_RETURN(std::string prefix, ArchivePrefix(zip));

  // TorchScript archives (torch.jit.save) also hold a data.pkl, but theirs names the
  // classes of compiled code, not a dict of tensors.
  if (zip.Find(prefix + "/constants.pkl"))
    return Error::Unsupported("a TorchScript archive (torch.jit.save), not a torch.save checkpoint")
        .File(path);
  const std::string pkl_name = prefix + "/data.pkl";
  const zip::Entry* pkl = zip.Find(pkl_name);
  if (!pkl)
    return Error::Malformed("not a torch.save checkpoint: no " + pkl_name + " in the archive")
        .File(path);
  if (const zip::Entry* order = zip.Find(prefix + "/byteorder")) {
    WG_ASSIGN_OR_RETURN(std::vector<uint8_t> text, zip.ReadSmall(*order, 64));
    const std::string value(text.begin(), text.end());
    if (value != "little")
      return Error::Unsupported("checkpoint storages are not little-endian")
          .File(path)
          .Offset(order->data_offset)
          .Field(order->name)
          .Expected("little")
          .Found(value);
  }

  WG_ASSIGN_OR_RETURN(std::vector<uint8_t> pickle_bytes, zip.ReadSmall(*pkl, kMaxPickleBytes));
  WG_ASSIGN_OR_RETURN(pickle::Unpickled values,
                      pickle::Unpickle(pickle_bytes, path + ":" + pkl_name));

  TensorCatalog catalog;
  catalog.format = Format::kPyTorch;
  catalog.files = {path};
  Flattener flat(zip, prefix, catalog);
  WG_TRY(flat.Visit(*values.root, "", 0));
  return catalog;
}

}  // namespace wg
