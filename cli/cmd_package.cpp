// weightgate init / pack / unpack, and inspect of a package.
#include "cmd_package.h"

#include <cstdio>
#include <filesystem>
#include <nlohmann/json.hpp>
#include <sstream>

#include "model_input.h"
#include "package_gating.h"
#include "sign_options.h"
#include "weightgate/package/package.h"
#include "weightgate/policy/policy.h"
#include "weightgate/verify/golden_package.h"
#include "weightgate/verify/package_signature.h"

namespace wg::cli {
namespace {

namespace fs = std::filesystem;
using ojson = nlohmann::ordered_json;

std::string HumanBytes(uint64_t n) {
  const char* unit[] = {"B", "KB", "MB", "GB", "TB"};
  double v = static_cast<double>(n);
  int i = 0;
  while (v >= 1000 && i < 4) {
    v /= 1000;
    ++i;
  }
  char buf[32];
  std::snprintf(buf, sizeof buf, i == 0 ? "%.0f %s" : "%.1f %s", v, unit[i]);
  return buf;
}

Result<package::PackageSpec> SpecFor(const std::string& model_dir, const std::string& manifest) {
  if (!manifest.empty()) return package::LoadSpec(manifest);
  std::string beside = (fs::path(model_dir) / "weightgate.yaml").string();
  if (fs::exists(beside)) return package::LoadSpec(beside);
  return package::DetectSpec(model_dir);
}

Result<std::set<package::Role>> ParseOnly(const std::string& list) {
  std::set<package::Role> out;
  std::stringstream ss(list);
  std::string item;
  while (std::getline(ss, item, ',')) {
    if (item.empty()) continue;
    auto r = package::RoleFromName(item);
    if (!r)
      return Error::Usage("unknown role in --only")
          .Expected("weights, config, tokenizer, license, docs, code, dataset")
          .Found(item);
    out.insert(*r);
  }
  return out;
}

bool HasGolden(const package::PackOptions& o) {
  for (const auto& l : o.extra_layers)
    if (l.media_type == oci::kWeightgateGolden) return true;
  return false;
}

int RunInit(const std::string& dir, std::string out, bool force, bool quiet) {
  auto spec = package::DetectSpec(dir);
  if (!spec.ok()) return ReportError(spec.error());
  if (out.empty()) out = (fs::path(dir) / "weightgate.yaml").string();
  if (!force && fs::exists(out))
    return ReportError(Error::Usage("already exists (use --force to overwrite)").File(out));
  Status s = WriteFileAtomically(out, package::SpecToYaml(*spec));
  if (!s.ok()) return ReportError(s.error());
  if (!quiet) {
    std::map<std::string, int> roles;
    for (const auto& f : spec->files) roles[package::RoleName(f.role)]++;
    std::string summary;
    for (const auto& [r, n] : roles)
      summary += (summary.empty() ? "" : ", ") + std::to_string(n) + " " + r;
    std::printf("wrote %s: %zu files (%s)\n", out.c_str(), spec->files.size(), summary.c_str());
  }
  return kExitOk;
}

// The signature's state as inspect shows it: who signed (unverified), or the outcome of
// verifying it when a key or trust root was given.
struct SignatureState {
  std::string line;  // the text after "signature  "
  ojson json;
};

SignatureState DescribeSignature(const std::string& path, const InspectTrust& given) {
  SignatureState st;
  st.json = ojson::object();
  auto summary = verify::DescribePackageSignature(path);
  if (!summary.ok()) {
    st.line = "unreadable: " + summary.error().ToString();
    st.json["present"] = nullptr;
    st.json["error"] = summary.error().ToString();
    return st;
  }
  st.json["present"] = summary->present;
  if (!summary->present) {
    st.line = "absent";
    return st;
  }
  st.json["method"] = summary->method;
  st.json["signer"] = summary->signer;
  st.json["resources"] = summary->resources;
  if (!summary->problem.empty()) {
    st.line = "present but unreadable: " + summary->problem;
    st.json["verified"] = false;
    st.json["error"] = summary->problem;
    return st;
  }
  std::string who = summary->method + " " + summary->signer;
  if (given.pub.empty() && given.trust_roots.empty()) {
    st.line = "present, " + who + ", " + std::to_string(summary->resources) +
              " resources (not verified: inspect --pub KEY, or weightgate verify)";
    st.json["verified"] = nullptr;
    return st;
  }
  std::optional<signing::EcKey> key;
  signing::TrustPolicy trust;
  Status loaded = LoadTrust(given.pub, given.trust_roots, &key, &trust);
  Result<verify::PackageVerifyReport> r = loaded.ok()
                                              ? verify::VerifyPackage(path, trust, {})
                                              : Result<verify::PackageVerifyReport>(loaded.error());
  if (!r.ok()) {
    st.line = "INVALID: " + r.error().ToString();
    st.json["verified"] = false;
    st.json["error"] = r.error().ToString();
  } else if (!r->diff.empty()) {
    st.line = "INVALID: content does not match (" + r->diff.Describe() + ")";
    st.json["verified"] = false;
    st.json["error"] = r->diff.Describe();
  } else {
    st.line = "verified, " + r->signature.method + " " + r->signature.signer + ", " +
              std::to_string(r->verified) + " resources";
    st.json["verified"] = true;
  }
  return st;
}

}  // namespace

bool IsPackage(const std::string& path) {
  return package::IsPackage(path);
}

int InspectPackageVerb(const std::string& path, bool json, const InspectTrust& trust) {
  auto info = package::Inspect(path);
  if (!info.ok()) return ReportError(info.error());
  SignatureState sig = DescribeSignature(path, trust);
  const auto& cfg = info->config;
  auto field = [&](const char* obj, const char* key) -> std::string {
    if (cfg.contains(obj) && cfg[obj].is_object() && cfg[obj].contains(key) &&
        cfg[obj][key].is_string())
      return cfg[obj][key].get<std::string>();
    return "";
  };
  std::vector<std::string> licenses;
  if (cfg.contains("descriptor") && cfg["descriptor"].contains("licenses") &&
      cfg["descriptor"]["licenses"].is_array())
    for (const auto& l : cfg["descriptor"]["licenses"])
      if (l.is_string()) licenses.push_back(l.get<std::string>());
  uint64_t total = 0;
  for (const auto& l : info->layers) total += l.descriptor.size;
  if (json) {
    ojson j = ojson::object();
    j["path"] = path;
    j["form"] = info->tar ? "tar" : "folder";
    ojson m = info->manifest_descriptor.ToJson();
    if (!info->manifest.annotations.empty()) m["manifestAnnotations"] = info->manifest.annotations;
    j["manifest"] = m;
    j["config"] = cfg;
    j["configDigest"] = info->manifest.config.digest;
    j["files"] = ojson::array();
    j["layers"] = ojson::array();
    for (const auto& l : info->layers) {
      ojson e = ojson::object();
      e["path"] = l.path;
      e["role"] = l.role;
      e["size"] = l.descriptor.size;
      e["digest"] = l.descriptor.digest;
      e["mediaType"] = l.descriptor.media_type;
      bool model_file = package::RoleFromName(l.role).has_value();
      j[model_file ? "files" : "layers"].push_back(e);
    }
    j["totalBytes"] = total;
    j["licenses"] = licenses;
    j["policy"] = info->policy_tier.empty() ? ojson(nullptr) : ojson({{"tier", info->policy_tier}});
    j["signature"] = info->signature_status;
    j["signatureInfo"] = sig.json;
    j["golden"] = info->has_golden;
    std::printf("%s\n", j.dump(2).c_str());
    return kExitOk;
  }
  std::printf("package    %s %s (%s, %s)\n", field("descriptor", "name").c_str(),
              field("descriptor", "version").c_str(), info->tar ? "tar" : "folder", path.c_str());
  std::printf("manifest   %s (%llu bytes)\n", info->manifest_descriptor.digest.c_str(),
              static_cast<unsigned long long>(info->manifest_descriptor.size));
  std::printf("config     %s\n", info->manifest.config.digest.c_str());
  std::string model;
  for (const char* k : {"family"})
    if (!field("descriptor", k).empty())
      model += std::string(k) + "=" + field("descriptor", k) + " ";
  for (const char* k : {"architecture", "format", "paramSize", "precision", "quantization"})
    if (!field("config", k).empty()) model += std::string(k) + "=" + field("config", k) + " ";
  std::printf("model      %s\n", model.empty() ? "(no details)" : model.c_str());
  std::string lic;
  for (const auto& l : licenses) lic += (lic.empty() ? "" : ", ") + l;
  std::printf("licence    %s\n", lic.empty() ? "(none declared)" : lic.c_str());
  std::printf("policy     %s\n",
              info->policy_tier.empty() ? "(none)" : ("tier " + info->policy_tier).c_str());
  std::printf("signature  %s\n", sig.line.c_str());
  if (info->has_golden) std::printf("golden     present\n");
  std::printf("layers     %zu, %s\n", info->layers.size(), HumanBytes(total).c_str());
  for (const auto& l : info->layers)
    std::printf("  %-10s %12llu  %s  %-45s %s\n", l.role.c_str(),
                static_cast<unsigned long long>(l.descriptor.size),
                l.descriptor.digest.substr(0, 19).c_str(), l.descriptor.media_type.c_str(),
                l.path.c_str());
  return kExitOk;
}

void RegisterPackageVerbs(CLI::App& app, const GlobalOptions& global, Runner* run) {
  {
    auto* cmd = app.add_subcommand("init", "Write a weightgate.yaml describing a model folder");
    auto dir = std::make_shared<std::string>();
    auto out = std::make_shared<std::string>();
    auto force = std::make_shared<bool>(false);
    cmd->add_option("MODEL_DIR", *dir, "Model folder")->required();
    cmd->add_option("-o,--output", *out, "Where to write (default MODEL_DIR/weightgate.yaml)");
    cmd->add_flag("--force", *force, "Overwrite an existing file");
    cmd->footer("Example: weightgate init ./llama-7b   # then edit ./llama-7b/weightgate.yaml");
    cmd->callback([=, &global] {
      *run = [=, &global] { return RunInit(*dir, *out, *force, global.quiet); };
    });
  }
  {
    auto* cmd =
        app.add_subcommand("pack", "Pack a model folder into an OCI package (folder or .tar)");
    auto dir = std::make_shared<std::string>();
    auto opts = std::make_shared<package::PackOptions>();
    auto manifest = std::make_shared<std::string>();
    auto no_reflink = std::make_shared<bool>(false);
    auto json = std::make_shared<bool>(false);
    auto no_golden = std::make_shared<bool>(false);
    cmd->add_option("MODEL_DIR", *dir, "Model folder")->required();
    cmd->add_option("-o,--output", opts->output,
                    "Package to write: a folder, or a file ending in .tar")
        ->required();
    cmd->add_option("--manifest", *manifest,
                    "weightgate.yaml to use (default: MODEL_DIR/weightgate.yaml, else detect)");
    cmd->add_option("--tag", opts->tag, "Tag in the index (default: the package version)");
    auto policy = std::make_shared<std::string>();
    cmd->add_option("--policy", *policy, "Release policy (YAML) to carry as the policy layer");
    auto gate = std::make_shared<GatingPackOptions>();
    cmd->add_option("--publisher-key", gate->publisher_key,
                    "Gated/closed: publisher EC key that seals the weights and signs grants");
    cmd->add_option("--passphrase-file", gate->passphrase_file, "Passphrase of the publisher key");
    cmd->add_option("--recipient", gate->recipients,
                    "Gated/closed: recipient public keys admitted now")
        ->expected(1, -1);
    cmd->add_option("--expires", gate->expires, "Expiry of the initial grants (UTC date)");
    cmd->add_flag("--no-reflink", *no_reflink, "Copy file data even where a reflink is possible");
    cmd->add_flag("--no-golden", *no_golden,
                  "Do not record the CPU reference's golden output (docs/gpu_check.md)");
    cmd->footer(
        "Examples:\n  weightgate pack ./llama-7b -o llama-7b.tar\n"
        "  weightgate pack ./llama-7b -o ./llama-7b.oci --manifest release.yaml --tag v1");
    cmd->add_flag("--json", *json, "Print the result as JSON");
    cmd->callback([=, &global] {
      *run = [=, &global]() -> int {
        auto spec = SpecFor(*dir, *manifest);
        if (!spec.ok()) return ReportError(spec.error());
        package::PackOptions o = *opts;
        o.reflink = !*no_reflink;
        // A derivative made by `convert` carries its parent's policy beside its weights.
        std::string policy_file = *policy;
        std::error_code ec;
        if (policy_file.empty() && fs::exists(fs::path(*dir) / kInheritedPolicyFile, ec)) {
          policy_file = (fs::path(*dir) / kInheritedPolicyFile).string();
          if (!global.quiet && !*json)
            std::fprintf(stderr, "weightgate: pack: inherited release policy %s\n",
                         policy_file.c_str());
        }
        if (!policy_file.empty()) {
          auto text = ReadSmallFile(policy_file, 1 << 20);
          if (!text.ok()) return ReportError(text.error());
          auto layer = package::PolicyLayer(*text, policy_file);
          if (!layer.ok()) return ReportError(layer.error());
          o.extra_layers.push_back(*layer);
        }
        bool closed = false;
        if (!policy_file.empty()) {
          auto p = policy::ReadPolicyFile(policy_file);
          if (!p.ok()) return ReportError(p.error());
          closed = p->tier == policy::Tier::kClosed;
        }
        if (closed && !*no_golden && !global.quiet)
          std::fprintf(stderr,
                       "weightgate: pack: no golden record (closed tier: its outputs would be "
                       "readable without a grant; docs/gpu_check.md)\n");
        if (!*no_golden && !closed) {
          // From the plaintext folder, before any sealing (docs/gpu_check.md: what a golden
          // record of a gated model reveals).
          std::string skipped;
          auto golden = verify::GoldenLayerForFolder(*dir, &skipped);
          if (!golden.ok()) return ReportError(golden.error());
          if (*golden)
            o.extra_layers.push_back(**golden);
          else if (!global.quiet)
            std::fprintf(stderr, "weightgate: pack: no golden record (%s)\n", skipped.c_str());
        }
        gate->policy_file = policy_file;
        auto sealed = SealForPack(*dir, o.output, &*spec, *gate);
        if (!sealed.ok()) return ReportError(sealed.error());
        auto r = package::Pack(sealed->value_or(*dir), *spec, o);
        if (*sealed) fs::remove_all(**sealed, ec);
        if (!r.ok()) return ReportError(r.error());
        if (*json) {
          ojson j = {{"package", o.output},
                     {"manifest", r->manifest.ToJson()},
                     {"files", r->files},
                     {"bytes", r->total_bytes},
                     {"golden", HasGolden(o)}};
          std::printf("%s\n", j.dump(2).c_str());
        } else if (!global.quiet) {
          std::printf("packed %zu files (%s) into %s\nmanifest %s\n", r->files,
                      HumanBytes(r->total_bytes).c_str(), o.output.c_str(),
                      r->manifest.digest.c_str());
          if (HasGolden(o))
            std::printf("golden record: CPU reference on \"%s\" (%s layer)\n",
                        std::string(kGoldenPrompt).c_str(),
                        std::string(verify::kGoldenTitle).c_str());
        }
        return kExitOk;
      };
    });
  }
  {
    auto* cmd = app.add_subcommand("unpack", "Verify and extract a package into a folder");
    auto pkg = std::make_shared<std::string>();
    auto opts = std::make_shared<package::UnpackOptions>();
    auto only = std::make_shared<std::string>();
    auto json = std::make_shared<bool>(false);
    cmd->add_option("PKG", *pkg, "Package folder or .tar")->required();
    cmd->add_option("-o,--output", opts->output, "Folder to create")->required();
    cmd->add_option("--only", *only,
                    "Comma-separated roles: weights,config,tokenizer,license,docs,code,dataset");
    cmd->add_option("--ref", opts->ref, "Manifest tag when the index holds several");
    auto gate = std::make_shared<GatingUnpackOptions>();
    cmd->add_option("--identity", gate->identity, "Gated/closed: recipient private key");
    cmd->add_option("--grant", gate->grant, "Gated/closed: grant file from the publisher");
    cmd->add_option("--passphrase-file", gate->passphrase_file, "Passphrase of the identity key");
    auto receipt = std::make_shared<std::string>();
    cmd->add_option("--receipt", *receipt,
                    "Acceptance receipt (weightgate accept), when the policy requires acceptance");
    cmd->add_flag("--json", *json, "Print the result as JSON");
    cmd->footer(
        "Examples:\n  weightgate unpack llama-7b.tar -o ./llama-7b\n"
        "  weightgate unpack llama-7b.tar -o ./weights-only --only weights,config,tokenizer");
    cmd->callback([=, &global] {
      *run = [=, &global]() -> int {
        package::UnpackOptions o = *opts;
        auto roles = ParseOnly(*only);
        if (!roles.ok()) return ReportError(roles.error());
        o.only = *roles;
        auto r = UnpackChecked(*pkg, o, *gate, *receipt);
        if (!r.ok()) return ReportError(r.error());
        if (*json) {
          ojson j = {{"output", o.output}, {"files", r->files}, {"bytes", r->bytes}};
          std::printf("%s\n", j.dump(2).c_str());
        } else if (!global.quiet) {
          std::printf("unpacked %zu files (%s), all digests verified, into %s\n", r->files,
                      HumanBytes(r->bytes).c_str(), o.output.c_str());
        }
        return kExitOk;
      };
    });
  }
}

}  // namespace wg::cli
