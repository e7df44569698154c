// Media types and annotation keys of a weightgate package.
//
// The manifest and config follow the CNCF ModelPack model-spec (docs/package.md and
// ../shared/reference/oci.md); weightgate's own layers use application/vnd.weightgate.*.
// Readers also accept ModelPack's older vnd.cnai / org.cnai prefixes.
#pragma once

#include <string_view>

namespace wg::oci {

// OCI image-spec.
inline constexpr std::string_view kOciLayoutFile = "oci-layout";
inline constexpr std::string_view kOciLayoutContent = "{\"imageLayoutVersion\":\"1.0.0\"}";
inline constexpr std::string_view kIndexFile = "index.json";
inline constexpr std::string_view kOciIndex = "application/vnd.oci.image.index.v1+json";
inline constexpr std::string_view kOciManifest = "application/vnd.oci.image.manifest.v1+json";
inline constexpr std::string_view kOciEmptyConfig = "application/vnd.oci.empty.v1+json";
inline constexpr std::string_view kAnnotationRefName = "org.opencontainers.image.ref.name";
inline constexpr std::string_view kAnnotationTitle = "org.opencontainers.image.title";

// ModelPack.
inline constexpr std::string_view kModelArtifactType =
    "application/vnd.cncf.model.manifest.v1+json";
inline constexpr std::string_view kModelConfig = "application/vnd.cncf.model.config.v1+json";
inline constexpr std::string_view kModelWeightRaw = "application/vnd.cncf.model.weight.v1.raw";
inline constexpr std::string_view kModelWeightConfigRaw =
    "application/vnd.cncf.model.weight.config.v1.raw";
inline constexpr std::string_view kModelDocRaw = "application/vnd.cncf.model.doc.v1.raw";
inline constexpr std::string_view kModelCodeRaw = "application/vnd.cncf.model.code.v1.raw";
inline constexpr std::string_view kModelDatasetRaw = "application/vnd.cncf.model.dataset.v1.raw";
inline constexpr std::string_view kAnnotationFilepath = "org.cncf.model.filepath";

// weightgate's own layers (payloads defined by later issues; see docs/package.md).
inline constexpr std::string_view kWeightgatePolicy = "application/vnd.weightgate.policy.v1+yaml";
inline constexpr std::string_view kWeightgateSignature =
    "application/vnd.weightgate.signature.v1+json";
inline constexpr std::string_view kWeightgateGolden = "application/vnd.weightgate.golden.v1+json";
// A signed gpu-check result (DSSE envelope of an in-toto statement); a package may hold
// several, one per place it was checked.
inline constexpr std::string_view kWeightgateAttestation =
    "application/vnd.weightgate.attestation.v1+json";
// The role a file plays (weights, config, tokenizer, license, docs, code, dataset):
// ModelPack's media types do not tell a tokenizer from a config, or a licence from docs.
inline constexpr std::string_view kAnnotationRole = "org.weightgate.file.role";

}  // namespace wg::oci
