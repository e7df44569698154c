// Hashing a package's covered blobs for its OMS manifest, straight from the layout's maps.
#pragma once

#include <string>
#include <vector>

#include "weightgate/package/oci_layout.h"
#include "weightgate/signing/manifest.h"
#include "weightgate/verify/package_signature.h"

namespace wg::verify::internal {

// A covered blob whose bytes disagree with its descriptor (size or SHA-256).
struct Inconsistent {
  std::string name;  // resource name
  std::string what;  // "layer 3 (model.bin)"
  std::string expected, found;
};

struct HashedPackage {
  signing::ModelManifest manifest;  // every covered blob present at its declared size
  std::vector<std::string> absent;  // covered names whose blob is not in the layout
  std::vector<Inconsistent> inconsistent;
};

// Hashes each distinct blob once, on every core (core/hash_files.h via HashModelFiles), the
// way `serialization` says, and checks its SHA-256 against its descriptor: for files +
// sha256 the OMS digest is that SHA-256; otherwise a second pass computes it. Layers sharing
// a blob share its digests.
Result<HashedPackage> HashCoveredBlobs(const oci::LayoutReader& reader,
                                       const std::vector<CoveredBlob>& covered,
                                       std::string model_name,
                                       const signing::Serialization& serialization);

// The model name a package's statement carries: its title annotation, else the file name.
std::string PackageModelName(const oci::Manifest& m, const std::string& package);

}  // namespace wg::verify::internal
