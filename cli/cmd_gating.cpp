// weightgate grant | seal | unseal: cryptographic gating of gated and closed releases.
//
// seal/unseal work on the sealed-folder form (policy/seal.h); the package verbs
// (pack --policy --publisher-key, unpack --identity --grant) use the same library.
#include <cstdio>
#include <ctime>
#include <filesystem>

#include "command.h"
#include "package_gating.h"
#include "policy_source.h"
#include "weightgate/core/file.h"
#include "weightgate/package/package.h"
#include "weightgate/policy/grant.h"
#include "weightgate/policy/receipt.h"
#include "weightgate/policy/seal.h"
#include "weightgate/signing/keys.h"

namespace wg::cli {
namespace {

int64_t Now() {
  return int64_t(std::time(nullptr));
}

Result<std::optional<int64_t>> Expiry(const std::string& text) {
  if (text.empty()) return std::optional<int64_t>();
  auto t = policy::ParseUtcTime(text);
  if (!t.ok()) return std::move(t).error().Field("--expires");
  return std::optional<int64_t>(*t);
}

Result<signing::EcKey> PublisherKey(const std::string& path, const std::string& pass_file) {
  std::optional<std::string> pass;
  if (!pass_file.empty()) {
    WG_ASSIGN_OR_RETURN(pass, signing::ReadPassphraseFile(pass_file));
  }
  return signing::EcKey::ReadPrivateKeyFile(path, pass);
}

void RegisterGrant(CLI::App& app, const GlobalOptions& global, Runner* run) {
  struct Opts {
    std::string pkg, publisher, pass, recipient, expires, out;
  };
  auto o = std::make_shared<Opts>();
  auto* cmd = app.add_subcommand(
      "grant", "Admit a recipient to a gated or closed release (a signed grant file)");
  cmd->footer(
      "Re-wraps the release's content key for RECIPIENT.pub (X25519 or RSA) without re-encrypting\n"
      "anything, binds it to the package and its policy digest, and signs it with the publisher "
      "key.\n"
      "The expiry defaults to, and may not exceed, the policy's access.grant_max_lifetime.\n\n"
      "Example:\n  weightgate grant sealed/ --publisher-key release.key --recipient alice.pub "
      "--expires 2027-01-31 -o alice.grant\n\n"
      "Exit codes: 0 ok, 1 the policy differs from the sealed one, 2 usage, 5 not the publisher "
      "key, 8 I/O.");
  cmd->add_option("package", o->pkg, "Sealed release")->required();
  cmd->add_option("--publisher-key", o->publisher, "Publisher's EC private key (PEM)")->required();
  cmd->add_option("--passphrase-file", o->pass, "Passphrase of the publisher key");
  cmd->add_option("--recipient", o->recipient, "Recipient public key (PEM)")->required();
  cmd->add_option("--expires", o->expires, "YYYY-MM-DD or YYYY-MM-DDTHH:MM:SSZ (UTC)");
  cmd->add_option("-o,--output", o->out, "Grant file to write")->required();
  cmd->callback([run, o, &global] {
    *run = [o, &global] {
      auto pub = PublisherKey(o->publisher, o->pass);
      if (!pub.ok()) return ReportError(pub.error());
      auto rec = policy::RecipientKey::ReadPublicKeyFile(o->recipient);
      if (!rec.ok()) return ReportError(rec.error());
      auto exp = Expiry(o->expires);
      if (!exp.ok()) return ReportError(exp.error());
      std::string sealed = o->pkg;
      struct Scratch {
        std::string dir;
        ~Scratch() {
          std::error_code ec;
          if (!dir.empty()) std::filesystem::remove_all(dir, ec);
        }
      } scratch;
      if (package::IsPackage(o->pkg)) {
        scratch.dir = o->out + ".wg-scratch";
        auto x = ExtractSealed(o->pkg, scratch.dir);
        if (!x.ok()) return ReportError(x.error());
        sealed = *x;
      }
      auto g = policy::GrantAccess(sealed, *pub, *rec, *exp, Now());
      if (!g.ok()) return ReportError(g.error());
      Status s = WriteFileAtomically(o->out, policy::GrantToJson(*g));
      if (!s.ok()) return ReportError(s.error());
      if (!global.quiet)
        std::printf(
            "wrote %s for %s%s\n", o->out.c_str(), rec->Fingerprint().c_str(),
            g->expires ? (" (expires " + policy::FormatUtcTime(*g->expires) + ")").c_str() : "");
      return int(kExitOk);
    };
  });
}

void RegisterSeal(CLI::App& app, const GlobalOptions& global, Runner* run) {
  struct Opts {
    std::string dir, policy, publisher, pass, out, package, expires;
    std::vector<std::string> recipients;
  };
  auto o = std::make_shared<Opts>();
  auto* cmd = app.add_subcommand("seal", "Encrypt a model folder for a gated or closed release");
  cmd->footer(
      "Encrypts every file with chunked AES-256-GCM under a random content key bound to the\n"
      "policy digest, wraps the key for the publisher and each --recipient, and writes grants\n"
      "for them under OUT/grants/.\n\n"
      "Example:\n  weightgate seal model/ --policy closed.yaml --publisher-key release.key "
      "--recipient alice.pub -o sealed/\n\n"
      "Exit codes: 0 ok, 2 usage or malformed policy, 8 I/O.");
  cmd->add_option("model", o->dir, "Model folder")->required();
  cmd->add_option("--policy", o->policy, "Release policy (tier gated or closed)")->required();
  cmd->add_option("--publisher-key", o->publisher, "Publisher's EC private key (PEM)")->required();
  cmd->add_option("--passphrase-file", o->pass, "Passphrase of the publisher key");
  cmd->add_option("--recipient", o->recipients, "Recipient public keys admitted now")
      ->expected(1, -1);
  cmd->add_option("--package", o->package, "Release id (default: the folder name)");
  cmd->add_option("--expires", o->expires, "Expiry of the initial grants (UTC date)");
  cmd->add_option("-o,--output", o->out, "Sealed folder to create")->required();
  cmd->callback([run, o, &global] {
    *run = [o, &global] {
      auto pub = PublisherKey(o->publisher, o->pass);
      if (!pub.ok()) return ReportError(pub.error());
      auto exp = Expiry(o->expires);
      if (!exp.ok()) return ReportError(exp.error());
      policy::SealOptions opt;
      opt.package = o->package;
      opt.recipient_pubs = o->recipients;
      opt.expires = *exp;
      Status s = policy::SealFolder(o->dir, o->policy, o->out, *pub, opt, Now());
      if (!s.ok()) return ReportError(s.error());
      if (!global.quiet) std::printf("sealed %s into %s\n", o->dir.c_str(), o->out.c_str());
      return int(kExitOk);
    };
  });
}

void RegisterUnseal(CLI::App& app, const GlobalOptions& global, Runner* run) {
  struct Opts {
    std::string dir, identity, pass, grant, out;
  };
  auto o = std::make_shared<Opts>();
  auto* cmd = app.add_subcommand("unseal", "Decrypt a sealed release with a grant");
  cmd->footer(
      "Checks the policy against the sealed digest, the grant's publisher signature, package,\n"
      "policy and expiry, unwraps the content key with --identity, and decrypts every chunk,\n"
      "authenticating each. On any failure nothing is left in OUT.\n\n"
      "Exit codes: 0 ok, 1 tampered data, wrong key or policy, 2 usage, 4 grant not signed by the\n"
      "publisher, 5 expired grant, 8 I/O.");
  cmd->add_option("sealed", o->dir, "Sealed folder")->required();
  cmd->add_option("--identity", o->identity, "Recipient private key (PEM)")->required();
  cmd->add_option("--passphrase-file", o->pass, "Passphrase of the identity key");
  cmd->add_option("--grant", o->grant, "Grant file")->required();
  cmd->add_option("-o,--output", o->out, "Folder to create")->required();
  cmd->callback([run, o, &global] {
    *run = [o, &global] {
      std::optional<std::string> pass;
      if (!o->pass.empty()) {
        auto p = signing::ReadPassphraseFile(o->pass);
        if (!p.ok()) return ReportError(p.error());
        pass = *p;
      }
      auto id = policy::RecipientKey::ReadPrivateKeyFile(o->identity, pass);
      if (!id.ok()) return ReportError(id.error());
      Status s = policy::UnsealFolder(o->dir, o->out, *id, o->grant, Now());
      if (!s.ok()) return ReportError(s.error());
      if (!global.quiet) std::printf("unsealed %s into %s\n", o->dir.c_str(), o->out.c_str());
      return int(kExitOk);
    };
  });
}

void RegisterAccept(CLI::App& app, const GlobalOptions& global, Runner* run) {
  struct Opts {
    std::string pkg, identity, pass, out;
  };
  auto o = std::make_shared<Opts>();
  auto* cmd =
      app.add_subcommand("accept", "Accept a release's licence: write a signed acceptance receipt");
  cmd->footer(
      "Shows nothing new: run `weightgate policy show PKG` first. Writes a receipt naming the\n"
      "package, the policy digest and the licence, signed with --identity (an EC key from\n"
      "`weightgate keygen`). `policy check` counts it as `accepted: RECEIPT` in the context.\n\n"
      "Exit codes: 0 ok, 2 usage or malformed policy, 8 I/O.");
  cmd->add_option("package", o->pkg, "Package, sealed folder or policy YAML")->required();
  cmd->add_option("--identity", o->identity, "Your EC private key (PEM)")->required();
  cmd->add_option("--passphrase-file", o->pass, "Passphrase of the identity key");
  cmd->add_option("-o,--output", o->out, "Receipt file (default: accept.receipt)");
  cmd->callback([run, o, &global] {
    *run = [o, &global] {
      auto loaded = LoadPolicyFrom(o->pkg);
      if (!loaded.ok()) return ReportError(loaded.error());
      auto key = PublisherKey(o->identity, o->pass);
      if (!key.ok()) return ReportError(key.error());
      auto r = policy::IssueReceipt(o->pkg, loaded->digest, loaded->policy.licence.id, *key, Now());
      if (!r.ok()) return ReportError(r.error());
      std::string out = o->out.empty() ? "accept.receipt" : o->out;
      Status s = WriteFileAtomically(out, policy::ReceiptToJson(*r));
      if (!s.ok()) return ReportError(s.error());
      if (!global.quiet)
        std::printf("wrote %s (accepted %s)\n", out.c_str(), loaded->policy.licence.id.c_str());
      return int(kExitOk);
    };
  });
}

}  // namespace

void RegisterGating(CLI::App& app, const GlobalOptions& global, Runner* run) {
  RegisterGrant(app, global, run);
  RegisterSeal(app, global, run);
  RegisterUnseal(app, global, run);
  RegisterAccept(app, global, run);
}

}  // namespace wg::cli
