// Model packages: a model folder as a ModelPack OCI artifact (docs/package.md).
//
//   weightgate.yaml (PackageSpec)  --Pack-->  OCI layout (folder or .tar)  --Unpack-->  folder
//
// One layer per file, raw (the file's bytes are the blob), its relative path in the
// org.cncf.model.filepath annotation and its role in org.weightgate.file.role; the config
// blob is ModelPack's model config. weightgate's own layers (policy, signature, golden
// record) ride in the same manifest with application/vnd.weightgate.* media types.
#pragma once

#include <cstdint>
#include <optional>
#include <set>
#include <string>
#include <vector>

#include "weightgate/core/error.h"
#include "weightgate/package/oci_layout.h"

namespace wg::package {

enum class Role { kWeights, kConfig, kTokenizer, kLicense, kDocs, kCode, kDataset };
const char* RoleName(Role r);  // "weights", "config", ...
std::optional<Role> RoleFromName(std::string_view name);
// The ModelPack layer media type for a file of this role (raw).
std::string_view RoleMediaType(Role r);

struct FileEntry {
  std::string path;  // relative to the model folder, '/'-separated
  Role role = Role::kDocs;
  std::string description;
};

// Fields of ModelPack's config.config (empty = omitted).
struct ModelInfo {
  std::string family, architecture, format, param_size, precision, quantization;
};

// weightgate.yaml: a Kitfile-like description of what to pack.
struct PackageSpec {
  std::string name;
  std::string version = "0.1.0";
  std::string description;
  std::vector<std::string> authors;
  std::string license;  // SPDX expression
  ModelInfo model;
  std::vector<FileEntry> files;  // sorted by path when packed
};

// Detects the files of a model folder and their roles (by name and extension), and what
// can be said of the model. Skips hidden files and weightgate.yaml itself.
Result<PackageSpec> DetectSpec(const std::string& model_dir);
Result<PackageSpec> LoadSpec(const std::string& yaml_path);
std::string SpecToYaml(const PackageSpec& spec);

// A weightgate layer (policy, signature, golden record) to put in a package.
struct ExtraLayer {
  std::string media_type;  // oci::kWeightgatePolicy, ...
  std::string content;     // small: a YAML or JSON document
  std::string title;       // org.opencontainers.image.title, e.g. "policy.yaml"
};

// The policy layer for a YAML release policy (checked to be a YAML mapping; its meaning is
// the policy library's). `source` names the file for errors.
Result<ExtraLayer> PolicyLayer(const std::string& yaml, const std::string& source);

// Rejects a path from a manifest or spec that could leave the output folder: empty,
// absolute, "..", ".", empty components, backslashes, control characters.
Status CheckRelativePath(const std::string& path);

struct PackOptions {
  std::string output;  // a folder, or a file ending in .tar
  std::string tag;     // index ref name; default: spec.version
  bool reflink = true;
  std::vector<ExtraLayer> extra_layers;
};
struct PackResult {
  oci::Descriptor manifest;
  uint64_t total_bytes = 0;
  size_t files = 0;
};
Result<PackResult> Pack(const std::string& model_dir, const PackageSpec& spec,
                        const PackOptions& options);

struct UnpackOptions {
  std::string output;
  std::set<Role> only;  // empty = every model file
  std::string ref;      // manifest tag; empty = the only one
};
struct UnpackResult {
  size_t files = 0;
  uint64_t bytes = 0;
};
// Verifies every extracted blob's digest and size while it extracts into a temporary
// folder beside `output`, renamed into place only when everything checked out.
Result<UnpackResult> Unpack(const std::string& package, const UnpackOptions& options);

// What inspect shows.
struct LayerInfo {
  oci::Descriptor descriptor;
  std::string path;  // filepath annotation (model files) or title (weightgate layers)
  std::string role;  // role name, or "policy"/"signature"/"golden"/"other"
};
struct PackageInfo {
  std::string path;
  bool tar = false;
  oci::Descriptor manifest_descriptor;
  oci::Manifest manifest;
  nlohmann::ordered_json config;  // the ModelPack config, as stored
  std::vector<LayerInfo> layers;
  std::string policy_tier;       // from the policy layer's `tier:`, "" if none
  std::string signature_status;  // "absent", or "present (not verified)"
  bool has_golden = false;
};
// Reads and checks the index, manifest and config (not the file blobs' contents).
Result<PackageInfo> Inspect(const std::string& package, const std::string& ref = "");

// A folder holding an oci-layout file, or a tar whose first entry is one.
bool IsPackage(const std::string& path);

// Whether a layer is a model file (ModelPack weight/config/doc/code/dataset media type, the
// kind unpack extracts under its filepath annotation) rather than one of weightgate's own.
bool IsModelFileLayer(const oci::Descriptor& d);

// Adds (or replaces, by media type) a weightgate layer in an existing package, rewriting
// its manifest and index atomically. Model layers and the config are kept byte for byte.
// Attestation layers are added beside the ones already there (the same one twice is kept once).
// expected_manifest ("sha256:..."; "" = any): refuse (kMismatch) if the package's manifest
// is no longer that one, e.g. it changed between hashing it for a signature and attaching it.
Result<oci::Descriptor> AttachLayer(const std::string& package, const ExtraLayer& layer,
                                    const std::string& expected_manifest = "");

}  // namespace wg::package
