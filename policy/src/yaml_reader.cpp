#include "yaml_reader.h"

namespace wg::policy::internal {

std::string Join(const std::string& path, const std::string& key) {
  return path.empty() ? key : path + "." + key;
}

Result<YAML::Node> LoadYaml(const std::string& text, const std::string& source) {
  try {
    return YAML::Load(text);
  } catch (const YAML::Exception& e) {
    return Error::Malformed("not valid YAML: " + e.msg + " (line " +
                            std::to_string(e.mark.line + 1) + ")")
        .File(source);
  }
}

Error YamlReader::Fail(const std::string& field, const std::string& message,
                       const std::string& expected, const YAML::Node& node) const {
  std::string where;
  if (node.IsDefined() && node.Mark().line >= 0)
    where = " (line " + std::to_string(node.Mark().line + 1) + ")";
  Error e = Error::Malformed(message + where).File(source_).Field(field);
  if (!expected.empty()) e.Expected(expected);
  if (node.IsDefined() && node.IsScalar()) e.Found(node.Scalar());
  return e;
}

Status YamlReader::CheckMap(const YAML::Node& node, const std::string& path,
                            std::initializer_list<const char*> known) const {
  if (!node.IsMap())
    return Fail(path.empty() ? "(document)" : path, "must be a mapping", "a mapping", node);
  std::set<std::string> ok(known.begin(), known.end());
  for (const auto& kv : node) {
    std::string key = kv.first.IsScalar() ? kv.first.Scalar() : "?";
    if (!ok.count(key)) {
      std::string list;
      for (const char* k : known) list += (list.empty() ? "" : ", ") + std::string(k);
      return Fail(Join(path, key), "unknown key", "one of: " + list, kv.first);
    }
  }
  return Ok();
}

Result<std::string> YamlReader::String(const YAML::Node& node, const std::string& path) const {
  if (!node.IsScalar()) return Fail(path, "must be a string", "a string", node);
  return node.Scalar();
}

Result<bool> YamlReader::Bool(const YAML::Node& node, const std::string& path) const {
  if (!node.IsScalar()) return Fail(path, "must be true or false", "true or false", node);
  const std::string& s = node.Scalar();
  if (s == "true") return true;
  if (s == "false") return false;
  return Fail(path, "must be true or false", "true or false", node);
}

Result<uint64_t> YamlReader::Uint(const YAML::Node& node, const std::string& path) const {
  if (!node.IsScalar()) return Fail(path, "must be a non-negative integer", "an integer", node);
  std::string s = node.Scalar();
  std::string digits;
  for (char c : s)
    if (c != '_') digits += c;  // 700_000_000 reads as it should
  if (digits.empty() || digits.size() > 19 ||
      digits.find_first_not_of("0123456789") != std::string::npos)
    return Fail(path, "must be a non-negative integer", "an integer", node);
  return std::stoull(digits);
}

Result<std::vector<std::string>> YamlReader::Strings(const YAML::Node& node,
                                                     const std::string& path) const {
  if (node.IsScalar()) return std::vector<std::string>{node.Scalar()};
  if (!node.IsSequence()) return Fail(path, "must be a list of strings", "a list", node);
  std::vector<std::string> out;
  for (size_t i = 0; i < node.size(); ++i) {
    WG_ASSIGN_OR_RETURN(auto s, String(node[i], path + "[" + std::to_string(i) + "]"));
    out.push_back(std::move(s));
  }
  return out;
}

Result<std::optional<std::string>> YamlReader::OptString(const YAML::Node& map, const char* key,
                                                         const std::string& path) const {
  YAML::Node n = map[key];
  if (!n.IsDefined() || n.IsNull()) return std::optional<std::string>();
  WG_ASSIGN_OR_RETURN(auto s, String(n, Join(path, key)));
  return std::optional<std::string>(std::move(s));
}

Result<std::optional<bool>> YamlReader::OptBool(const YAML::Node& map, const char* key,
                                                const std::string& path) const {
  YAML::Node n = map[key];
  if (!n.IsDefined() || n.IsNull()) return std::optional<bool>();
  WG_ASSIGN_OR_RETURN(bool b, Bool(n, Join(path, key)));
  return std::optional<bool>(b);
}

Result<std::optional<uint64_t>> YamlReader::OptUint(const YAML::Node& map, const char* key,
                                                    const std::string& path) const {
  YAML::Node n = map[key];
  if (!n.IsDefined() || n.IsNull()) return std::optional<uint64_t>();
  WG_ASSIGN_OR_RETURN(uint64_t v, Uint(n, Join(path, key)));
  return std::optional<uint64_t>(v);
}

Result<std::vector<std::string>> YamlReader::OptStrings(const YAML::Node& map, const char* key,
                                                        const std::string& path) const {
  YAML::Node n = map[key];
  if (!n.IsDefined() || n.IsNull()) return std::vector<std::string>();
  return Strings(n, Join(path, key));
}

}  // namespace wg::policy::internal
