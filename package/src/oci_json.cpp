// JSON of descriptors, manifests and indexes. Serialization uses a fixed key order and
// sorted annotations so that the same content always gives the same bytes (and digest).
#include "weightgate/package/oci_layout.h"

namespace wg::oci {
namespace {

using ojson = nlohmann::ordered_json;

Result<nlohmann::json> ParseObject(std::string_view text, const std::string& where) {
  nlohmann::json j = nlohmann::json::parse(text.begin(), text.end(), nullptr, false);
  if (j.is_discarded()) return Error::Malformed("not valid JSON").File(where);
  if (!j.is_object()) return Error::Malformed("not a JSON object").File(where);
  return j;
}

Result<std::string> GetString(const nlohmann::json& j, const char* key, const std::string& where,
                              bool required) {
  auto it = j.find(key);
  if (it == j.end()) {
    if (required) return Error::Malformed("missing field").File(where).Field(key);
    return std::string();
  }
  if (!it->is_string())
    return Error::Malformed("field is not a string").File(where).Field(key).Found(it->dump());
  return it->get<std::string>();
}

Result<std::map<std::string, std::string>> GetAnnotations(const nlohmann::json& j,
                                                          const std::string& where) {
  std::map<std::string, std::string> out;
  auto it = j.find("annotations");
  if (it == j.end() || it->is_null()) return out;
  if (!it->is_object()) return Error::Malformed("annotations is not an object").File(where);
  for (auto& [k, v] : it->items()) {
    if (!v.is_string())
      return Error::Malformed("annotation value is not a string").File(where).Field(k);
    out[k] = v.get<std::string>();
  }
  return out;
}

Status CheckSchemaVersion(const nlohmann::json& j, const std::string& where) {
  auto it = j.find("schemaVersion");
  if (it == j.end() || !it->is_number_integer() || it->get<int64_t>() != 2)
    return Error::Malformed("unsupported schemaVersion")
        .File(where)
        .Field("schemaVersion")
        .Expected("2")
        .Found(it == j.end() ? "none" : it->dump());
  return Ok();
}

ojson AnnotationsJson(const std::map<std::string, std::string>& a) {
  ojson o = ojson::object();
  for (const auto& [k, v] : a) o[k] = v;
  return o;
}

}  // namespace

Status ValidateDigest(std::string_view digest) {
  auto colon = digest.find(':');
  if (colon == std::string_view::npos)
    return Error::Malformed("digest has no algorithm")
        .Expected("sha256:<64 hex>")
        .Found(std::string(digest.substr(0, 80)));
  if (digest.substr(0, colon) != "sha256")
    return Error::Unsupported("digest algorithm not supported")
        .Expected("sha256")
        .Found(std::string(digest.substr(0, std::min<size_t>(colon, 40))));
  std::string_view hex = digest.substr(colon + 1);
  bool ok = hex.size() == 64;
  for (char c : hex) ok = ok && ((c >= '0' && c <= '9') || (c >= 'a' && c <= 'f'));
  if (!ok)
    return Error::Malformed("malformed sha256 digest")
        .Expected("64 lowercase hex digits")
        .Found(std::string(digest.substr(0, 80)));
  return Ok();
}

std::string Descriptor::Annotation(std::string_view key) const {
  auto it = annotations.find(std::string(key));
  return it == annotations.end() ? std::string() : it->second;
}

ojson Descriptor::ToJson() const {
  ojson o = ojson::object();
  o["mediaType"] = media_type;
  if (!artifact_type.empty()) o["artifactType"] = artifact_type;
  o["digest"] = digest;
  o["size"] = size;
  if (!annotations.empty()) o["annotations"] = AnnotationsJson(annotations);
  return o;
}

Result<Descriptor> Descriptor::FromJson(const nlohmann::json& j, const std::string& where) {
  if (!j.is_object()) return Error::Malformed("descriptor is not an object").File(where);
  Descriptor d;
  WG_ASSIGN_OR_RETURN(d.media_type, GetString(j, "mediaType", where, true));
  WG_ASSIGN_OR_RETURN(d.artifact_type, GetString(j, "artifactType", where, false));
  WG_ASSIGN_OR_RETURN(d.digest, GetString(j, "digest", where, true));
  Status s = ValidateDigest(d.digest);
  if (!s.ok()) return std::move(s).error().File(where).Field("digest");
  auto size = j.find("size");
  if (size == j.end() || !size->is_number_integer() || size->get<int64_t>() < 0)
    return Error::Malformed("size missing or not a non-negative integer")
        .File(where)
        .Field("size")
        .Found(size == j.end() ? "none" : size->dump());
  d.size = size->get<uint64_t>();
  WG_ASSIGN_OR_RETURN(d.annotations, GetAnnotations(j, where));
  return d;
}

std::string Manifest::Serialize() const {
  ojson o = ojson::object();
  o["schemaVersion"] = 2;
  o["mediaType"] = media_type;
  if (!artifact_type.empty()) o["artifactType"] = artifact_type;
  o["config"] = config.ToJson();
  o["layers"] = ojson::array();
  for (const auto& l : layers) o["layers"].push_back(l.ToJson());
  if (subject) o["subject"] = subject->ToJson();
  if (!annotations.empty()) o["annotations"] = AnnotationsJson(annotations);
  return o.dump();
}

Result<Manifest> Manifest::Parse(std::string_view json, const std::string& where) {
  WG_ASSIGN_OR_RETURN(auto j, ParseObject(json, where));
  WG_TRY(CheckSchemaVersion(j, where));
  Manifest m;
  WG_ASSIGN_OR_RETURN(std::string mt, GetString(j, "mediaType", where, false));
  if (!mt.empty() && mt != kOciManifest)
    return Error::Unsupported("not an OCI image manifest")
        .File(where)
        .Field("mediaType")
        .Expected(std::string(kOciManifest))
        .Found(mt);
  WG_ASSIGN_OR_RETURN(m.artifact_type, GetString(j, "artifactType", where, false));
  if (!j.contains("config")) return Error::Malformed("missing field").File(where).Field("config");
  WG_ASSIGN_OR_RETURN(m.config, Descriptor::FromJson(j["config"], where + ": config"));
  auto layers = j.find("layers");
  if (layers == j.end() || !layers->is_array())
    return Error::Malformed("layers missing or not an array").File(where).Field("layers");
  for (size_t i = 0; i < layers->size(); ++i) {
    WG_ASSIGN_OR_RETURN(
        auto d, Descriptor::FromJson((*layers)[i], where + ": layers[" + std::to_string(i) + "]"));
    m.layers.push_back(std::move(d));
  }
  if (j.contains("subject")) {
    WG_ASSIGN_OR_RETURN(auto s, Descriptor::FromJson(j["subject"], where + ": subject"));
    m.subject = std::move(s);
  }
  WG_ASSIGN_OR_RETURN(m.annotations, GetAnnotations(j, where));
  return m;
}

std::string Index::Serialize() const {
  ojson o = ojson::object();
  o["schemaVersion"] = 2;
  o["mediaType"] = kOciIndex;
  o["manifests"] = ojson::array();
  for (const auto& m : manifests) o["manifests"].push_back(m.ToJson());
  if (!annotations.empty()) o["annotations"] = AnnotationsJson(annotations);
  return o.dump();
}

Result<Index> Index::Parse(std::string_view json, const std::string& where) {
  WG_ASSIGN_OR_RETURN(auto j, ParseObject(json, where));
  WG_TRY(CheckSchemaVersion(j, where));
  Index idx;
  auto ms = j.find("manifests");
  if (ms == j.end() || !ms->is_array())
    return Error::Malformed("manifests missing or not an array").File(where).Field("manifests");
  for (size_t i = 0; i < ms->size(); ++i) {
    WG_ASSIGN_OR_RETURN(
        auto d, Descriptor::FromJson((*ms)[i], where + ": manifests[" + std::to_string(i) + "]"));
    idx.manifests.push_back(std::move(d));
  }
  WG_ASSIGN_OR_RETURN(idx.annotations, GetAnnotations(j, where));
  return idx;
}

int64_t SourceDateEpoch() {
  const char* s = std::getenv("SOURCE_DATE_EPOCH");
  if (!s || !*s) return 0;
  char* end = nullptr;
  long long v = std::strtoll(s, &end, 10);
  if (*end != 0 || v < 0) return 0;
  return v;
}

}  // namespace wg::oci
