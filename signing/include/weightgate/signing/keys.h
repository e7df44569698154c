// EC keys and X.509 certificates for OMS signing, on OpenSSL.
//
// OMS allows exactly three curves, each tied to one hash over the DSSE PAE:
// P-256/SHA-256, P-384/SHA-384, P-521/SHA-512. Keys are PEM: PKCS#8 private keys
// (optionally passphrase-encrypted) and SubjectPublicKeyInfo public keys, the files
// `model_signing` and `openssl` read and write.
#pragma once

#include <cstdint>
#include <memory>
#include <optional>
#include <string>
#include <vector>

#include "weightgate/core/error.h"

typedef struct evp_pkey_st EVP_PKEY;
typedef struct x509_st X509;

namespace wg::signing {

enum class Curve { kP256, kP384, kP521 };
std::string_view CurveName(Curve c);                        // "ecdsa-p256", ...
std::optional<Curve> CurveFromName(std::string_view name);  // accepts the names above

// An EC key pair or public key on one of the OMS curves.
class EcKey {
 public:
  ~EcKey();
  EcKey(EcKey&&) noexcept;
  EcKey& operator=(EcKey&&) noexcept;
  EcKey(const EcKey&) = delete;
  EcKey& operator=(const EcKey&) = delete;

  static Result<EcKey> Generate(Curve curve);
  // PEM private key (PKCS#8 or traditional EC), decrypted with passphrase if given.
  static Result<EcKey> LoadPrivatePem(const std::string& pem,
                                      const std::optional<std::string>& passphrase);
  static Result<EcKey> LoadPublicPem(const std::string& pem);
  static Result<EcKey> ReadPrivateKeyFile(const std::string& path,
                                          const std::optional<std::string>& passphrase);
  static Result<EcKey> ReadPublicKeyFile(const std::string& path);
  // Takes ownership; refuses keys that are not EC on an OMS curve.
  static Result<EcKey> FromPkey(EVP_PKEY* pkey, bool has_private);

  Curve curve() const { return curve_; }
  bool has_private() const { return has_private_; }
  EVP_PKEY* pkey() const { return pkey_; }

  // PKCS#8 PEM; AES-256-CBC encrypted when passphrase is given.
  Result<std::string> PrivatePem(const std::optional<std::string>& passphrase) const;
  // "-----BEGIN PUBLIC KEY-----" SPKI PEM, 64-column base64, as pyca writes it.
  std::string PublicPem() const;
  // OMS publicKey.hint: lower-case hex SHA-256 of PublicPem().
  std::string Hint() const;
  bool SamePublicKey(const EcKey& other) const;

  // ASN.1 DER ECDSA over message with the curve's hash.
  Result<std::vector<uint8_t>> Sign(const std::string& message) const;
  bool Verify(const std::string& message, const std::vector<uint8_t>& der_signature) const;

 private:
  EcKey(EVP_PKEY* pkey, Curve curve, bool has_private)
      : pkey_(pkey), curve_(curve), has_private_(has_private) {}
  EVP_PKEY* pkey_ = nullptr;
  Curve curve_ = Curve::kP256;
  bool has_private_ = false;
};

// An X.509 certificate held as DER, parsed on demand.
struct Certificate {
  std::vector<uint8_t> der;
};
// Every certificate in a PEM file (a chain file may hold several), in file order.
Result<std::vector<Certificate>> ReadCertificatesPem(const std::string& path);
Result<std::vector<Certificate>> ParseCertificatesPem(const std::string& pem,
                                                      const std::string& what);
// The certificate's public key as an OMS EC key.
Result<EcKey> CertificateKey(const Certificate& cert);

// Checks that chain[0] (the signer) chains through chain[1..] to one of roots at the
// current time (X509_verify_cert: signatures, validity periods, CA constraints), and that
// the leaf may sign: KeyUsage digitalSignature or ExtendedKeyUsage codeSigning.
// Failures are ErrorCode::kUntrusted naming the certificate and OpenSSL's reason.
Status VerifyCertificateChain(const std::vector<Certificate>& chain,
                              const std::vector<Certificate>& roots);
// "CN=..., O=..." of a certificate, for messages and --json.
std::string CertificateSubject(const Certificate& cert);

// Writes NAME.key (mode 0600) and NAME.pub; refuses to overwrite either.
Status WriteKeyPair(const EcKey& key, const std::string& name,
                    const std::optional<std::string>& passphrase);

// First line of a passphrase file, without its line ending.
Result<std::string> ReadPassphraseFile(const std::string& path);

}  // namespace wg::signing
