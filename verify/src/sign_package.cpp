// SignPackage: an OMS bundle over a package's covered blobs, attached as its signature layer.
#include "package_hashing.h"
#include "weightgate/core/file.h"
#include "weightgate/package/package.h"
#include "weightgate/verify/package_signature.h"

namespace wg::verify {

Result<PackageSignResult> SignPackage(const std::string& package, const signing::Signer& signer,
                                      const PackageSignOptions& options) {
  if (!options.serialization.ignore_paths.empty())
    return Error::Usage("a package is signed whole: ignore paths do not apply").File(package);
  PackageSignResult result;
  signing::ModelManifest manifest;
  {
    WG_ASSIGN_OR_RETURN(auto reader, oci::LayoutReader::Open(package));
    if (options.detached_path.empty() && reader->index().manifests.size() != 1)
      return Error::Unsupported("signing into a package needs an index with exactly one manifest")
          .File(package)
          .Found(std::to_string(reader->index().manifests.size()) + " manifests");
    WG_ASSIGN_OR_RETURN(oci::Manifest m, reader->ReadManifest("", &result.package_manifest));
    auto covered = CoveredBlobs(m);
    if (!covered.ok()) return std::move(covered).error().File(package);
    WG_ASSIGN_OR_RETURN(
        internal::HashedPackage hashed,
        internal::HashCoveredBlobs(*reader, *covered, internal::PackageModelName(m, package),
                                   options.serialization));
    if (!hashed.absent.empty())
      return Error::Malformed("blob missing from the package")
          .File(package)
          .Field(hashed.absent.front());
    // Never vouch for bytes the package itself says are something else.
    if (!hashed.inconsistent.empty()) {
      const auto& bad = hashed.inconsistent.front();
      return Error::Mismatch("blob does not match its descriptor; refusing to sign it")
          .File(package)
          .Field(bad.what)
          .Expected(bad.expected)
          .Found(bad.found);
    }
    manifest = std::move(hashed.manifest);
  }  // the package's maps are released before it is rewritten
  WG_ASSIGN_OR_RETURN(result.bundle, signing::SignManifest(manifest, signer));
  if (!options.detached_path.empty()) {
    WG_TRY(WriteFileAtomically(options.detached_path, result.bundle));
  } else {
    package::ExtraLayer layer{std::string(oci::kWeightgateSignature), result.bundle,
                              std::string(kSignatureLayerTitle)};
    WG_ASSIGN_OR_RETURN(result.package_manifest,
                        package::AttachLayer(package, layer, result.package_manifest.digest));
  }
  result.manifest = std::move(manifest);
  return result;
}

}  // namespace wg::verify
