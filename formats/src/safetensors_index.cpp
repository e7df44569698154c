// Reads a sharded checkpoint (model.safetensors.index.json) as one catalogue.
//
// The index is {"metadata": {...}, "weight_map": {tensor: shard file}}. It is only a
// claim about the shards, so it is checked against them both ways: every tensor the
// index names is in the shard it names, and every tensor of every shard is in the index.
// Shard names come from the file and are confined to the index's folder.
#include <filesystem>
#include <map>
#include <set>
#include <unordered_map>

#include "safetensors_internal.h"
#include "weightgate/formats/safetensors.h"

namespace wg {
namespace {

using Json = nlohmann::ordered_json;

// A relative path below the index's folder: no absolute path, no "..", no "." or empty
// component (which would let two spellings name one shard), no backslash (a separator
// on Windows, where a checkpoint may have been made).
Status CheckShardName(const std::string& shard, const std::string& index_path,
                      const std::string& tensor) {
  bool ok = !shard.empty() && shard.front() != '/' && shard.find('\\') == std::string::npos &&
            shard.find('\0') == std::string::npos;
  for (size_t start = 0; ok && start <= shard.size();) {
    size_t slash = std::min(shard.find('/', start), shard.size());
    std::string_view part(shard.data() + start, slash - start);
    ok = !part.empty() && part != "." && part != "..";
    start = slash + 1;
  }
  if (!ok)
    return Error::Unsafe("shard file name would leave the index's folder or is not a plain path")
        .File(index_path)
        .Field("weight_map." + tensor)
        .Expected("a relative path inside the folder, e.g. model-00001-of-00002.safetensors")
        .Found("'" + shard + "'");
  return Ok();
}

Result<Json> ParseIndex(const std::string& index_path) {
  WG_ASSIGN_OR_RETURN(std::string text, ReadSmallFile(index_path));
  if (auto bad = safetensors_detail::FindInvalidUtf8(text))
    return Error::Malformed("index is not valid UTF-8").File(index_path).Offset(*bad);
  WG_ASSIGN_OR_RETURN(Json doc, safetensors_detail::ParseJsonNoDuplicates(text, index_path, 0));
  if (!doc.is_object())
    return Error::Malformed("index must be a JSON object").File(index_path).Found(doc.type_name());
  auto map = doc.find("weight_map");
  if (map == doc.end() || !map->is_object())
    return Error::Malformed("index has no 'weight_map' object")
        .File(index_path)
        .Field("weight_map");
  for (const auto& [tensor, shard] : map->items()) {
    if (!shard.is_string())
      return Error::Malformed("weight_map values must be shard file names")
          .File(index_path)
          .Field("weight_map." + tensor)
          .Found(shard.dump());
    WG_TRY(CheckShardName(shard.get<std::string>(), index_path, tensor));
  }
  auto meta = doc.find("metadata");
  if (meta != doc.end() && !meta->is_object() && !meta->is_null())
    return Error::Malformed("index 'metadata' must be an object")
        .File(index_path)
        .Field("metadata")
        .Found(meta->type_name());
  return doc;
}

}  // namespace

Result<TensorCatalog> ReadSafetensorsIndex(const std::string& index_path) {
  WG_ASSIGN_OR_RETURN(Json doc, ParseIndex(index_path));
  const Json& weight_map = doc["weight_map"];

  // Each shard is read once; shards go in file-name order, which for the usual
  // model-0000K-of-0000N names is their numbering.
  std::unordered_map<std::string, std::string> shard_of;
  std::map<std::string, std::vector<std::string>> tensors_of;
  for (const auto& [tensor, shard] : weight_map.items()) {
    shard_of.emplace(tensor, shard.get<std::string>());
    tensors_of[shard.get<std::string>()].push_back(tensor);
  }

  TensorCatalog catalog;
  catalog.format = Format::kSafetensors;
  catalog.files = {index_path};
  if (auto meta = doc.find("metadata"); meta != doc.end() && meta->is_object())
    catalog.metadata["metadata"] = *meta;
  Json shard_metadata = Json::object();
  const std::filesystem::path dir = std::filesystem::path(index_path).parent_path();

  for (const auto& [shard, expected] : tensors_of) {
    const std::string shard_path = (dir / shard).string();
    WG_ASSIGN_OR_RETURN(TensorCatalog part, ReadSafetensors(shard_path));
    std::set<std::string> present;
    for (TensorInfo& t : part.tensors) {
      auto it = shard_of.find(t.name);
      if (it == shard_of.end())
        return Error::Mismatch("shard holds a tensor the index does not list")
            .File(shard_path)
            .Field(t.name)
            .Expected("every tensor listed in " + index_path);
      if (it->second != shard)
        return Error::Mismatch("tensor is in a different shard than the index says")
            .File(shard_path)
            .Field(t.name)
            .Expected("in " + it->second + " (per " + index_path + ")")
            .Found("in " + shard);
      present.insert(t.name);
      catalog.tensors.push_back(std::move(t));
    }
    for (const std::string& name : expected)
      if (!present.count(name))
        return Error::Mismatch("index names a tensor its shard does not hold")
            .File(index_path)
            .Field(name)
            .Expected("in " + shard_path)
            .Found("absent");
    catalog.files.push_back(shard_path);
    shard_metadata[shard] =
        part.metadata.contains("__metadata__") ? part.metadata["__metadata__"] : Json();
  }

  // Shards normally share one __metadata__ (e.g. {"format": "pt"}): show it once, and
  // fall back to per-shard maps only when they differ.
  bool same = true;
  for (const auto& [shard, meta] : shard_metadata.items())
    same = same && meta == shard_metadata.begin().value();
  if (!shard_metadata.empty() && same && !shard_metadata.begin()->is_null())
    catalog.metadata["__metadata__"] = *shard_metadata.begin();
  else if (!same)
    catalog.metadata["shard_metadata"] = shard_metadata;
  return catalog;
}

}  // namespace wg
