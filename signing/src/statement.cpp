#include "weightgate/signing/statement.h"

#include <cmath>
#include <nlohmann/json.hpp>
#include <set>

namespace wg::signing {
namespace {

using ojson = nlohmann::ordered_json;
using json = nlohmann::json;

Error Bad(const std::string& field, const std::string& what) {
  return Error::Malformed(what).Field(field);
}

int HexVal(char c) {
  if (c >= '0' && c <= '9') return c - '0';
  if (c >= 'a' && c <= 'f') return c - 'a' + 10;
  if (c >= 'A' && c <= 'F') return c - 'A' + 10;
  return -1;
}

Result<std::vector<uint8_t>> FromHex(const std::string& hex, const std::string& field) {
  if (hex.empty() || hex.size() % 2) return Bad(field, "digest is not hex").Found(hex);
  std::vector<uint8_t> out(hex.size() / 2);
  for (size_t i = 0; i < out.size(); ++i) {
    int hi = HexVal(hex[2 * i]), lo = HexVal(hex[2 * i + 1]);
    if (hi < 0 || lo < 0) return Bad(field, "digest is not hex").Found(hex);
    out[i] = static_cast<uint8_t>(hi << 4 | lo);
  }
  return out;
}

Result<std::string> Str(const json& obj, const char* key, const std::string& path) {
  auto it = obj.find(key);
  if (it == obj.end()) return Bad(path + "." + key, "missing");
  if (!it->is_string()) return Bad(path + "." + key, "not a string");
  return it->get<std::string>();
}

Result<uint64_t> ParseUint(std::string_view s, const std::string& field) {
  if (s.empty() || s.size() > 19) return Bad(field, "not a byte offset").Found(std::string(s));
  uint64_t v = 0;
  for (char c : s) {
    if (c < '0' || c > '9') return Bad(field, "not a byte offset").Found(std::string(s));
    v = v * 10 + static_cast<uint64_t>(c - '0');
  }
  return v;
}

Result<Serialization> ParseSerialization(const json& s) {
  const std::string f = "predicate.serialization";
  if (!s.is_object()) return Bad(f, "missing or not an object");
  Serialization out;
  WG_ASSIGN_OR_RETURN(std::string method, Str(s, "method", f));
  if (method == "files") {
    out.method = SerializationMethod::kFiles;
  } else if (method == "shards") {
    out.method = SerializationMethod::kShards;
  } else {
    return Error::Unsupported("unknown serialization method")
        .Field(f + ".method")
        .Expected("files or shards")
        .Found(method);
  }
  WG_ASSIGN_OR_RETURN(std::string hash, Str(s, "hash_type", f));
  auto algo = HashAlgoFromName(hash);
  if (!algo)
    return Error::Unsupported("hash type not supported by weightgate")
        .Field(f + ".hash_type")
        .Expected("sha256 or blake3")
        .Found(hash);
  out.hash = *algo;
  if (out.method == SerializationMethod::kShards) {
    // model_signing writes shard_size through a protobuf Struct, i.e. as a double.
    auto it = s.find("shard_size");
    if (it == s.end() || !it->is_number()) return Bad(f + ".shard_size", "missing or not a number");
    double d = it->get<double>();
    if (!(d >= 1) || d > 9.007199254740992e15 || std::floor(d) != d)
      return Bad(f + ".shard_size", "not a positive integer").Found(it->dump());
    out.shard_size = it->is_number_integer() ? it->get<uint64_t>() : static_cast<uint64_t>(d);
  }
  if (auto it = s.find("allow_symlinks"); it != s.end()) {
    if (!it->is_boolean()) return Bad(f + ".allow_symlinks", "not a boolean");
    out.allow_symlinks = it->get<bool>();
  }
  if (auto it = s.find("ignore_paths"); it != s.end()) {
    if (!it->is_array()) return Bad(f + ".ignore_paths", "not an array");
    for (const auto& p : *it) {
      if (!p.is_string()) return Bad(f + ".ignore_paths", "entry is not a string");
      out.ignore_paths.push_back(p.get<std::string>());
    }
  }
  return out;
}

}  // namespace

Result<std::string> StatementJson(const ModelManifest& m) {
  const Serialization& s = m.serialization;
  ojson ser = {{"method", SerializationMethodName(s.method)}, {"hash_type", HashAlgoName(s.hash)}};
  if (s.method == SerializationMethod::kShards) ser["shard_size"] = s.shard_size;
  ser["allow_symlinks"] = s.allow_symlinks;
  if (!s.ignore_paths.empty()) ser["ignore_paths"] = s.ignore_paths;
  ojson resources = ojson::array();
  for (const auto& r : m.resources)
    resources.push_back(
        {{"name", r.Name()}, {"algorithm", r.algorithm}, {"digest", r.DigestHex()}});
  ojson st = {
      {"_type", kStatementType},
      {"subject",
       ojson::array({{{"name", m.model_name}, {"digest", {{"sha256", m.RootDigest().Hex()}}}}})},
      {"predicateType", kPredicateType},
      {"predicate", {{"serialization", ser}, {"resources", resources}}}};
  try {
    return st.dump(2);
  } catch (const nlohmann::json::type_error& e) {
    return Error::Unsupported("a file name or the model name is not valid UTF-8")
        .Expected("UTF-8 names (JSON cannot carry raw bytes)");
  }
}

Result<ModelManifest> ManifestFromStatement(std::string_view payload) {
  json j;
  try {
    j = json::parse(payload);
  } catch (const json::parse_error& e) {
    return Error::Malformed(std::string("signed statement is not JSON: ") + e.what())
        .Field("dsseEnvelope.payload")
        .Offset(e.byte);
  } catch (const json::exception& e) {
    // Not only parse_error: a number too large for a double is out_of_range (406).
    return Error::Malformed(std::string("signed statement is not JSON: ") + e.what())
        .Field("dsseEnvelope.payload");
  }
  if (!j.is_object()) return Bad("statement", "not a JSON object");
  WG_ASSIGN_OR_RETURN(std::string type, Str(j, "_type", "statement"));
  if (type != kStatementType)
    return Bad("statement._type", "not an in-toto v1 statement")
        .Expected(std::string(kStatementType))
        .Found(type);
  WG_ASSIGN_OR_RETURN(std::string predicate_type, Str(j, "predicateType", "statement"));
  auto subjects = j.find("subject");
  if (subjects == j.end() || !subjects->is_array()) return Bad("statement.subject", "missing");

  ModelManifest m;
  std::set<std::string> seen;
  auto add = [&](Resource r, const std::string& field) -> Status {
    if (!seen.insert(r.Name()).second) return Bad(field, "duplicate resource").Found(r.Name());
    m.resources.push_back(std::move(r));
    return Ok();
  };

  if (predicate_type == kPredicateTypeV01) {
    // Pre-1.0 layout: one subject per file, SHA-256, no root digest.
    m.model_name = "compat-undefined-not-present";
    size_t i = 0;
    for (const auto& sub : *subjects) {
      std::string f = "statement.subject[" + std::to_string(i++) + "]";
      if (!sub.is_object() || !sub.contains("digest") || !sub["digest"].is_object())
        return Bad(f, "not a resource descriptor");
      WG_ASSIGN_OR_RETURN(std::string name, Str(sub, "name", f));
      WG_ASSIGN_OR_RETURN(std::string hex, Str(sub["digest"], "sha256", f + ".digest"));
      Resource r;
      auto path = NormaliseResourcePath(name);
      if (!path.ok()) return std::move(path.error().Field(f + ".name"));
      r.path = *path;
      r.algorithm = "sha256";
      WG_ASSIGN_OR_RETURN(r.digest, FromHex(hex, f + ".digest.sha256"));
      WG_TRY(add(std::move(r), f));
    }
    return m;
  }
  if (predicate_type != kPredicateType)
    return Bad("statement.predicateType", "not a model_signing predicate")
        .Expected(std::string(kPredicateType))
        .Found(predicate_type);

  if (subjects->size() != 1 || !(*subjects)[0].is_object())
    return Bad("statement.subject", "expected exactly one subject")
        .Found(std::to_string(subjects->size()));
  const json& subject = (*subjects)[0];
  if (auto n = subject.find("name"); n != subject.end() && n->is_string())
    m.model_name = n->get<std::string>();
  if (!subject.contains("digest") || !subject["digest"].is_object())
    return Bad("statement.subject[0].digest", "missing");
  WG_ASSIGN_OR_RETURN(std::string root_hex,
                      Str(subject["digest"], "sha256", "statement.subject[0].digest"));

  auto pred = j.find("predicate");
  if (pred == j.end() || !pred->is_object()) return Bad("statement.predicate", "missing");
  auto ser = pred->find("serialization");
  if (ser == pred->end()) return Bad("predicate.serialization", "missing");
  WG_ASSIGN_OR_RETURN(m.serialization, ParseSerialization(*ser));
  auto res = pred->find("resources");
  if (res == pred->end() || !res->is_array())
    return Bad("predicate.resources", "missing or not an array");
  bool shards = m.serialization.method == SerializationMethod::kShards;
  size_t i = 0;
  for (const auto& item : *res) {
    std::string f = "predicate.resources[" + std::to_string(i++) + "]";
    if (!item.is_object()) return Bad(f, "not an object");
    WG_ASSIGN_OR_RETURN(std::string name, Str(item, "name", f));
    Resource r;
    WG_ASSIGN_OR_RETURN(r.algorithm, Str(item, "algorithm", f));
    WG_ASSIGN_OR_RETURN(std::string hex, Str(item, "digest", f));
    WG_ASSIGN_OR_RETURN(r.digest, FromHex(hex, f + ".digest"));
    std::string path = name;
    if (shards) {
      // "path:start:end"; the offsets are the last two fields (a path may hold ':').
      size_t c2 = name.rfind(':');
      size_t c1 = c2 == std::string::npos || c2 == 0 ? std::string::npos : name.rfind(':', c2 - 1);
      if (c1 == std::string::npos)
        return Bad(f + ".name", "shard name is not path:start:end").Found(name);
      path = name.substr(0, c1);
      WG_ASSIGN_OR_RETURN(r.start, ParseUint(name.substr(c1 + 1, c2 - c1 - 1), f + ".name"));
      WG_ASSIGN_OR_RETURN(r.end, ParseUint(name.substr(c2 + 1), f + ".name"));
      if (r.end <= r.start) return Bad(f + ".name", "shard ends before it starts").Found(name);
      r.is_shard = true;
    }
    auto norm = NormaliseResourcePath(path);
    if (!norm.ok()) return std::move(norm.error().Field(f + ".name"));
    r.path = *norm;
    WG_TRY(add(std::move(r), f));
  }
  std::string computed = m.RootDigest().Hex();
  if (computed != root_hex)
    return Bad("statement.subject[0].digest.sha256",
               "manifest is inconsistent: the resources do not hash to the subject digest")
        .Expected(root_hex)
        .Found(computed);
  return m;
}

}  // namespace wg::signing
