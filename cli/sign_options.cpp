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

Status LoadTrust(const std::string& pub, const std::vector<std::string>& trust_roots,
                 std::optional<signing::EcKey>* key, signing::TrustPolicy* trust) {
  if (pub.empty() && trust_roots.empty())
    return Error::Usage("verify needs a trusted key or CA")
        .Expected("--pub KEY or --trust-root CA.pem");
  if (!pub.empty()) {
    WG_ASSIGN_OR_RETURN(signing::EcKey k, signing::EcKey::ReadPublicKeyFile(pub));
    *key = std::move(k);
    trust->public_key = &**key;
  }
  for (const auto& r : trust_roots) {
    WG_ASSIGN_OR_RETURN(auto certs, signing::ReadCertificatesPem(r));
    trust->roots.insert(trust->roots.end(), certs.begin(), certs.end());
  }
  return Ok();
}

}  // namespace wg::cli
