// Command-line pieces shared by sign and verify.
#pragma once

#include <optional>
#include <string>
#include <vector>

#include "weightgate/core/error.h"
#include "weightgate/signing/keys.h"
#include "weightgate/signing/oms.h"

namespace wg::cli {

// model_signing's --ignore-paths semantics: each path is taken as given (relative to the
// current directory); those inside the model folder become model-relative ignores and the
// rest are dropped.
std::vector<std::string> ModelRelativeIgnores(const std::string& folder,
                                              const std::vector<std::string>& given);

// What verify (and inspect of a package) trusts: --pub KEY, or --trust-root CA.pem...
// `key` owns the public key that trust->public_key points to.
Status LoadTrust(const std::string& pub, const std::vector<std::string>& trust_roots,
                 std::optional<signing::EcKey>* key, signing::TrustPolicy* trust);

}  // namespace wg::cli
