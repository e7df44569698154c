// What each layer of a model manifest is: a model file (and its role) or one of
// weightgate's own layers. Accepts ModelPack's older vnd.cnai prefix too.
#include <filesystem>

#include "package_internal.h"

namespace wg::package::internal {
namespace {

bool StartsWith(std::string_view s, std::string_view p) {
  return s.substr(0, p.size()) == p;
}

std::string Lower(std::string s) {
  for (auto& c : s) c = static_cast<char>(std::tolower(static_cast<unsigned char>(c)));
  return s;
}

// The role of a file in a package written by another tool (no role annotation).
std::string InferRole(std::string_view kind, const std::string& path) {
  std::string name = Lower(std::filesystem::path(path).filename().string());
  if (kind == "weight") return "weights";
  if (kind == "weight.config")
    return (name.rfind("tokenizer", 0) == 0 || name.find("vocab") != std::string::npos ||
            name.find("merges") != std::string::npos || name.find(".model") != std::string::npos ||
            (name.rfind("tok", 0) == 0))
               ? "tokenizer"
               : "config";
  if (kind == "doc")
    return (name.rfind("license", 0) == 0 || name.rfind("licence", 0) == 0 ||
            name.rfind("copying", 0) == 0)
               ? "license"
               : "docs";
  if (kind == "code") return "code";
  if (kind == "dataset") return "dataset";
  return "";
}

}  // namespace

LayerClass ClassifyLayer(const oci::Descriptor& d) {
  LayerClass c;
  const std::string& mt = d.media_type;
  if (mt == oci::kWeightgatePolicy) return {LayerKind::kPolicy, "policy", true};
  if (mt == oci::kWeightgateSignature) return {LayerKind::kSignature, "signature", true};
  if (mt == oci::kWeightgateGolden) return {LayerKind::kGolden, "golden", true};
  if (mt == oci::kWeightgateAttestation) return {LayerKind::kAttestation, "attestation", true};
  std::string_view rest;
  for (std::string_view prefix : {"application/vnd.cncf.model.", "application/vnd.cnai.model."})
    if (StartsWith(mt, prefix)) rest = std::string_view(mt).substr(prefix.size());
  // rest = "<kind>.v1.<fmt>"
  size_t v = rest.find(".v1.");
  if (rest.empty() || v == std::string_view::npos) {
    c.role = "other";
    return c;
  }
  std::string_view kind = rest.substr(0, v), fmt = rest.substr(v + 4);
  std::string path = d.Annotation(oci::kAnnotationFilepath);
  std::string role = d.Annotation(oci::kAnnotationRole);
  if (role.empty() || !RoleFromName(role)) role = InferRole(kind, path);
  if (role.empty()) {
    c.role = "other";
    return c;
  }
  c.kind = LayerKind::kModelFile;
  c.role = RoleName(*RoleFromName(role));
  c.raw = fmt == "raw";
  return c;
}

bool IsModelManifest(const oci::Manifest& m) {
  return m.artifact_type == oci::kModelArtifactType ||
         m.artifact_type == "application/vnd.cnai.model.manifest.v1+json" ||
         m.config.media_type == oci::kModelConfig ||
         m.config.media_type == "application/vnd.cnai.model.config.v1+json";
}

}  // namespace wg::package::internal

namespace wg::package {

bool IsModelFileLayer(const oci::Descriptor& d) {
  return internal::ClassifyLayer(d).kind == internal::LayerKind::kModelFile;
}

}  // namespace wg::package
