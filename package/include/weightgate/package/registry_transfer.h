// push and pull of whole packages: an OCI image layout (folder or .tar) to or from a registry.
//
// Push sends every blob the manifest names (config and layers, straight from the package
// files or from their span inside the .tar; blobs the registry holds are skipped) and then
// the manifest's exact bytes, so the digest on the registry is the package's own.
//
// Pull fetches the manifest (verified against a requested digest), then each blob into a
// staging folder `.<name>.pull` beside the output, hashing while writing. The staging folder
// survives an interrupted pull, and the next pull of the same output continues it (partial
// blobs by Range). Only when everything is verified does the output appear: the staging
// folder is renamed into place (folder output) or written out as one .tar and removed.
#pragma once

#include <string>

#include "weightgate/core/error.h"
#include "weightgate/package/registry.h"

namespace wg::package {

struct PushResult {
  std::string manifest_digest;
  uint64_t manifest_size = 0;
  uint64_t blob_bytes = 0;  // total size of the blobs the manifest names
  TransferStats stats;
};

// `local_tag` picks the manifest in a package whose index lists several (by
// org.opencontainers.image.ref.name); empty = the only (model) manifest.
Result<PushResult> PushPackage(const std::string& package_path, const ImageReference& ref,
                               const RegistryOptions& options, const std::string& local_tag = "");

struct PullResult {
  std::string manifest_digest;
  uint64_t blob_bytes = 0;
  TransferStats stats;
};

// Writes a folder layout, or a .tar when out_path ends with ".tar". Refuses an existing
// out_path. The index entry is tagged with the reference's tag.
Result<PullResult> PullPackage(const ImageReference& ref, const std::string& out_path,
                               const RegistryOptions& options);

// The staging folder a pull of out_path uses (and resumes from).
std::string PullStagingPath(const std::string& out_path);

}  // namespace wg::package
