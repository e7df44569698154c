// weightgate keygen: an EC key pair for OMS signing, or a recipient key pair for gated
// releases (X25519 or RSA-4096), as NAME.key and NAME.pub.
#include <cstdio>
#include <optional>

#include "command.h"
#include "weightgate/policy/recipients.h"
#include "weightgate/signing/keys.h"

namespace wg::cli {

void RegisterKeygen(CLI::App& app, const GlobalOptions& global, Runner* run) {
  struct Opts {
    std::string algo = "ecdsa-p256";
    std::string out;
    std::string passphrase_file;
  };
  auto o = std::make_shared<Opts>();
  auto* cmd = app.add_subcommand(
      "keygen", "Generate a signing (EC) or recipient (X25519, RSA) key pair (NAME.key, NAME.pub)");
  cmd->footer(
      "Writes NAME.key (PKCS#8 PEM, mode 0600, AES-256 encrypted with --passphrase-file) and\n"
      "NAME.pub (SubjectPublicKeyInfo PEM). OMS allows P-256 (signs with SHA-256), P-384\n"
      "(SHA-384) and P-521 (SHA-512). x25519 and rsa-4096 make recipient keys for gated and\n"
      "closed releases (grants wrap the content key for them). Existing files are never\n"
      "overwritten.\n\n"
      "Example:\n  weightgate keygen --algo ecdsa-p384 -o release\n\n"
      "Exit codes: 0 ok, 2 usage error, 8 I/O error.");
  cmd->add_option("--algo", o->algo, "ecdsa-p256 | ecdsa-p384 | ecdsa-p521 | x25519 | rsa-4096")
      ->check(CLI::IsMember({"ecdsa-p256", "ecdsa-p384", "ecdsa-p521", "x25519", "rsa-4096"}))
      ->capture_default_str();
  cmd->add_option("-o,--output", o->out, "Base name NAME of NAME.key and NAME.pub")->required();
  cmd->add_option("--passphrase-file", o->passphrase_file,
                  "Encrypt the private key with the first line of this file");
  cmd->callback([run, o, &global] {
    *run = [o, &global] {
      std::optional<std::string> pass;
      if (!o->passphrase_file.empty()) {
        auto p = signing::ReadPassphraseFile(o->passphrase_file);
        if (!p.ok()) return ReportError(p.error());
        pass = std::move(*p);
      }
      if (o->algo == "x25519" || o->algo == "rsa-4096") {
        auto rk = policy::RecipientKey::Generate(o->algo);
        if (!rk.ok()) return ReportError(rk.error());
        Status s = policy::WriteRecipientKeyPair(*rk, o->out, pass);
        if (!s.ok()) return ReportError(s.error());
        if (!global.quiet)
          std::printf("wrote %s.key and %s.pub (%s, %s)\n", o->out.c_str(), o->out.c_str(),
                      o->algo.c_str(), rk->Fingerprint().c_str());
        return int(kExitOk);
      }
      auto key = signing::EcKey::Generate(*signing::CurveFromName(o->algo));
      if (!key.ok()) return ReportError(key.error());
      Status s = signing::WriteKeyPair(*key, o->out, pass);
      if (!s.ok()) return ReportError(s.error());
      if (!global.quiet)
        std::printf("wrote %s.key and %s.pub (%s, hint %s)\n", o->out.c_str(), o->out.c_str(),
                    o->algo.c_str(), key->Hint().c_str());
      return int(kExitOk);
    };
  });
}

}  // namespace wg::cli
