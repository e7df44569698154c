#include "sign_options.h"

#include <filesystem>

namespace wg::cli {

std::vector<std::string> ModelRelativeIgnores(const std::string& folder,
                                              const std::vector<std::string>& given) {
  namespace fs = std::filesystem;
  std::error_code ec;
  fs::path root = fs::weakly_canonical(fs::absolute(folder), ec);
  std::vector<std::string> out;
  for (const auto& g : given) {
    fs::path p = fs::weakly_canonical(fs::absolute(g), ec);
    fs::path rel = p.lexically_relative(root);
    if (rel.empty() || *rel.begin() == "..") continue;
    out.push_back(rel.generic_string());
  }
  return out;
}

}  // namespace wg::cli
