// How pack/unpack apply a release policy's gating to OCI packages.
//
// pack --policy FILE: a gated or closed policy requires --publisher-key; the model folder is
// sealed (policy/seal.h: every file chunk-encrypted, gating record, initial grants) into a
// temporary folder beside the output, and that folder is what gets packed, with the policy
// as its policy layer. unpack: a package holding a gating record needs --identity and
// --grant; it is extracted to a temporary folder (ciphertext only) and unsealed into the
// output, so the output holds plaintext only if every check passed.
#pragma once

#include <optional>
#include <string>
#include <vector>

#include "policy_source.h"
#include "weightgate/core/error.h"
#include "weightgate/package/package.h"

namespace wg::cli {

struct GatingPackOptions {
  std::string policy_file;
  std::string publisher_key;
  std::string passphrase_file;
  std::vector<std::string> recipients;
  std::string expires;
};

// Returns the folder to pack instead of model_dir (a sealed temporary folder) and updates
// `spec` to list its files, or nullopt when the policy does not gate the weights.
Result<std::optional<std::string>> SealForPack(const std::string& model_dir,
                                               const std::string& output,
                                               package::PackageSpec* spec,
                                               const GatingPackOptions& o);

struct GatingUnpackOptions {
  std::string identity;
  std::string grant;
  std::string passphrase_file;
};

// Unpacks `pkg` into `out`, decrypting a gated/closed package with the grant.
Result<package::UnpackResult> UnpackGated(const std::string& pkg,
                                          const package::UnpackOptions& options,
                                          const GatingUnpackOptions& g);

// When the package's policy says `acceptance: required`, a receipt from `weightgate accept`
// for this policy must be given; returns Error::NeedsLicence (exit 7) otherwise.
Status CheckAcceptance(const std::string& pkg, const std::string& receipt);

// The same for a policy already loaded: a receipt signed over this policy's digest.
Status CheckReceipt(const LoadedPolicy& loaded, const std::string& receipt);

// The package's release policy, or nullopt when it carries none.
Result<std::optional<LoadedPolicy>> PackagePolicy(const std::string& pkg);

// unpack: refuses a gated/closed package without an identity (exit 6, naming the access
// clause), then a licence that needs acceptance without a receipt (exit 7), then unpacks
// (UnpackGated).
Result<package::UnpackResult> UnpackChecked(const std::string& pkg,
                                            const package::UnpackOptions& options,
                                            const GatingUnpackOptions& g,
                                            const std::string& receipt);

// Extracts a sealed package's ciphertext, gating record and policy into `scratch` (for
// `grant PKG` on a package). The caller removes it.
Result<std::string> ExtractSealed(const std::string& pkg, const std::string& scratch);

}  // namespace wg::cli
