// weightgate verify: a model folder against its OMS signature.
#include <cstdio>
#include <filesystem>
#include <nlohmann/json.hpp>

#include "cmd_package.h"
#include "command.h"
#include "sign_options.h"
#include "verify_attestation.h"
#include "weightgate/signing/keys.h"
#include "weightgate/signing/oms.h"

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
  };
  auto o = std::make_shared<Opts>();
  auto* cmd = app.add_subcommand("verify", "Verify a model folder against its OMS signature");
  cmd->footer(
      "Reads PATH/model.sig (or --signature), checks its signature with --pub, or its\n"
      "certificate chain against --trust-root at the current time (validity periods, CA\n"
      "constraints, and a leaf allowed to sign: digitalSignature or codeSigning), then hashes\n"
      "every file again the way the signature says (files or shards, sha256 or blake3) and\n"
      "names every missing, extra and modified file. Accepts bundles from model_signing.\n"
      "For a package, or with --attestation FILE, it checks gpu-check attestations instead:\n"
      "the signature with --pub and every subject digest against PATH's files.\n\n"
      "Examples:\n"
      "  weightgate verify models/llama --pub release.pub\n"
      "  weightgate verify models/llama --trust-root ca.pem --json\n\n"
      "Exit codes:\n"
      "  0  verified: signature valid and every file matches\n"
      "  1  content mismatch (missing, extra or modified files) or refused content\n"
      "  2  usage error\n"
      "  4  bad signature (does not verify over the signed statement)\n"
      "  5  untrusted signer (another key, broken or expired chain, leaf may not sign)\n"
      "  8  I/O error (signature or model unreadable)\n"
      "  9  malformed input (bundle, statement or key not in the expected format)");
  cmd->add_option("path", o->path, "Model folder")->required();
  auto* pub = cmd->add_option("--pub", o->pub, "Trusted public key (PEM)");
  auto* roots = cmd->add_option("--trust-root", o->trust_roots, "Trusted CA certificate(s) (PEM)")
                    ->expected(1, -1);
  pub->excludes(roots);
  cmd->add_option("--signature", o->signature, "Signature file (default PATH/model.sig)");
  cmd->add_option("--ignore-paths", o->ignore_paths, "Extra paths to leave out")->expected(1, -1);
  cmd->add_flag("--no-ignore-git-paths", o->no_ignore_git, "Also check .git, .gitignore, ...");
  cmd->add_option("--attestation", o->attestation,
                  "Check this gpu-check attestation (DSSE) against PATH instead");
  cmd->add_flag("--json", o->json, "Print one JSON document on stdout");
  cmd->callback([run, o, &global] {
    *run = [o, &global] {
      // gpu-check attestations: a file given, or the attestation layers of a package.
      if (!o->attestation.empty() || IsPackage(o->path))
        return VerifyAttestationsVerb(o->path, o->pub, o->attestation, o->json, global.quiet);
      namespace fs = std::filesystem;
      std::string sig_path = o->signature.empty()
                                 ? (fs::path(o->path) / signing::kDefaultSignatureName).string()
                                 : o->signature;
      ojson doc = {{"path", o->path}, {"signature_file", sig_path}};
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
      if (o->pub.empty() && o->trust_roots.empty())
        return fail(Error::Usage("verify needs a trusted key or CA")
                        .Expected("--pub KEY or --trust-root CA.pem"));

      std::optional<signing::EcKey> key;
      signing::TrustPolicy trust;
      if (!o->pub.empty()) {
        auto k = signing::EcKey::ReadPublicKeyFile(o->pub);
        if (!k.ok()) return fail(k.error());
        key = std::move(*k);
        trust.public_key = &*key;
      }
      for (const auto& r : o->trust_roots) {
        auto certs = signing::ReadCertificatesPem(r);
        if (!certs.ok()) return fail(certs.error());
        trust.roots.insert(trust.roots.end(), certs->begin(), certs->end());
      }
      signing::FolderVerifyOptions opts;
      opts.signature_path = sig_path;
      opts.ignore_paths = ModelRelativeIgnores(o->path, o->ignore_paths);
      opts.ignore_git_paths = !o->no_ignore_git;
      auto report = signing::VerifyModelFolder(o->path, trust, opts);
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
