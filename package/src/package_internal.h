// Pieces shared by pack.cpp, unpack.cpp and inspect.cpp.
#pragma once

#include <string>

#include "weightgate/package/package.h"

namespace wg::package::internal {

// Writes the manifest blob and an index naming it (tagged `tag`), then commits.
Result<PackResult> FinishPackage(oci::LayoutWriter& writer, const oci::Manifest& m,
                                 const std::string& tag, uint64_t total, size_t files);

// A layer's part in a model package.
enum class LayerKind { kModelFile, kPolicy, kSignature, kGolden, kAttestation, kOther };
struct LayerClass {
  LayerKind kind = LayerKind::kOther;
  std::string role;  // role name for model files, else "policy", "signature", ...
  bool raw = true;   // ModelPack .raw (false: tar, tar+gzip, ...)
};
LayerClass ClassifyLayer(const oci::Descriptor& d);

// Whether the manifest is a model manifest (ModelPack, current or older prefix).
bool IsModelManifest(const oci::Manifest& m);

}  // namespace wg::package::internal
