// Opening a conversion's input: which format it is, its catalogue, and (for Llama-family
// models) its hyper-parameters, wherever they are kept.
#include <cstring>
#include <filesystem>
#include <map>
#include <set>

#include "convert_internal.h"
#include "weightgate/formats/pytorch.h"
#include "weightgate/formats/safetensors.h"

namespace wg::convert_detail {
namespace {

namespace fs = std::filesystem;

bool EndsWith(const std::string& s, const std::string& suffix) {
  return s.size() >= suffix.size() &&
         s.compare(s.size() - suffix.size(), suffix.size(), suffix) == 0;
}

// The first bytes of a file, or fewer if it is short.
std::string Head(const std::string& path, size_t n) {
  std::string out;
  if (FILE* f = std::fopen(path.c_str(), "rb")) {
    out.resize(n);
    out.resize(std::fread(out.data(), 1, n, f));
    std::fclose(f);
  }
  return out;
}

Status ReadConfig(Source& s, const fs::path& config) {
  WG_ASSIGN_OR_RETURN(std::string text, ReadSmallFile(config.string(), 16 << 20));
  nlohmann::json j = nlohmann::json::parse(text, nullptr, false);
  if (j.is_discarded()) return Error::Malformed("config.json is not JSON").File(config.string());
  Result<LlamaParams> p = LlamaParamsFromHfConfig(j, config.string());
  if (p.ok())
    s.params = *p;
  else
    s.params_error = std::move(p).error();
  return Ok();
}

// pytorch_model.bin.index.json: {"weight_map": {tensor: shard file}}. Each shard is read
// once (in name order) and must hold exactly the tensors the index gives it.
Result<TensorCatalog> ReadPyTorchIndex(const fs::path& index) {
  const std::string path = index.string();
  WG_ASSIGN_OR_RETURN(std::string text, ReadSmallFile(path));
  nlohmann::json j = nlohmann::json::parse(text, nullptr, false);
  if (j.is_discarded() || !j.is_object() || !j.contains("weight_map") ||
      !j["weight_map"].is_object())
    return Error::Malformed("index has no weight_map object").File(path).Field("weight_map");
  std::map<std::string, std::set<std::string>> shards;
  for (auto it = j["weight_map"].begin(); it != j["weight_map"].end(); ++it) {
    if (!it.value().is_string())
      return Error::Malformed("shard name is not a string").File(path).Field(it.key());
    const std::string shard = it.value().get<std::string>();
    if (shard.empty() || shard.find('/') != std::string::npos || shard == "." || shard == "..")
      return Error::Unsafe("shard name leaves the index's folder")
          .File(path)
          .Field(it.key())
          .Found(shard);
    shards[shard].insert(it.key());
  }
  TensorCatalog all;
  all.format = Format::kPyTorch;
  all.files.push_back(path);
  for (const auto& [shard, names] : shards) {
    const std::string shard_path = (index.parent_path() / shard).string();
    WG_ASSIGN_OR_RETURN(TensorCatalog c, ReadPyTorch(shard_path));
    if (c.tensors.size() != names.size())
      return Error::Mismatch("shard holds other tensors than the index lists")
          .File(shard_path)
          .Expected(std::to_string(names.size()) + " tensors")
          .Found(std::to_string(c.tensors.size()));
    for (TensorInfo& t : c.tensors) {
      if (!names.count(t.name))
        return Error::Mismatch("tensor is not in the index for this shard")
            .File(shard_path)
            .Field(t.name);
      all.tensors.push_back(std::move(t));
    }
    all.files.push_back(shard_path);
  }
  return all;
}

Result<TensorCatalog> ReadFolderWeights(const fs::path& dir) {
  if (fs::exists(dir / "model.safetensors.index.json"))
    return ReadSafetensorsIndex((dir / "model.safetensors.index.json").string());
  if (fs::exists(dir / "model.safetensors"))
    return ReadSafetensors((dir / "model.safetensors").string());
  if (fs::exists(dir / "pytorch_model.bin"))
    return ReadPyTorch((dir / "pytorch_model.bin").string());
  if (fs::exists(dir / "pytorch_model.bin.index.json"))
    return ReadPyTorchIndex(dir / "pytorch_model.bin.index.json");
  // Any single *.safetensors file.
  std::vector<fs::path> found;
  std::error_code ec;
  for (const auto& e : fs::directory_iterator(dir, ec))
    if (e.path().extension() == ".safetensors") found.push_back(e.path());
  if (found.size() == 1) return ReadSafetensors(found[0].string());
  return Error::Usage("folder holds no model weights")
      .File(dir.string())
      .Expected("model.safetensors, model.safetensors.index.json, pytorch_model.bin or its index");
}

}  // namespace

Result<Source> OpenSource(const std::string& in, const std::string& tokenizer) {
  Source s;
  s.path = in;
  std::error_code ec;
  if (!fs::exists(in, ec)) return Error::Io("input does not exist").File(in);
  if (fs::is_directory(in, ec)) {
    s.folder = in;
    WG_ASSIGN_OR_RETURN(s.catalog, ReadFolderWeights(in));
    s.format = s.catalog.format;
    if (fs::exists(fs::path(in) / "config.json"))
      WG_TRY(ReadConfig(s, fs::path(in) / "config.json"));
    else
      s.params_error = Error::Usage("folder has no config.json").File(in);
    return s;
  }

  const std::string head = Head(in, 8);
  const fs::path dir =
      fs::path(in).parent_path().empty() ? fs::path(".") : fs::path(in).parent_path();
  if (head.compare(0, 4, "GGUF") == 0) {
    s.format = Format::kGguf;
    WG_ASSIGN_OR_RETURN(GgufFile g, ReadGguf(in));
    s.catalog = g.catalog;
    s.gguf_names = true;
    Result<LlamaParams> p = LlamaParamsFromGguf(g, in);
    if (p.ok())
      s.params = *p;
    else
      s.params_error = std::move(p).error();
    s.gguf = std::move(g);
    return s;
  }
  if (EndsWith(in, ".index.json")) {
    WG_ASSIGN_OR_RETURN(s.catalog, ReadSafetensorsIndex(in));
  } else if (EndsWith(in, ".safetensors")) {
    WG_ASSIGN_OR_RETURN(s.catalog, ReadSafetensors(in));
  } else if (head.compare(0, 4, "PK\x03\x04") == 0) {
    WG_ASSIGN_OR_RETURN(s.catalog, ReadPyTorch(in));
  } else {
    // llama2.c checkpoints carry no magic (legacy) or "ak42" (v1/v2); the reader checks
    // the header against the file size, which rejects anything else.
    Result<Llama2cModel> m = ReadLlama2c(in, tokenizer);
    if (!m.ok())
      return std::move(m).error().File(in).Expected(
          "a GGUF, safetensors, PyTorch zip or llama2.c checkpoint, or a Hugging Face folder");
    s.format = Format::kLlama2c;
    s.catalog = m->catalog;
    s.gguf_names = true;
    WG_ASSIGN_OR_RETURN(s.params, LlamaParamsFromLlama2c(m->config, in));
    s.llama2c_tokenizer = m->tokenizer;
    s.llama2c_tokenizer_path = m->tokenizer_path;
    s.folder = dir.string();
    return s;
  }
  s.format = s.catalog.format;
  // A lone safetensors/PyTorch file may sit in a Hugging Face folder.
  s.folder = dir.string();
  if (fs::exists(dir / "config.json"))
    WG_TRY(ReadConfig(s, dir / "config.json"));
  else
    s.params_error = Error::Usage("no config.json beside the input").File(in);
  return s;
}

std::vector<SourceTensor> SourceTensors(const TensorCatalog& catalog) {
  std::vector<SourceTensor> out;
  uint64_t group = 0;
  if (catalog.format == Format::kLlama2c && catalog.metadata.contains("group_size") &&
      catalog.metadata["group_size"].is_number_integer() &&
      catalog.metadata["group_size"].get<int64_t>() > 0)
    group = catalog.metadata["group_size"].get<uint64_t>();
  for (const TensorInfo& t : catalog.tensors) {
    SourceTensor s{&t};
    if (group && t.dtype == DType::kI8) {
      if (const TensorInfo* sc = catalog.Find(t.name + kLlama2cScalesSuffix)) {
        s.scales = sc;
        s.group_size = group;
      }
    }
    if (group && EndsWith(t.name, kLlama2cScalesSuffix) &&
        catalog.Find(t.name.substr(0, t.name.size() - std::strlen(kLlama2cScalesSuffix))))
      continue;  // folded into its values tensor
    out.push_back(s);
  }
  return out;
}

Result<std::optional<GgufTokenizer>> LoadFolderTokenizer(const std::string& folder) {
  const fs::path dir(folder);
  std::optional<GgufTokenizer> t;
  if (fs::exists(dir / "tokenizer.model")) {
    WG_ASSIGN_OR_RETURN(t, ReadSentencePieceModel((dir / "tokenizer.model").string()));
  } else if (fs::exists(dir / "tokenizer.json")) {
    WG_ASSIGN_OR_RETURN(t, ReadHfTokenizerJson((dir / "tokenizer.json").string()));
  } else {
    return std::optional<GgufTokenizer>();
  }
  WG_TRY(ApplyHfSpecialTokens(folder, &*t));
  return t;
}

}  // namespace wg::convert_detail
