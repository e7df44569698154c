// Signing and verifying models the OpenSSF Model Signing (OMS) way, offline methods:
// an EC key (bundle carries a key hint) or an EC key with an X.509 certificate chain.
//
// Sign:   manifest -> in-toto statement -> DSSE PAE -> ECDSA -> Sigstore bundle JSON.
// Verify: bundle -> trust (key hint / certificate chain) -> ECDSA over the PAE ->
//         statement -> expected manifest; then hash the model again the way the bundle
//         says and compare. The manifest is the only thing crossing from hashing to here,
//         so a package can sign any file list (HashModelFiles) with SignManifest.
#pragma once

#include <optional>
#include <string>
#include <vector>

#include "weightgate/core/error.h"
#include "weightgate/signing/bundle.h"
#include "weightgate/signing/keys.h"
#include "weightgate/signing/manifest.h"

namespace wg::signing {

// The bundle file model_signing writes beside the model's files.
inline constexpr std::string_view kDefaultSignatureName = "model.sig";

// Who may sign. certificates empty: the key method (bundle carries publicKey.hint).
// Otherwise certificates[0] is the signer's certificate (its key must be `key`) and the
// rest its chain, stored in the bundle in this order.
struct Signer {
  const EcKey* key = nullptr;
  std::vector<Certificate> certificates;
};

// The Sigstore bundle (JSON text) signing this manifest.
Result<std::string> SignManifest(const ModelManifest& manifest, const Signer& signer);

struct FolderSignOptions {
  // method, hash, shard size; ignore_paths are the caller's extra model-relative ignores.
  Serialization serialization;
  bool ignore_git_paths = true;  // .git .gitattributes .github .gitignore, like model_signing
  std::string signature_path;    // empty: <folder>/model.sig
};

// Hashes the folder (leaving out the signature file, git paths and ignores, all recorded in
// the predicate), signs it and writes the bundle atomically. Returns the signed manifest.
Result<ModelManifest> SignModelFolder(const std::string& folder, const Signer& signer,
                                      const FolderSignOptions& options);

// What a verifier trusts: one public key, or certificate roots.
struct TrustPolicy {
  const EcKey* public_key = nullptr;
  std::vector<Certificate> roots;
};

struct VerifiedSignature {
  ModelManifest manifest;  // what the signer vouched for
  std::string method;      // "key" or "certificate"
  std::string signer;      // key hint, or the signing certificate's subject
};

// Checks the bundle's signature and trust and returns the manifest it vouches for.
// Errors: kBadSignature (signature does not verify), kUntrusted (signed by another key,
// certificate chain or key usage rejected), kMalformed/kUnsupported (bundle or statement).
Result<VerifiedSignature> VerifyBundle(const Bundle& bundle, const TrustPolicy& trust);

struct FolderVerifyOptions {
  std::string signature_path;             // empty: <folder>/model.sig
  std::vector<std::string> ignore_paths;  // extra model-relative ignores
  bool ignore_git_paths = true;
};

struct FolderVerifyReport {
  VerifiedSignature signature;
  ModelManifest actual;  // the folder as hashed now
  ManifestDiff diff;     // empty: the folder is exactly what was signed
  size_t verified = 0;   // resources whose digest matched
};

// VerifyBundle on the folder's signature, then re-hashes the folder with the bundle's
// serialization (its ignore paths added to the caller's) and compares. A content mismatch
// is reported in diff, not as an error.
Result<FolderVerifyReport> VerifyModelFolder(const std::string& folder, const TrustPolicy& trust,
                                             const FolderVerifyOptions& options);

// The same comparison against the manifest the signature file CLAIMS, without checking who
// signed it (signature.method "unverified", signer empty): it finds corruption, not
// tampering, for a caller that holds no trusted key (validate without --pub).
Result<FolderVerifyReport> CheckModelFolderDigests(const std::string& folder,
                                                   const FolderVerifyOptions& options);

}  // namespace wg::signing
