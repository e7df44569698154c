// weightgate verify: a model folder or a package against its OMS signature.
#include <cstdio>
#include <filesystem>
#include <nlohmann/json.hpp>

#include "command.h"
#include "sign_options.h"
#include "verify_attestation.h"
#include "weightgate/package/package.h"
#include "weightgate/signing/keys.h"
#include "weightgate/signing/oms.h"
#include "weightgate/verify/package_signature.h"

namespace wg::cli {
namespace {

using ojson = nlohmann::ordered_json;

ojson ErrorJson(const Error& e) {
  ojson j = {{"code", ErrorCodeName(e.code())}, {"message", e.message()}};
  if (e.file()) j["file"] = *e.file();
  if (e.field()) j["field"] = *e.field();
  if (e.offset()) j["offset"] = *e.offset();
  if (e.expected()) j["expected"] = *e.expected();
  if (e.found()) j["found"] = *e.found();
  j["text"] = e.ToString();
  return j;
}

void PrintJson(const ojson& j) {
  std::printf("%s\n", j.dump(2, ' ', false, nlohmann::json::error_handler_t::replace).c_str());
}

}  // namespace

void RegisterVerify(CLI::App& app, const GlobalOptions& global, Runner* run) {
  struct Opts {
    std::string path;
    std::string pub;
    std::vector<std::string> trust_roots;
    std::string signature;
    std::vector<std::string> ignore_paths;
    bool no_ignore_git = false;
    bool json = false;
    std::string attestation;
    bool attestations = false;
  };
  auto o = std::make_shared<Opts>();
  auto* cmd =
      app.add_subcommand("verify", "Verify a model folder or package against its OMS signature");
  cmd->footer(
      "Reads PATH/model.sig (or --signature), checks its signature with --pub, or its\n"
      "certificate chain against --trust-root at the current time (validity periods, CA\n"
      "constraints, and a leaf allowed to sign: digitalSignature or codeSigning), then hashes\n"
      "every file again the way the signature says (files or shards, sha256 or blake3) and\n"
      "names every missing, extra and modified file. Accepts bundles from model_signing.\n"
      "PATH may be a package (OCI layout folder or .tar): its signature layer (or --signature)\n"
      "is checked the same way against every layer - model files, policy, golden record,\n"
      "config - and every missing, extra (unsigned) and modified layer is named.\n"
      "gpu-check attestations: --attestation FILE checks one against PATH (a package, file or\n"
      "folder); --attestations checks every attestation layer of a package (the default for a\n"
      "package without a signature layer): the DSSE signature with --pub, then every subject\n"
      "digest against PATH's files.\n\n"
      "Examples:\n"
      "  weightgate verify models/llama --pub release.pub\n"
      "  weightgate verify models/llama --trust-root ca.pem --json\n"
      "  weightgate verify llama.tar --pub release.pub      # a package\n\n"
      "Exit codes:\n"
      "  0  verified: signature valid and every file matches\n"
      "  1  content mismatch (missing, extra or modified files) or refused content\n"
      "  2  usage error (also: a package with no signature layer)\n"
      "  4  bad signature (does not verify over the signed statement)\n"
      "  5  untrusted signer (another key, broken or expired chain, leaf may not sign)\n"
      "  8  I/O error (signature or model unreadable)\n"
      "  9  malformed input (bundle, statement or key not in the expected format)");
  cmd->add_option("path", o->path, "Model folder or package")->required();
  auto* pub = cmd->add_option("--pub", o->pub, "Trusted public key (PEM)");
  auto* roots = cmd->add_option("--trust-root", o->trust_roots, "Trusted CA certificate(s) (PEM)")
                    ->expected(1, -1);
  pub->excludes(roots);
  cmd->add_option("--signature", o->signature,
                  "Signature file (default PATH/model.sig; a package: its signature layer)");
  cmd->add_option("--ignore-paths", o->ignore_paths, "Extra paths to leave out")->expected(1, -1);
  cmd->add_flag("--no-ignore-git-paths", o->no_ignore_git, "Also check .git, .gitignore, ...");
  auto* att = cmd->add_option("--attestation", o->attestation,
                              "Check this gpu-check attestation (DSSE) against PATH instead");
  cmd->add_flag("--attestations", o->attestations,
                "Check the package's gpu-check attestation layers instead of its signature")
      ->excludes(att);
  cmd->add_flag("--json", o->json, "Print one JSON document on stdout");
  cmd->callback([run, o, &global] {
    *run = [o, &global] {
      if (!o->attestation.empty() || o->attestations ||
          (o->signature.empty() && PackageHasOnlyAttestations(o->path)))
        return VerifyAttestationsVerb(o->path, o->pub, o->attestation, o->json, global.quiet);
      namespace fs = std::filesystem;
      bool is_package = package::IsPackage(o->path);
      std::string sig_path = !o->signature.empty() ? o->signature
                             : is_package
                                 ? o->path + ": " + std::string(verify::kSignatureLayerTitle)
                                 : (fs::path(o->path) / signing::kDefaultSignatureName).string();
      ojson doc = {{"path", o->path}, {"signature_file", sig_path}};
      if (is_package) doc["package"] = true;
      auto fail = [&](const Error& e) {
        int code = ExitCodeSplittingMalformed(e);
        if (o->json) {
          doc["ok"] = false;
          doc["exit_code"] = code;
          doc["error"] = ErrorJson(e);
          PrintJson(doc);
          return code;
        }
        return ReportErrorSplittingMalformed(e);
      };
      std::optional<signing::EcKey> key;
      signing::TrustPolicy trust;
      Status loaded = LoadTrust(o->pub, o->trust_roots, &key, &trust);
      if (!loaded.ok()) return fail(loaded.error());
      Result<signing::FolderVerifyReport> report = Error::Usage("");
      if (is_package) {
        if (!o->ignore_paths.empty() || o->no_ignore_git)
          return fail(
              Error::Usage("a package is verified whole: --ignore-paths and "
                           "--no-ignore-git-paths apply to folders only"));
        verify::PackageVerifyOptions po;
        po.signature_path = o->signature;
        auto r = verify::VerifyPackage(o->path, trust, po);
        if (!r.ok()) return fail(r.error());
        doc["inconsistent"] = r->inconsistent;
        report = signing::FolderVerifyReport{std::move(r->signature), std::move(r->actual),
                                             std::move(r->diff), r->verified};
      } else {
        signing::FolderVerifyOptions opts;
        opts.signature_path = sig_path;
        opts.ignore_paths = ModelRelativeIgnores(o->path, o->ignore_paths);
        opts.ignore_git_paths = !o->no_ignore_git;
        report = signing::VerifyModelFolder(o->path, trust, opts);
      }
      if (!report.ok()) return fail(report.error());

      const auto& expected = report->signature.manifest;
      const auto& diff = report->diff;
      int code = diff.empty() ? kExitOk : kExitCheckFailed;
      if (o->json) {
        ojson ser = {{"method", signing::SerializationMethodName(expected.serialization.method)},
                     {"hash_type", HashAlgoName(expected.serialization.hash)}};
        if (expected.serialization.method == signing::SerializationMethod::kShards)
          ser["shard_size"] = expected.serialization.shard_size;
        doc["ok"] = diff.empty();
        doc["exit_code"] = code;
        doc["method"] = report->signature.method;
        doc["signer"] = report->signature.signer;
        doc["model_name"] = expected.model_name;
        doc["serialization"] = ser;
        doc["resources"] = expected.resources.size();
        doc["verified"] = report->verified;
        doc["missing"] = diff.missing;
        doc["extra"] = diff.extra;
        doc["modified"] = diff.modified;
        PrintJson(doc);
        return code;
      }
      if (!diff.empty()) {
        std::fprintf(stderr, "weightgate: error: %s: content does not match its signature\n",
                     o->path.c_str());
        for (const auto& n : diff.missing) std::fprintf(stderr, "  missing:  %s\n", n.c_str());
        for (const auto& n : diff.extra) std::fprintf(stderr, "  extra:    %s\n", n.c_str());
        for (const auto& n : diff.modified) std::fprintf(stderr, "  modified: %s\n", n.c_str());
        return code;
      }
      if (!global.quiet)
        std::printf("verified %zu resources of %s (%s signer %s)\n", report->verified,
                    o->path.c_str(), report->signature.method.c_str(),
                    report->signature.signer.c_str());
      return code;
    };
  });
}

}  // namespace wg::cli
