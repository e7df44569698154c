// Strict reading of YAML mappings: every key must be known, every value the right type,
// and every error names the file and the field path ("restrictions[0].max").
#pragma once

#include <yaml-cpp/yaml.h>

#include <cstdint>
#include <initializer_list>
#include <optional>
#include <set>
#include <string>
#include <vector>

#include "weightgate/core/error.h"

namespace wg::policy::internal {

class YamlReader {
 public:
  YamlReader(std::string source) : source_(std::move(source)) {}

  Error Fail(const std::string& field, const std::string& message, const std::string& expected,
             const YAML::Node& node) const;
  // Refuses keys outside `known`; the node must be a mapping.
  Status CheckMap(const YAML::Node& node, const std::string& path,
                  std::initializer_list<const char*> known) const;
  Result<std::string> String(const YAML::Node& node, const std::string& path) const;
  Result<bool> Bool(const YAML::Node& node, const std::string& path) const;
  Result<uint64_t> Uint(const YAML::Node& node, const std::string& path) const;
  Result<std::vector<std::string>> Strings(const YAML::Node& node, const std::string& path) const;
  // Optional members of a mapping: nullopt when absent.
  Result<std::optional<std::string>> OptString(const YAML::Node& map, const char* key,
                                               const std::string& path) const;
  Result<std::optional<bool>> OptBool(const YAML::Node& map, const char* key,
                                      const std::string& path) const;
  Result<std::optional<uint64_t>> OptUint(const YAML::Node& map, const char* key,
                                          const std::string& path) const;
  Result<std::vector<std::string>> OptStrings(const YAML::Node& map, const char* key,
                                              const std::string& path) const;
  const std::string& source() const { return source_; }

 private:
  std::string source_;
};

std::string Join(const std::string& path, const std::string& key);
// Loads YAML text, mapping parser exceptions to kMalformed with the line.
Result<YAML::Node> LoadYaml(const std::string& text, const std::string& source);

}  // namespace wg::policy::internal
