// Signing and verifying a package (OCI layout folder or .tar) the OMS way.
//
// The signature is an ordinary OMS bundle (signing/oms.h) whose resources are the package's
// layers, named as follows, and which rides in the package as its signature layer:
//
//   model-file layer               its org.cncf.model.filepath (the name unpack writes)
//   application/vnd.weightgate.K.v1+E layer  .weightgate/K.E   (policy -> .weightgate/policy.yaml,
//                                                             golden -> .weightgate/golden.json)
//   the ModelPack config blob      .weightgate/model-config.json
//   any other layer                .weightgate/other/sha256-<hex>
//   the signature layer itself, attestation layers   not covered
//
// So the policy, golden record, gating record and grants (sealed packages carry them as
// file layers) and the config are signed with the weights: an edited or swapped policy
// fails verification. Blobs are hashed from their memory maps (the tar itself, or the blob
// files) on every core; each blob's SHA-256 is also checked against its descriptor, so a
// blob that lies about its digest fails sign, and verify names it. docs/package.md.
#pragma once

#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "weightgate/core/error.h"
#include "weightgate/package/oci_layout.h"
#include "weightgate/signing/manifest.h"
#include "weightgate/signing/oms.h"

namespace wg::verify {

// Resource names reserved for weightgate's layers; no model file may use this prefix.
inline constexpr std::string_view kReservedPrefix = ".weightgate/";
inline constexpr std::string_view kConfigResource = ".weightgate/model-config.json";
// Layers a signature does not cover: itself, and attestations made about the signed package.
inline constexpr std::string_view kAttestationMediaType = oci::kWeightgateAttestation;
// The title of the signature layer.
inline constexpr std::string_view kSignatureLayerTitle = "signature.sigstore.json";

// One blob a package signature covers.
struct CoveredBlob {
  std::string name;            // the OMS resource name (see above)
  oci::Descriptor descriptor;  // the layer's or the config's descriptor
  std::string what;            // "layer 3 (stories260K.bin)" or "config", for messages
};

// The blobs of `m` a signature covers, in manifest order, config last. Reads nothing.
// Refuses (kMalformed) names that collide or that a model file takes from the reserved prefix.
Result<std::vector<CoveredBlob>> CoveredBlobs(const oci::Manifest& m);

struct PackageSignOptions {
  // method, hash, shard size (ignore_paths must be empty: a package has nothing to skip).
  signing::Serialization serialization;
  // Empty: attach the bundle as the package's signature layer (replacing an older one).
  // Otherwise: write the bundle to this file and leave the package untouched.
  std::string detached_path;
};

struct PackageSignResult {
  signing::ModelManifest manifest;   // what was signed
  std::string bundle;                // the Sigstore bundle JSON
  oci::Descriptor package_manifest;  // the package's new manifest (attached) or its current one
};

// Hashes every covered blob (checking each against its descriptor's size and SHA-256),
// signs, and attaches the bundle atomically (refusing if the package changed meanwhile).
Result<PackageSignResult> SignPackage(const std::string& package, const signing::Signer& signer,
                                      const PackageSignOptions& options);

struct PackageVerifyOptions {
  std::string signature_path;  // empty: the package's signature layer
};

struct PackageVerifyReport {
  signing::VerifiedSignature signature;
  signing::ModelManifest actual;  // the package's covered blobs as hashed now
  // missing: signed, but the layer (or its blob) is gone; extra: a layer the signature does
  // not cover; modified: bytes differ from what was signed, or from the layer's descriptor.
  signing::ManifestDiff diff;
  std::vector<std::string> inconsistent;  // layers whose blob disagrees with its descriptor
  size_t verified = 0;                    // resources whose digest matched
};

// Reads the signature (layer or file), checks it like a folder's (VerifyBundle), hashes every
// covered blob again the way the bundle says and compares. A content mismatch is reported in
// diff, not as an error. A package without a signature layer is kUsage ("not signed").
Result<PackageVerifyReport> VerifyPackage(const std::string& package,
                                          const signing::TrustPolicy& trust,
                                          const PackageVerifyOptions& options);

// What `inspect` says about a package's signature without verifying it.
struct SignatureSummary {
  bool present = false;
  std::string method;  // "key" or "certificate"
  std::string signer;  // the key hint (hex SHA-256 of the public key PEM) or the leaf's subject
  size_t resources = 0;
  std::string problem;  // non-empty: the layer is there but cannot be read as a bundle
};
Result<SignatureSummary> DescribePackageSignature(const std::string& package);

}  // namespace wg::verify
