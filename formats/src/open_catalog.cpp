// DetectFormat and OpenCatalog: from any path a user may name (a file, a sharded
// checkpoint's index, or a folder holding one model) to the right reader.
//
// Detection trusts content over names. Magics first (GGUF, a zip's "PK\3\4", llama2.c's
// "ak42"), then a safetensors header (u64 length that fits the file, then '{'), then a
// legacy llama2.c header, which has no magic and is taken only when its dimensions are
// consistent and predict the file's exact size, then pickles (PROTO 2..5, or a pickle
// extension), which the PyTorch reader refuses or scans without executing them.
#include <algorithm>
#include <cstring>
#include <filesystem>
#include <fstream>
#include <map>
#include <set>

#include "weightgate/formats/gguf.h"
#include "weightgate/formats/llama2c.h"
#include "weightgate/formats/pytorch.h"
#include "weightgate/formats/safetensors.h"
#include "weightgate/formats/tensor_catalog.h"

namespace wg {
namespace {

namespace fs = std::filesystem;
using Json = nlohmann::ordered_json;

// Where a model's bytes are: one file, a safetensors index, or PyTorch shards.
struct Location {
  Format format = Format::kSafetensors;
  enum Kind { kFile, kSafetensorsIndex, kPyTorchShards } kind = kFile;
  std::string path;                               // the file or the index
  std::vector<std::string> shards;                // kPyTorchShards, in name order
  std::map<std::string, std::string> weight_map;  // PyTorch index: tensor -> shard path
};

Location At(Format format, Location::Kind kind, std::string path,
            std::vector<std::string> shards = {}) {
  Location loc;
  loc.format = format;
  loc.kind = kind;
  loc.path = std::move(path);
  loc.shards = std::move(shards);
  return loc;
}

// Up to 16 bytes of the file's start and its size; nullopt if it cannot be read.
struct Head {
  uint8_t bytes[16] = {};
  uint64_t n = 0;
  uint64_t size = 0;
};

std::optional<Head> ReadHead(const std::string& path) {
  std::error_code ec;
  if (!fs::is_regular_file(path, ec)) return std::nullopt;
  Head h;
  h.size = fs::file_size(path, ec);
  if (ec) return std::nullopt;
  std::ifstream f(path, std::ios::binary);
  if (!f) return std::nullopt;
  f.read(reinterpret_cast<char*>(h.bytes), sizeof h.bytes);
  h.n = static_cast<uint64_t>(f.gcount());
  return h;
}

bool StartsWith(const Head& h, const char* magic, size_t n) {
  return h.n >= n && std::memcmp(h.bytes, magic, n) == 0;
}

std::string Lower(std::string s) {
  std::transform(s.begin(), s.end(), s.begin(), [](unsigned char c) { return std::tolower(c); });
  return s;
}

bool HasPickleExtension(const std::string& path) {
  static const std::set<std::string> kExt = {".pkl", ".pickle", ".pt", ".pth", ".ckpt", ".bin"};
  return kExt.count(Lower(fs::path(path).extension().string())) > 0;
}

// The first byte of a pickle written without a PROTO opcode (protocols 0 and 1):
// MARK, EMPTY_DICT, EMPTY_LIST, GLOBAL, EMPTY_TUPLE.
bool LooksLikeOldPickle(const Head& h) {
  return h.n > 0 && std::strchr("(}]c)", h.bytes[0]) != nullptr && h.bytes[0] != 0;
}

std::optional<Format> DetectFile(const std::string& path) {
  auto head = ReadHead(path);
  if (!head) return std::nullopt;
  const Head& h = *head;
  if (StartsWith(h, "GGUF", 4)) return Format::kGguf;
  if (StartsWith(h, "PK\x03\x04", 4)) return Format::kPyTorch;
  if (h.n >= 9) {
    uint64_t header_len = 0;
    std::memcpy(&header_len, h.bytes, 8);
    if (h.bytes[8] == '{' && header_len <= h.size - 8) return Format::kSafetensors;
  }
  if (StartsWith(h, "\x32\x34\x6b\x61", 4)) return Format::kLlama2c;  // "ak42", little-endian
  // A pickle PROTO byte can also begin a legacy llama2.c header (dim = 640 is 80 02 00 00),
  // so llama2.c's exact-size test goes first; a pickle never passes it by accident.
  if (ReadLlama2cConfig(path).ok()) return Format::kLlama2c;
  if (h.n >= 2 && h.bytes[0] == 0x80 && h.bytes[1] >= 2 && h.bytes[1] <= 5) return Format::kPyTorch;
  if (HasPickleExtension(path) && LooksLikeOldPickle(h)) return Format::kPyTorch;
  return std::nullopt;
}

std::vector<std::string> FilesIn(const std::string& dir) {
  std::vector<std::string> out;
  std::error_code ec;
  for (const auto& e : fs::directory_iterator(dir, ec))
    if (e.is_regular_file(ec)) out.push_back(e.path().filename().string());
  std::sort(out.begin(), out.end());
  return out;
}

Error NoModel(const std::string& dir, const std::string& why) {
  return Error::Usage("no model found in folder: " + why)
      .File(dir)
      .Expected(
          "model.safetensors.index.json, one *.safetensors, pytorch_model*.bin, one *.gguf or "
          "one llama2.c checkpoint");
}

// A folder: the files of the one model it holds.
Result<Location> LocateInFolder(const std::string& dir) {
  const std::vector<std::string> names = FilesIn(dir);
  auto with = [&](auto pred) {
    std::vector<std::string> v;
    for (const auto& n : names)
      if (pred(n)) v.push_back((fs::path(dir) / n).string());
    return v;
  };
  auto index = fs::path(dir) / "model.safetensors.index.json";
  if (fs::is_regular_file(index))
    return At(Format::kSafetensors, Location::kSafetensorsIndex, index.string());
  auto st = with([](const std::string& n) { return n.ends_with(".safetensors"); });
  if (st.size() == 1) return At(Format::kSafetensors, Location::kFile, st[0]);
  if (st.size() > 1)
    return NoModel(dir, std::to_string(st.size()) +
                            " .safetensors files and no model.safetensors.index.json; name one");
  auto pt = with(
      [](const std::string& n) { return n.starts_with("pytorch_model") && n.ends_with(".bin"); });
  if (pt.size() == 1) return At(Format::kPyTorch, Location::kFile, pt[0]);
  if (pt.size() > 1) return At(Format::kPyTorch, Location::kPyTorchShards, dir, std::move(pt));
  auto gguf = with([](const std::string& n) { return Lower(n).ends_with(".gguf"); });
  if (gguf.size() == 1) return At(Format::kGguf, Location::kFile, gguf[0]);
  if (gguf.size() > 1) return NoModel(dir, std::to_string(gguf.size()) + " .gguf files; name one");
  auto l2c = with([](const std::string& n) { return n.ends_with(".bin"); });
  std::erase_if(l2c, [](const std::string& p) { return !ReadLlama2cConfig(p).ok(); });
  if (l2c.size() == 1) return At(Format::kLlama2c, Location::kFile, l2c[0]);
  if (l2c.size() > 1)
    return NoModel(dir, std::to_string(l2c.size()) + " llama2.c checkpoints; name one");
  return NoModel(dir, "no file of a supported format");
}

// pytorch_model.bin.index.json: the shards its weight_map names, confined to its folder.
Result<Location> LocatePyTorchIndex(const std::string& index) {
  WG_ASSIGN_OR_RETURN(std::string text, ReadSmallFile(index));
  Json doc = Json::parse(text, nullptr, false);
  if (doc.is_discarded() || !doc.is_object() || !doc.contains("weight_map") ||
      !doc["weight_map"].is_object())
    return Error::Malformed("not a PyTorch shard index: no \"weight_map\" object")
        .File(index)
        .Offset(0);
  std::set<std::string> shards;
  std::map<std::string, std::string> weight_map;
  for (const auto& [name, shard] : doc["weight_map"].items()) {
    if (!shard.is_string())
      return Error::Malformed("weight_map value is not a file name").File(index).Field(name);
    std::string s = shard.get<std::string>();
    if (s.empty() || s.find('/') != std::string::npos || s.find('\\') != std::string::npos ||
        s == "." || s == "..")
      return Error::Malformed("shard name leaves the index's folder")
          .File(index)
          .Field(name)
          .Expected("a file name beside the index")
          .Found(s);
    shards.insert(s);
    weight_map[name] = (fs::path(index).parent_path() / s).string();
  }
  Location loc = At(Format::kPyTorch, Location::kPyTorchShards, index);
  loc.weight_map = std::move(weight_map);
  for (const auto& s : shards) loc.shards.push_back((fs::path(index).parent_path() / s).string());
  return loc;
}

Result<Location> Locate(const std::string& path) {
  std::error_code ec;
  if (!fs::exists(path, ec))
    return Error::Io("no such file or folder").File(path).Expected("an existing path");
  if (fs::is_directory(path, ec)) return LocateInFolder(path);
  const std::string name = fs::path(path).filename().string();
  if (name.ends_with(".safetensors.index.json"))
    return At(Format::kSafetensors, Location::kSafetensorsIndex, path);
  if (name.ends_with(".bin.index.json")) return LocatePyTorchIndex(path);
  if (auto f = DetectFile(path)) return At(*f, Location::kFile, path);
  if (!ReadHead(path)) return Error::Io("cannot read file").File(path);
  // A .bin that is nothing we know is most likely a damaged llama2.c checkpoint: its
  // reader says which header field or size is wrong.
  if (Lower(fs::path(path).extension().string()) == ".bin") {
    auto l2c = ReadLlama2cConfig(path);
    if (!l2c.ok())
      return Error(l2c.error().code(),
                   "not a recognised model file; read as a llama2.c checkpoint: " +
                       l2c.error().message())
          .File(path)
          .Offset(l2c.error().offset().value_or(0))
          .Field(l2c.error().field().value_or("header"))
          .Expected(l2c.error().expected().value_or("a consistent llama2.c header"))
          .Found(l2c.error().found().value_or("?"));
  }
  return Error::Unsupported("not a recognised model file")
      .File(path)
      .Offset(0)
      .Expected("safetensors, GGUF, a PyTorch checkpoint or a llama2.c checkpoint");
}

// PyTorch shards read one by one into one catalogue.
Result<TensorCatalog> ReadPyTorchShards(const Location& loc) {
  TensorCatalog all;
  all.format = Format::kPyTorch;
  if (loc.path != "" && !fs::is_directory(loc.path)) all.files.push_back(loc.path);
  std::set<std::string> seen;
  for (const std::string& shard : loc.shards) {
    WG_ASSIGN_OR_RETURN(TensorCatalog part, ReadPyTorch(shard));
    for (TensorInfo& t : part.tensors) {
      if (!seen.insert(t.name).second)
        return Error::Malformed("tensor appears in two shards").File(shard).Field(t.name);
      if (!loc.weight_map.empty()) {
        auto it = loc.weight_map.find(t.name);
        if (it == loc.weight_map.end() || it->second != shard)
          return Error::Malformed("shard tensor is not where the index says")
              .File(shard)
              .Field(t.name)
              .Expected(it == loc.weight_map.end() ? "listed in " + loc.path : it->second)
              .Found(shard);
      }
      all.tensors.push_back(std::move(t));
    }
    all.files.push_back(shard);
    for (auto& [k, v] : part.metadata.items()) all.metadata[k] = v;
  }
  for (const auto& [name, shard] : loc.weight_map)
    if (!seen.count(name))
      return Error::Malformed("index names a tensor its shard does not hold")
          .File(loc.path)
          .Field(name)
          .Expected("a tensor in " + shard);
  return all;
}

}  // namespace

std::optional<Format> DetectFormat(const std::string& path) {
  auto loc = Locate(path);
  if (!loc.ok()) return std::nullopt;
  return loc->format;
}

Result<TensorCatalog> OpenCatalog(const std::string& path, const OpenOptions& options) {
  WG_ASSIGN_OR_RETURN(Location loc, Locate(path));
  if (loc.kind == Location::kSafetensorsIndex) return ReadSafetensorsIndex(loc.path);
  if (loc.kind == Location::kPyTorchShards) return ReadPyTorchShards(loc);
  switch (loc.format) {
    case Format::kSafetensors:
      return ReadSafetensors(loc.path);
    case Format::kGguf: {
      WG_ASSIGN_OR_RETURN(GgufFile g, ReadGguf(loc.path));
      return std::move(g.catalog);
    }
    case Format::kPyTorch:
      return ReadPyTorch(loc.path);
    case Format::kLlama2c: {
      WG_ASSIGN_OR_RETURN(Llama2cModel m, ReadLlama2c(loc.path, options.tokenizer));
      return std::move(m.catalog);
    }
  }
  return Error::Unsupported("unknown format").File(path);
}

}  // namespace wg
