#include "policy_source.h"

#include <filesystem>

namespace wg::cli {

Result<policy::Policy> LoadPolicyFrom(const std::string& target) {
  namespace fs = std::filesystem;
  std::error_code ec;
  if (fs::is_directory(target, ec)) {
    fs::path p = fs::path(target) / "policy.yaml";
    if (!fs::exists(p, ec))
      return Error::Usage("no release policy in this package").File(target).Expected("policy.yaml");
    return policy::ReadPolicyFile(p.string());
  }
  return policy::ReadPolicyFile(target);
}

}  // namespace wg::cli
