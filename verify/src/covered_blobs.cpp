// Which blobs of a package its signature covers, and under which OMS resource names.
#include <set>

#include "weightgate/package/package.h"
#include "weightgate/verify/package_signature.h"

namespace wg::verify {
namespace {

constexpr std::string_view kWeightgateMediaPrefix = "application/vnd.weightgate.";

// application/vnd.weightgate.<kind>.v1+<ext> -> ".weightgate/<kind>.<ext>" (".weightgate/<kind>"
// without a +suffix): one name per media type, and a package holds at most one layer of each.
std::string WeightgateLayerName(std::string_view media_type) {
  std::string_view rest = media_type.substr(kWeightgateMediaPrefix.size());
  std::string_view kind = rest.substr(0, rest.find('.'));
  size_t plus = rest.find('+');
  std::string name = std::string(kReservedPrefix) + std::string(kind);
  if (plus != std::string_view::npos) name += "." + std::string(rest.substr(plus + 1));
  return name;
}

}  // namespace

Result<std::vector<CoveredBlob>> CoveredBlobs(const oci::Manifest& m) {
  std::vector<CoveredBlob> out;
  std::set<std::string> names;
  auto add = [&](std::string raw_name, const oci::Descriptor& d, std::string what) -> Status {
    auto name = signing::NormaliseResourcePath(raw_name);
    if (!name.ok()) return std::move(name).error().Field(what);
    if (!names.insert(*name).second)
      return Error::Malformed("two layers would be signed under one name").Field(what).Found(*name);
    out.push_back({std::move(*name), d, std::move(what)});
    return Ok();
  };
  for (size_t i = 0; i < m.layers.size(); ++i) {
    const auto& d = m.layers[i];
    if (d.media_type == oci::kWeightgateSignature || d.media_type == kAttestationMediaType)
      continue;
    std::string path = d.Annotation(oci::kAnnotationFilepath);
    std::string what = "layer " + std::to_string(i) + (path.empty() ? "" : " (" + path + ")");
    if (package::IsModelFileLayer(d)) {
      if (path.empty())
        return Error::Malformed("model-file layer has no " + std::string(oci::kAnnotationFilepath) +
                                " annotation")
            .Field(what);
      Status safe = package::CheckRelativePath(path);
      if (!safe.ok()) return std::move(safe).error().Field(what);
      if (path.rfind(kReservedPrefix, 0) == 0 || path + "/" == kReservedPrefix)
        return Error::Malformed("model file under the name reserved for weightgate's layers")
            .Field(what)
            .Expected("a path outside " + std::string(kReservedPrefix));
      WG_TRY(add(path, d, what));
    } else if (d.media_type.rfind(kWeightgateMediaPrefix, 0) == 0) {
      WG_TRY(add(WeightgateLayerName(d.media_type), d, what));
    } else {
      WG_TRY(oci::ValidateDigest(d.digest));
      WG_TRY(add(
          std::string(kReservedPrefix) + "other/sha256-" + d.digest.substr(d.digest.find(':') + 1),
          d, what));
    }
  }
  WG_TRY(add(std::string(kConfigResource), m.config, "config"));
  return out;
}

}  // namespace wg::verify
