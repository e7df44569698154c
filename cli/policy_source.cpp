#include "policy_source.h"

#include <filesystem>

#include "weightgate/core/file.h"
#include "weightgate/package/oci_layout.h"
#include "weightgate/package/package.h"

namespace wg::cli {
Result<LoadedPolicy> PolicyFromText(const std::string& text, const std::string& source) {
  WG_ASSIGN_OR_RETURN(policy::Policy p, policy::ParsePolicy(text, source));
  Digest d = HashBytes(HashAlgo::kSha256,
                       Bytes(reinterpret_cast<const uint8_t*>(text.data()), text.size()));
  return LoadedPolicy{std::move(p), d, source, text};
}

Result<LoadedPolicy> LoadPolicyFrom(const std::string& target) {
  namespace fs = std::filesystem;
  std::error_code ec;
  if (package::IsPackage(target)) {
    WG_ASSIGN_OR_RETURN(package::PackageInfo info, package::Inspect(target));
    for (const auto& l : info.layers) {
      if (l.role != "policy") continue;
      WG_ASSIGN_OR_RETURN(auto reader, oci::LayoutReader::Open(target));
      std::string what = target + ": policy layer";
      WG_ASSIGN_OR_RETURN(std::string text, reader->ReadVerified(l.descriptor, what, 1 << 20));
      return PolicyFromText(text, what);
    }
    return Error::Usage("package carries no release policy (pack --policy FILE attaches one)")
        .File(target);
  }
  if (fs::is_directory(target, ec)) {
    fs::path p = fs::path(target) / "policy.yaml";
    if (!fs::exists(p, ec))
      return Error::Usage("no release policy here")
          .File(target)
          .Expected("a package or policy.yaml");
    WG_ASSIGN_OR_RETURN(std::string text, ReadSmallFile(p.string(), 1 << 20));
    return PolicyFromText(text, p.string());
  }
  WG_ASSIGN_OR_RETURN(std::string text, ReadSmallFile(target, 1 << 20));
  return PolicyFromText(text, target);
}

}  // namespace wg::cli
