// InspectJson and FindLicence: a catalogue described for people and scripts.
#include "weightgate/formats/inspect.h"

#include <algorithm>
#include <cstring>
#include <filesystem>
#include <fstream>
#include <map>

namespace wg {
namespace {

namespace fs = std::filesystem;
using Json = nlohmann::ordered_json;

std::string Lower(std::string s) {
  std::transform(s.begin(), s.end(), s.begin(), [](unsigned char c) { return std::tolower(c); });
  return s;
}

bool NamesLicence(const std::string& key) {
  const std::string k = Lower(key);
  return k.find("license") != std::string::npos || k.find("licence") != std::string::npos;
}

// The folder a model lives in: the path itself when it is one.
fs::path ModelFolder(const std::string& path) {
  std::error_code ec;
  if (fs::is_directory(path, ec)) return path;
  fs::path dir = fs::path(path).parent_path();
  return dir.empty() ? fs::path(".") : dir;
}

std::string FirstLine(const fs::path& file) {
  std::ifstream in(file);
  std::string line;
  for (int i = 0; i < 50 && std::getline(in, line); ++i) {
    line.erase(0, line.find_first_not_of(" \t\r#"));
    while (!line.empty() && (line.back() == '\r' || line.back() == ' ')) line.pop_back();
    if (!line.empty()) return line.substr(0, 200);
  }
  return {};
}

// license, license_name and license_link from a Hugging Face model card's YAML front
// matter (README.md starting with "---"); an empty object when there are none.
Json ModelCardLicence(const fs::path& readme) {
  Json out = Json::object();
  std::ifstream in(readme);
  std::string line;
  if (!std::getline(in, line) || line.rfind("---", 0) != 0) return out;
  for (int i = 0; i < 500 && std::getline(in, line); ++i) {
    if (line.rfind("---", 0) == 0) break;
    for (const char* key : {"license", "license_name", "license_link"}) {
      const std::string prefix = std::string(key) + ":";
      if (line.rfind(prefix, 0) != 0) continue;
      std::string v = line.substr(prefix.size());
      v.erase(0, v.find_first_not_of(" \t\"'"));
      while (!v.empty() && std::strchr(" \t\r\"'", v.back())) v.pop_back();
      if (!v.empty()) out[key] = v;
    }
  }
  return out;
}

void CollectFields(const Json& obj, const std::string& prefix, Json& out) {
  if (!obj.is_object()) return;
  for (const auto& [key, value] : obj.items()) {
    if (NamesLicence(key)) out[prefix + key] = value;
    if (key == "__metadata__" || key == "metadata") CollectFields(value, key + ".", out);
  }
}

}  // namespace

Json FindLicence(const TensorCatalog& cat, const std::string& path) {
  Json out;
  Json fields = Json::object();
  CollectFields(cat.metadata, "", fields);
  out["fields"] = std::move(fields);

  const fs::path dir = ModelFolder(path);
  Json files = Json::array();
  std::vector<fs::path> found;
  std::error_code ec;
  for (const auto& e : fs::directory_iterator(dir, ec)) {
    const std::string name = Lower(e.path().filename().string());
    if (!e.is_regular_file(ec)) continue;
    if (name.rfind("license", 0) == 0 || name.rfind("licence", 0) == 0 ||
        name.rfind("copying", 0) == 0)
      found.push_back(e.path());
  }
  std::sort(found.begin(), found.end());
  for (const fs::path& f : found)
    files.push_back({{"path", f.string()}, {"first_line", FirstLine(f)}});
  if (!files.empty()) out["files"] = std::move(files);
  Json card = ModelCardLicence(dir / "README.md");
  if (!card.empty()) out["model_card"] = std::move(card);
  return out;
}

Json InspectJson(const TensorCatalog& cat, const std::string& path) {
  Json j;
  j["path"] = path;
  j["format"] = FormatName(cat.format);
  Json files = Json::array();
  std::map<std::string, size_t> file_index;
  for (const std::string& f : cat.files) {
    std::error_code ec;
    uint64_t size = fs::file_size(f, ec);
    file_index.emplace(f, files.size());
    files.push_back({{"path", f}, {"bytes", ec ? Json(nullptr) : Json(size)}});
  }
  j["files"] = std::move(files);
  j["tensor_count"] = cat.tensors.size();
  j["parameters"] = cat.ParameterCount();
  j["total_bytes"] = cat.TotalBytes();
  Json dtypes = Json::object();
  for (const TensorInfo& t : cat.tensors) {
    const std::string name(Name(t.dtype));
    dtypes[name] = dtypes.value(name, 0) + 1;
  }
  j["dtypes"] = std::move(dtypes);
  Json tensors = Json::array();
  for (const TensorInfo& t : cat.tensors) {
    Json e;
    e["name"] = t.name;
    e["dtype"] = std::string(Name(t.dtype));
    e["shape"] = t.shape;
    e["offset"] = t.offset;
    e["bytes"] = t.nbytes;
    if (t.file) {
      auto it = file_index.find(t.file->path());
      if (it != file_index.end()) e["file"] = it->second;
    }
    if (!t.contiguous()) e["strides"] = t.strides;
    tensors.push_back(std::move(e));
  }
  j["tensors"] = std::move(tensors);
  j["metadata"] = cat.metadata;
  j["licence"] = FindLicence(cat, path);
  return j;
}

}  // namespace wg
