// Inspect: what a package holds, from its index, manifest and config (file blobs are
// listed, not read: inspecting a 100 GB package is instant; unpack verifies them).
#include <fcntl.h>
#include <sys/stat.h>
#include <unistd.h>
#include <yaml-cpp/yaml.h>

#include <cstring>

#include "package_internal.h"

namespace wg::package {

bool IsPackage(const std::string& path) {
  struct stat st {};
  if (::stat(path.c_str(), &st) != 0) return false;
  if (S_ISDIR(st.st_mode)) {
    struct stat ls {};
    return ::lstat((path + "/" + std::string(oci::kOciLayoutFile)).c_str(), &ls) == 0 &&
           S_ISREG(ls.st_mode);
  }
  if (!S_ISREG(st.st_mode) || st.st_size < 512) return false;
  int fd = ::open(path.c_str(), O_RDONLY | O_CLOEXEC);
  if (fd < 0) return false;
  char h[512];
  bool ok = ::pread(fd, h, sizeof h, 0) == static_cast<ssize_t>(sizeof h);
  ::close(fd);
  return ok && std::memcmp(h + 257, "ustar", 5) == 0;  // a tar (ustar, pax or GNU)
}

Result<PackageInfo> Inspect(const std::string& package, const std::string& ref) {
  WG_ASSIGN_OR_RETURN(auto reader, oci::LayoutReader::Open(package));
  PackageInfo info;
  info.path = package;
  info.tar = reader->is_tar();
  WG_ASSIGN_OR_RETURN(info.manifest, reader->ReadManifest(ref, &info.manifest_descriptor));
  const auto& m = info.manifest;
  if (!internal::IsModelManifest(m))
    return Error::Unsupported("not a model package (artifactType and config are not ModelPack's)")
        .File(package)
        .Found(m.artifact_type.empty() ? m.config.media_type : m.artifact_type);
  WG_ASSIGN_OR_RETURN(std::string config, reader->ReadVerified(m.config, "config", 4 << 20));
  info.config = nlohmann::ordered_json::parse(config, nullptr, false);
  if (info.config.is_discarded() || !info.config.is_object())
    return Error::Malformed("model config is not a JSON object").File(package).Field("config");
  info.signature_status = "absent";
  for (size_t i = 0; i < m.layers.size(); ++i) {
    const auto& d = m.layers[i];
    auto c = internal::ClassifyLayer(d);
    LayerInfo l;
    l.descriptor = d;
    l.role = c.role;
    l.path = d.Annotation(oci::kAnnotationFilepath);
    if (l.path.empty()) l.path = d.Annotation(oci::kAnnotationTitle);
    std::string what = "layer " + std::to_string(i) + (l.path.empty() ? "" : " (" + l.path + ")");
    if (c.kind == internal::LayerKind::kPolicy) {
      WG_ASSIGN_OR_RETURN(std::string text, reader->ReadVerified(d, what, 1 << 20));
      try {
        YAML::Node n = YAML::Load(text);
        if (n.IsMap() && n["tier"]) info.policy_tier = n["tier"].as<std::string>();
      } catch (const YAML::Exception& e) {
        return Error::Malformed("policy layer is not valid YAML: " + e.msg)
            .File(package)
            .Field(what);
      }
      if (info.policy_tier.empty()) info.policy_tier = "(no tier)";
    } else if (c.kind == internal::LayerKind::kSignature) {
      WG_TRY(reader->Blob(d, what));
      info.signature_status = "present (not verified; run weightgate verify)";
    } else if (c.kind == internal::LayerKind::kGolden) {
      info.has_golden = true;
    }
    info.layers.push_back(std::move(l));
  }
  return info;
}

}  // namespace wg::package
