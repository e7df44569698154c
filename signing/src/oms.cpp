#include "weightgate/signing/oms.h"

#include <algorithm>
#include <filesystem>

#include "weightgate/core/file.h"
#include "weightgate/signing/model_hashing.h"
#include "weightgate/signing/statement.h"

namespace wg::signing {
namespace fs = std::filesystem;
namespace {

// The signature path relative to the folder, if it lies inside it.
std::optional<std::string> InsideFolder(const std::string& folder, const std::string& path) {
  std::error_code ec;
  fs::path root = fs::weakly_canonical(fs::absolute(folder), ec);
  fs::path p = fs::weakly_canonical(fs::absolute(path), ec);
  fs::path rel = p.lexically_relative(root);
  if (rel.empty() || *rel.begin() == "..") return std::nullopt;
  return rel.generic_string();
}

void AddUnique(std::vector<std::string>& v, const std::string& s) {
  if (std::find(v.begin(), v.end(), s) == v.end()) v.push_back(s);
}

std::string SignaturePath(const std::string& folder, const std::string& given) {
  return given.empty() ? (fs::path(folder) / kDefaultSignatureName).string() : given;
}

}  // namespace

Result<std::string> SignManifest(const ModelManifest& manifest, const Signer& signer) {
  if (!signer.key || !signer.key->has_private()) return Error::Usage("signing needs a private key");
  Bundle b;
  if (!signer.certificates.empty()) {
    WG_ASSIGN_OR_RETURN(EcKey leaf_key, CertificateKey(signer.certificates[0]));
    if (!leaf_key.SamePublicKey(*signer.key))
      return Error::Usage("the signing certificate is not for this private key")
          .Field("certificate " + CertificateSubject(signer.certificates[0]));
    b.certificates = signer.certificates;
  } else {
    b.has_public_key = true;
    b.key_hint = signer.key->Hint();
  }
  WG_ASSIGN_OR_RETURN(b.payload, StatementJson(manifest));
  b.payload_type = std::string(kInTotoPayloadType);
  WG_ASSIGN_OR_RETURN(b.signature, signer.key->Sign(Pae(kInTotoPayloadType, b.payload)));
  return b.ToJson();
}

Result<ModelManifest> SignModelFolder(const std::string& folder, const Signer& signer,
                                      const FolderSignOptions& options) {
  Serialization s = options.serialization;
  std::string sig_path = SignaturePath(folder, options.signature_path);
  std::vector<std::string> ignores;
  for (const auto& p : s.ignore_paths) {
    WG_ASSIGN_OR_RETURN(std::string norm, NormaliseResourcePath(p));
    AddUnique(ignores, norm);
  }
  if (auto rel = InsideFolder(folder, sig_path)) AddUnique(ignores, *rel);
  if (options.ignore_git_paths)
    for (const auto& g : GitIgnorePaths()) AddUnique(ignores, g);
  s.ignore_paths = ignores;
  WG_ASSIGN_OR_RETURN(ModelManifest m, HashModelFolder(folder, s));
  WG_ASSIGN_OR_RETURN(std::string bundle, SignManifest(m, signer));
  WG_TRY(WriteFileAtomically(sig_path, bundle));
  return m;
}

Result<VerifiedSignature> VerifyBundle(const Bundle& bundle, const TrustPolicy& trust) {
  VerifiedSignature out;
  const EcKey* key = trust.public_key;
  std::optional<EcKey> cert_key;
  if (key) {
    // A key is trusted as itself; any certificates in the bundle are not consulted.
    out.method = "key";
    out.signer = key->Hint();
  } else {
    if (bundle.certificates.empty())
      return Error::Untrusted(
                 "the bundle carries no certificate, so it cannot chain to a trust root")
          .Field("verificationMaterial")
          .Expected("x509CertificateChain (or verify with --pub)");
    WG_TRY(VerifyCertificateChain(bundle.certificates, trust.roots));
    auto k = CertificateKey(bundle.certificates[0]);
    if (!k.ok()) return std::move(k.error().Field("verificationMaterial.x509CertificateChain[0]"));
    cert_key = std::move(*k);
    key = &*cert_key;
    out.method = "certificate";
    out.signer = CertificateSubject(bundle.certificates[0]);
  }

  // model_signing hard-codes the in-toto type in the PAE and checks payloadType afterwards;
  // using the envelope's own type makes an edited payloadType a signature failure as well.
  if (!key->Verify(Pae(bundle.payload_type, bundle.payload), bundle.signature)) {
    if (trust.public_key && bundle.key_hint && *bundle.key_hint != key->Hint())
      return Error::Untrusted("signed by a different key than the one given")
          .Field("verificationMaterial.publicKey.hint")
          .Expected(key->Hint())
          .Found(*bundle.key_hint);
    return Error::BadSignature("signature does not verify over the DSSE envelope")
        .Field("dsseEnvelope.signatures[0].sig")
        .Expected(std::string("ECDSA ") + std::string(CurveName(key->curve())) + " by " +
                  (trust.public_key ? "key " + out.signer : out.signer));
  }
  if (trust.public_key && bundle.key_hint && *bundle.key_hint != key->Hint())
    return Error::Malformed("the key hint names another key than the one that signed")
        .Field("verificationMaterial.publicKey.hint")
        .Expected(key->Hint())
        .Found(*bundle.key_hint);
  if (bundle.payload_type != kInTotoPayloadType)
    return Error::Malformed("unexpected DSSE payload type")
        .Field("dsseEnvelope.payloadType")
        .Expected(std::string(kInTotoPayloadType))
        .Found(bundle.payload_type);
  WG_ASSIGN_OR_RETURN(out.manifest, ManifestFromStatement(bundle.payload));
  return out;
}

namespace {

// Re-hashes the folder the way `signature` says (its ignore paths added to the caller's)
// and compares it with what the signature vouches for.
Result<FolderVerifyReport> CompareFolder(const std::string& folder, const std::string& sig_path,
                                         VerifiedSignature signature,
                                         const FolderVerifyOptions& options) {
  FolderVerifyReport report;
  report.signature = std::move(signature);
  const ModelManifest& expected = report.signature.manifest;
  Serialization s = expected.serialization;
  std::vector<std::string> ignores;
  auto add = [&](const std::string& p) {
    // Ignore paths that would reach outside the folder are meaningless here; skip them.
    auto norm = NormaliseResourcePath(p);
    if (norm.ok()) AddUnique(ignores, *norm);
  };
  for (const auto& p : expected.serialization.ignore_paths) add(p);
  for (const auto& p : options.ignore_paths) add(p);
  if (auto rel = InsideFolder(folder, sig_path)) add(*rel);
  if (options.ignore_git_paths)
    for (const auto& g : GitIgnorePaths()) add(g);
  s.ignore_paths = ignores;
  WG_ASSIGN_OR_RETURN(report.actual, HashModelFolder(folder, s));
  report.diff = CompareManifests(expected, report.actual);
  report.verified =
      expected.resources.size() - report.diff.missing.size() - report.diff.modified.size();
  return report;
}

}  // namespace

Result<FolderVerifyReport> VerifyModelFolder(const std::string& folder, const TrustPolicy& trust,
                                             const FolderVerifyOptions& options) {
  std::string sig_path = SignaturePath(folder, options.signature_path);
  WG_ASSIGN_OR_RETURN(std::string text, ReadSmallFile(sig_path, 256 << 20));
  auto bundle = Bundle::Parse(text);
  if (!bundle.ok()) return std::move(bundle.error().File(sig_path));
  auto verified = VerifyBundle(*bundle, trust);
  if (!verified.ok()) return std::move(verified.error().File(sig_path));
  return CompareFolder(folder, sig_path, std::move(*verified), options);
}

Result<FolderVerifyReport> CheckModelFolderDigests(const std::string& folder,
                                                   const FolderVerifyOptions& options) {
  std::string sig_path = SignaturePath(folder, options.signature_path);
  WG_ASSIGN_OR_RETURN(std::string text, ReadSmallFile(sig_path, 256 << 20));
  auto bundle = Bundle::Parse(text);
  if (!bundle.ok()) return std::move(bundle.error().File(sig_path));
  auto manifest = ManifestFromStatement(bundle->payload);
  if (!manifest.ok()) return std::move(manifest.error().File(sig_path));
  VerifiedSignature claimed;
  claimed.manifest = std::move(*manifest);
  claimed.method = "unverified";
  return CompareFolder(folder, sig_path, std::move(claimed), options);
}

}  // namespace wg::signing
