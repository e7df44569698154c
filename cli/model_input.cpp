#include "model_input.h"

#include <stdlib.h>

#include <filesystem>
#include <nlohmann/json.hpp>

#include "weightgate/core/file.h"
#include "weightgate/core/hash_files.h"
#include "weightgate/formats/tensor_catalog.h"
#include "weightgate/package/package.h"
#include "weightgate/policy/enforce.h"

namespace wg::cli {
namespace {

namespace fs = std::filesystem;

// mkdtemp makes the folder 0700: another user cannot read decrypted weights from it.
Result<std::string> MakePrivateFolder(const std::string& parent) {
  std::error_code ec;
  fs::path base = parent.empty() ? fs::temp_directory_path(ec) : fs::path(parent);
  if (base.empty()) base = ".";
  std::string tmpl = (base / ".wg-input-XXXXXX").string();
  if (!::mkdtemp(tmpl.data())) return Error::FromErrno("cannot create a private folder", tmpl);
  return tmpl;
}

// The model inside an unpacked package: a Hugging Face folder (config.json), else its one
// weights file; a llama2.c tokenizer beside it is picked up.
Status FindModel(const std::string& dir, const std::string& pkg, ModelInput* m) {
  std::error_code ec;
  if (fs::exists(fs::path(dir) / "config.json", ec)) {
    m->path = dir;
    return Ok();
  }
  WG_ASSIGN_OR_RETURN(package::PackageSpec spec, package::DetectSpec(dir));
  std::vector<std::string> weights, tokenizers;
  for (const auto& f : spec.files) {
    if (f.role == package::Role::kWeights) weights.push_back(f.path);
    if (f.role == package::Role::kTokenizer && fs::path(f.path).extension() == ".bin")
      tokenizers.push_back(f.path);
  }
  if (weights.size() != 1) {
    std::string list;
    for (const auto& w : weights) list += (list.empty() ? "" : ", ") + w;
    return Error::Unsupported("the package must hold one weights file or a Hugging Face folder")
        .File(pkg)
        .Expected("one weights file")
        .Found(weights.empty() ? "none" : list);
  }
  m->path = (fs::path(dir) / weights[0]).string();
  if (m->tokenizer.empty() && tokenizers.size() == 1)
    m->tokenizer = (fs::path(dir) / tokenizers[0]).string();
  return Ok();
}

std::string PackageName(const package::PackageInfo& info) {
  const auto& cfg = info.config;
  if (cfg.contains("descriptor") && cfg["descriptor"].is_object()) {
    const auto& d = cfg["descriptor"];
    std::string name =
        d.contains("name") && d["name"].is_string() ? d["name"].get<std::string>() : "";
    std::string version =
        d.contains("version") && d["version"].is_string() ? d["version"].get<std::string>() : "";
    if (!name.empty()) return version.empty() ? name : name + ":" + version;
  }
  return fs::path(info.path).filename().string();
}

Status OpenPackage(const std::string& in, const ModelInputOptions& o, ModelInput* m) {
  WG_ASSIGN_OR_RETURN(package::PackageInfo info, package::Inspect(in));
  WG_ASSIGN_OR_RETURN(m->policy, PackagePolicy(in));
  if (m->policy) {
    WG_TRY(policy::RequireOperation(m->policy->policy, o.operation, m->policy->source));
    WG_TRY(policy::RequireGrant(m->policy->policy, !o.gate.identity.empty(), m->policy->source));
  }
  if (m->policy) WG_TRY(CheckReceipt(*m->policy, o.receipt));
  m->parent_digest = info.manifest_descriptor.digest;
  m->parent_name = PackageName(info);
  WG_ASSIGN_OR_RETURN(m->scratch, MakePrivateFolder(o.scratch_parent));
  package::UnpackOptions u;
  u.output = (fs::path(m->scratch) / "model").string();
  WG_ASSIGN_OR_RETURN(package::UnpackResult r, UnpackGated(in, u, o.gate));
  (void)r;
  return FindModel(u.output, in, m);
}

// The policy a derivative carries in its own metadata (GGUF key or safetensors
// __metadata__ weightgate.policy), so that it binds even when moved without its sidecar.
Result<std::optional<LoadedPolicy>> EmbeddedPolicy(const std::string& file,
                                                   const std::string& tokenizer) {
  auto cat = OpenCatalog(file, OpenOptions{tokenizer});
  if (!cat.ok()) return std::optional<LoadedPolicy>();  // convert itself reports it
  const auto* meta = &cat->metadata;
  if (meta->contains("__metadata__") && (*meta)["__metadata__"].is_object())
    meta = &(*meta)["__metadata__"];
  auto it = meta->find("weightgate.policy");
  if (it == meta->end() || !it->is_string()) return std::optional<LoadedPolicy>();
  WG_ASSIGN_OR_RETURN(LoadedPolicy p,
                      PolicyFromText(it->get<std::string>(), file + ": weightgate.policy"));
  return std::optional<LoadedPolicy>(std::move(p));
}

// A plain file or folder: held to the policy a previous convert left beside it or in it.
Status OpenPlain(const std::string& in, const ModelInputOptions& o, ModelInput* m) {
  if (!o.gate.identity.empty() || !o.gate.grant.empty())
    return Error::Usage("--identity/--grant apply to gated or closed packages only").File(in);
  m->path = in;
  std::error_code ec;
  const bool folder = fs::is_directory(in, ec);
  fs::path beside = folder ? fs::path(in) : fs::path(in).parent_path();
  fs::path pol = beside / kInheritedPolicyFile;
  std::optional<LoadedPolicy> found;
  if (fs::exists(pol, ec)) {
    WG_ASSIGN_OR_RETURN(found, LoadPolicyFrom(pol.string()));
  } else if (!folder) {
    WG_ASSIGN_OR_RETURN(found, EmbeddedPolicy(in, o.tokenizer));
  }
  if (!found) return Ok();
  // The weights are already plaintext here: the operation and the licence still bind.
  WG_TRY(policy::RequireOperation(found->policy, o.operation, found->source));
  WG_TRY(CheckReceipt(*found, o.receipt));
  m->policy = std::move(found);
  m->parent_name = fs::path(in).filename().string();
  if (!folder) {
    WG_ASSIGN_OR_RETURN(Digest d, HashFile(in, HashAlgo::kSha256));
    m->parent_digest = d.Prefixed();
  }
  return Ok();
}

}  // namespace

ModelInput::~ModelInput() {
  std::error_code ec;
  if (!scratch.empty()) fs::remove_all(scratch, ec);
}

Result<std::unique_ptr<ModelInput>> OpenModelInput(const std::string& in,
                                                   const ModelInputOptions& o) {
  auto m = std::make_unique<ModelInput>();
  m->tokenizer = o.tokenizer;
  if (package::IsPackage(in)) {
    WG_TRY(OpenPackage(in, o, m.get()));
  } else {
    WG_TRY(OpenPlain(in, o, m.get()));
  }
  return m;
}

void AddModelInputFlags(CLI::App* cmd, ModelInputOptions* o) {
  cmd->add_option("--identity", o->gate.identity, "Gated/closed package: recipient private key");
  cmd->add_option("--grant", o->gate.grant,
                  "Gated/closed package: grant file (default: the package's grant for you)");
  cmd->add_option("--passphrase-file", o->gate.passphrase_file, "Passphrase of the identity key");
  cmd->add_option("--receipt", o->receipt,
                  "Acceptance receipt (weightgate accept), when the licence requires acceptance");
}

}  // namespace wg::cli
