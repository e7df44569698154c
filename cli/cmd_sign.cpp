// weightgate sign: an OMS (OpenSSF Model Signing) bundle for a model folder or a package.
#include <cstdio>
#include <filesystem>
#include <optional>

#include "command.h"
#include "sign_options.h"
#include "weightgate/package/package.h"
#include "weightgate/signing/keys.h"
#include "weightgate/signing/oms.h"
#include "weightgate/verify/package_signature.h"

namespace wg::cli {

void RegisterSign(CLI::App& app, const GlobalOptions& global, Runner* run) {
  struct Opts {
    std::string path;
    std::string key;
    std::string passphrase_file;
    std::string cert;
    std::vector<std::string> chain;
    std::string out;
    std::string serialization = "files";
    uint64_t shard_size = signing::kDefaultShardSize;
    std::string hash = "sha256";
    std::vector<std::string> ignore_paths;
    bool no_ignore_git = false;
  };
  auto o = std::make_shared<Opts>();
  auto* cmd = app.add_subcommand(
      "sign", "Sign a model folder (OMS bundle, model.sig) or a package (signature layer)");
  cmd->footer(
      "Hashes every file of PATH (in parallel, from memory maps) and writes an OpenSSF Model\n"
      "Signing bundle: a Sigstore bundle v0.3 with a DSSE envelope over an in-toto statement\n"
      "whose model_signing predicate lists one resource per file or per shard. model_signing\n"
      "verifies it (`model_signing verify key|certificate`; its CLI re-hashes with files +\n"
      "sha256, the defaults here). The signature file, .git, .gitattributes, .github and\n"
      ".gitignore are left out, as model_signing does; --ignore-paths are taken relative to the\n"
      "current directory, like model_signing's.\n\n"
      "PATH may be a package (OCI layout folder or .tar from `weightgate pack`): every layer is\n"
      "signed - model files under their paths, the policy, golden record and config under\n"
      ".weightgate/ names - and the bundle becomes the package's signature layer (replacing an\n"
      "older one; -o writes it to a file instead and leaves the package as it is). Sign last:\n"
      "attaching a policy or golden record afterwards needs a new signature.\n\n"
      "Examples:\n"
      "  weightgate sign models/llama --key release.key\n"
      "  weightgate sign models/llama --key leaf.key --cert leaf.pem --chain intermediate.pem\n"
      "  weightgate sign models/llama --key release.key --serialization shards --shard-size "
      "1000000000\n"
      "  weightgate sign llama.tar --key release.key          # a package\n\n"
      "Exit codes: 0 ok, 1 refused content (symlink, special file, a package blob that does not\n"
      "match its digest), 2 usage or malformed input, 8 I/O error.");
  cmd->add_option("path", o->path, "Model folder or package")->required();
  cmd->add_option("--key", o->key, "Private key (PEM)")->required();
  cmd->add_option("--passphrase-file", o->passphrase_file, "Passphrase of an encrypted key");
  cmd->add_option("--cert", o->cert, "Signing certificate (PEM) for the key: certificate method");
  cmd->add_option("--chain", o->chain, "Intermediate certificates (PEM), stored in the bundle")
      ->expected(1, -1);
  cmd->add_option("-o,--output", o->out,
                  "Signature file (default PATH/model.sig; for a package: the signature layer)");
  cmd->add_option("--serialization", o->serialization, "files | shards")
      ->check(CLI::IsMember({"files", "shards"}))
      ->capture_default_str();
  cmd->add_option("--shard-size", o->shard_size, "Shard size in bytes (shards)")
      ->check(CLI::PositiveNumber)
      ->capture_default_str();
  cmd->add_option("--hash", o->hash, "sha256 | blake3")
      ->check(CLI::IsMember({"sha256", "blake3"}))
      ->capture_default_str();
  cmd->add_option("--ignore-paths", o->ignore_paths, "Paths to leave out (file or folder)")
      ->expected(1, -1);
  cmd->add_flag("--no-ignore-git-paths", o->no_ignore_git, "Also sign .git, .gitignore, ...");
  cmd->callback([run, o, &global] {
    *run = [o, &global] {
      namespace fs = std::filesystem;
      std::error_code ec;
      bool is_package = package::IsPackage(o->path);
      if (!is_package && !fs::is_directory(o->path, ec)) {
        return ReportError(Error::Usage("not a model folder or package")
                               .File(o->path)
                               .Expected("a folder, or an OCI layout folder or .tar"));
      }
      if (is_package && (!o->ignore_paths.empty() || o->no_ignore_git))
        return ReportError(
            Error::Usage("a package is signed whole: --ignore-paths and --no-ignore-git-paths "
                         "apply to folders only")
                .File(o->path));
      if (!o->chain.empty() && o->cert.empty())
        return ReportError(Error::Usage("--chain needs --cert"));
      std::optional<std::string> pass;
      if (!o->passphrase_file.empty()) {
        auto p = signing::ReadPassphraseFile(o->passphrase_file);
        if (!p.ok()) return ReportError(p.error());
        pass = std::move(*p);
      }
      auto key = signing::EcKey::ReadPrivateKeyFile(o->key, pass);
      if (!key.ok()) return ReportError(key.error());
      signing::Signer signer;
      signer.key = &*key;
      if (!o->cert.empty()) {
        auto leaf = signing::ReadCertificatesPem(o->cert);
        if (!leaf.ok()) return ReportError(leaf.error());
        signer.certificates.push_back((*leaf)[0]);
        for (const auto& c : o->chain) {
          auto certs = signing::ReadCertificatesPem(c);
          if (!certs.ok()) return ReportError(certs.error());
          signer.certificates.insert(signer.certificates.end(), certs->begin(), certs->end());
        }
      }
      signing::FolderSignOptions opts;
      opts.serialization.method = o->serialization == "shards"
                                      ? signing::SerializationMethod::kShards
                                      : signing::SerializationMethod::kFiles;
      opts.serialization.hash = *HashAlgoFromName(o->hash);
      opts.serialization.shard_size = o->shard_size;
      if (is_package) {
        verify::PackageSignOptions po;
        po.serialization = opts.serialization;
        po.detached_path = o->out;
        auto r = verify::SignPackage(o->path, signer, po);
        if (!r.ok()) return ReportError(r.error());
        if (!global.quiet)
          std::printf(
              "signed %zu resources of package %s (%s, %s) -> %s\n", r->manifest.resources.size(),
              o->path.c_str(),
              std::string(signing::SerializationMethodName(po.serialization.method)).c_str(),
              o->hash.c_str(),
              o->out.empty() ? ("signature layer, manifest " + r->package_manifest.digest).c_str()
                             : o->out.c_str());
        return int(kExitOk);
      }
      opts.serialization.ignore_paths = ModelRelativeIgnores(o->path, o->ignore_paths);
      opts.ignore_git_paths = !o->no_ignore_git;
      opts.signature_path = o->out;
      auto m = signing::SignModelFolder(o->path, signer, opts);
      if (!m.ok()) return ReportError(m.error());
      if (!global.quiet) {
        std::string sig =
            o->out.empty() ? (fs::path(o->path) / signing::kDefaultSignatureName).string() : o->out;
        std::printf(
            "signed %zu resources of %s (%s, %s) -> %s\n", m->resources.size(),
            m->model_name.c_str(),
            std::string(signing::SerializationMethodName(opts.serialization.method)).c_str(),
            o->hash.c_str(), sig.c_str());
      }
      return int(kExitOk);
    };
  });
}

}  // namespace wg::cli
