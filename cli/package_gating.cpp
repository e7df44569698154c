#include "package_gating.h"

#include <ctime>
#include <filesystem>

#include "policy_source.h"
#include "weightgate/policy/enforce.h"
#include "weightgate/policy/grant.h"
#include "weightgate/policy/policy.h"
#include "weightgate/policy/receipt.h"
#include "weightgate/policy/seal.h"
#include "weightgate/signing/keys.h"

namespace wg::cli {
namespace fs = std::filesystem;

Result<std::optional<std::string>> SealForPack(const std::string& model_dir,
                                               const std::string& output,
                                               package::PackageSpec* spec,
                                               const GatingPackOptions& o) {
  if (o.policy_file.empty()) {
    if (!o.publisher_key.empty() || !o.recipients.empty())
      return Error::Usage(
          "--publisher-key and --recipient need --policy (a gated or closed release policy)");
    return std::optional<std::string>();
  }
  WG_ASSIGN_OR_RETURN(policy::Policy pol, policy::ReadPolicyFile(o.policy_file));
  bool gated = pol.tier == policy::Tier::kGated || pol.tier == policy::Tier::kClosed;
  if (!gated) {
    if (!o.publisher_key.empty() || !o.recipients.empty())
      return Error::Usage("only gated and closed releases are encrypted")
          .File(o.policy_file)
          .Field("tier")
          .Found(std::string(policy::TierName(pol.tier)));
    return std::optional<std::string>();
  }
  if (o.publisher_key.empty())
    return Error::Usage("a " + std::string(policy::TierName(pol.tier)) +
                        " release is encrypted: pack needs --publisher-key (and --recipient for "
                        "the first recipients)")
        .File(o.policy_file);
  std::optional<std::string> pass;
  if (!o.passphrase_file.empty()) {
    WG_ASSIGN_OR_RETURN(pass, signing::ReadPassphraseFile(o.passphrase_file));
  }
  WG_ASSIGN_OR_RETURN(auto publisher, signing::EcKey::ReadPrivateKeyFile(o.publisher_key, pass));
  policy::SealOptions so;
  so.package = spec->name + ":" + spec->version;
  so.recipient_pubs = o.recipients;
  if (!o.expires.empty()) {
    WG_ASSIGN_OR_RETURN(int64_t t, policy::ParseUtcTime(o.expires));
    so.expires = t;
  }
  std::string sealed = output + ".wg-sealed";
  std::error_code ec;
  fs::remove_all(sealed, ec);
  WG_TRY(policy::SealFolder(model_dir, o.policy_file, sealed, publisher, so,
                            int64_t(std::time(nullptr))));
  auto detected = package::DetectSpec(sealed);
  if (!detected.ok()) {
    fs::remove_all(sealed, ec);
    return std::move(detected).error();
  }
  // Keep the release's name, version, licence and model facts; the files are the sealed ones.
  spec->files = detected->files;
  return std::optional<std::string>(sealed);
}

Result<package::UnpackResult> UnpackGated(const std::string& pkg,
                                          const package::UnpackOptions& options,
                                          const GatingUnpackOptions& g) {
  std::error_code ec;
  if (fs::exists(options.output, ec))
    return Error::Usage("output folder already exists").File(options.output);
  // A sealed release carries its gating record as a file layer.
  WG_ASSIGN_OR_RETURN(package::PackageInfo info, package::Inspect(pkg, options.ref));
  bool sealed = false;
  for (const auto& l : info.layers) sealed = sealed || l.path == policy::kGatingFile;
  if (!sealed) {
    if (!g.grant.empty() || !g.identity.empty())
      return Error::Usage("this package is not encrypted; --identity/--grant are not needed")
          .File(pkg);
    return package::Unpack(pkg, options);
  }
  if (g.identity.empty()) {
    WG_ASSIGN_OR_RETURN(LoadedPolicy loaded, LoadPolicyFrom(pkg));
    WG_TRY(policy::RequireGrant(loaded.policy, false, loaded.source));
    return Error::Denied("this release's weights are encrypted: a grant is needed").File(pkg);
  }
  package::UnpackOptions raw = options;
  raw.output = options.output + ".wg-sealed";
  raw.only.clear();  // the sealed files are opaque until decrypted
  fs::remove_all(raw.output, ec);
  WG_ASSIGN_OR_RETURN(package::UnpackResult r, package::Unpack(pkg, raw));
  (void)r;
  struct Cleanup {
    std::string dir;
    ~Cleanup() {
      std::error_code e;
      fs::remove_all(dir, e);
    }
  } cleanup{raw.output};
  std::optional<std::string> pass;
  if (!g.passphrase_file.empty()) {
    WG_ASSIGN_OR_RETURN(pass, signing::ReadPassphraseFile(g.passphrase_file));
  }
  WG_ASSIGN_OR_RETURN(auto id, policy::RecipientKey::ReadPrivateKeyFile(g.identity, pass));
  std::string grant = g.grant;
  if (grant.empty()) {
    // A recipient admitted at pack time finds their grant inside the package.
    std::string fp = id.Fingerprint();
    for (const auto& e : fs::directory_iterator(fs::path(raw.output) / "grants", ec)) {
      auto gr = policy::ReadGrantFile(e.path().string());
      if (gr.ok() && gr->key.recipient == fp) grant = e.path().string();
    }
    if (grant.empty())
      return Error::Denied("no grant for this identity in the package; a " +
                           (info.policy_tier.empty() ? std::string("gated") : info.policy_tier) +
                           " release needs --grant GRANT from the publisher (access)")
          .File(pkg)
          .Field("access")
          .Found(fp);
  }
  WG_TRY(policy::UnsealFolder(raw.output, options.output, id, grant, int64_t(std::time(nullptr))));
  WG_ASSIGN_OR_RETURN(policy::Gating gating, policy::ReadGating(raw.output));
  package::UnpackResult out;
  for (const auto& f : gating.files) {
    out.files++;
    out.bytes += f.size;
  }
  return out;
}

}  // namespace wg::cli

namespace wg::cli {

Result<std::optional<LoadedPolicy>> PackagePolicy(const std::string& pkg) {
  WG_ASSIGN_OR_RETURN(package::PackageInfo info, package::Inspect(pkg));
  bool has_policy = false;
  for (const auto& l : info.layers) has_policy = has_policy || l.role == "policy";
  if (!has_policy) return std::optional<LoadedPolicy>();
  WG_ASSIGN_OR_RETURN(LoadedPolicy loaded, LoadPolicyFrom(pkg));
  return std::optional<LoadedPolicy>(std::move(loaded));
}

Status CheckAcceptance(const std::string& pkg, const std::string& receipt) {
  WG_ASSIGN_OR_RETURN(std::optional<LoadedPolicy> found, PackagePolicy(pkg));
  if (!found) return Ok();
  return CheckReceipt(*found, receipt);
}

Status CheckReceipt(const LoadedPolicy& loaded, const std::string& receipt) {
  if (!loaded.policy.licence.acceptance_required) return Ok();
  WG_TRY(policy::RequireAcceptance(loaded.policy, !receipt.empty(), loaded.source));
  WG_ASSIGN_OR_RETURN(policy::Receipt r, policy::VerifyReceiptFile(receipt, loaded.digest));
  (void)r;
  return Ok();
}

Result<package::UnpackResult> UnpackChecked(const std::string& pkg,
                                            const package::UnpackOptions& options,
                                            const GatingUnpackOptions& g,
                                            const std::string& receipt) {
  // The grant first: without one a gated or closed release is unreadable (exit 6),
  // whatever else holds; then the licence acceptance (exit 7).
  WG_ASSIGN_OR_RETURN(std::optional<LoadedPolicy> loaded, PackagePolicy(pkg));
  if (loaded) WG_TRY(policy::RequireGrant(loaded->policy, !g.identity.empty(), loaded->source));
  WG_TRY(CheckAcceptance(pkg, receipt));
  return UnpackGated(pkg, options, g);
}

Result<std::string> ExtractSealed(const std::string& pkg, const std::string& scratch) {
  std::error_code ec;
  fs::remove_all(scratch, ec);
  package::UnpackOptions raw;
  raw.output = scratch;
  WG_ASSIGN_OR_RETURN(package::UnpackResult r, package::Unpack(pkg, raw));
  (void)r;
  if (!fs::exists(fs::path(scratch) / policy::kGatingFile, ec)) {
    fs::remove_all(scratch, ec);
    return Error::Usage("this package is not encrypted (not a gated or closed release)").File(pkg);
  }
  return scratch;
}

}  // namespace wg::cli
