#include "weightgate/signing/keys.h"

#include <fcntl.h>
#include <openssl/bio.h>
#include <openssl/core_names.h>
#include <openssl/err.h>
#include <openssl/evp.h>
#include <openssl/pem.h>
#include <openssl/x509.h>
#include <openssl/x509_vfy.h>
#include <openssl/x509v3.h>
#include <unistd.h>

#include <cstring>
#include <filesystem>

#include "weightgate/core/file.h"
#include "weightgate/core/hash.h"
#include "weightgate/core/openssl_handles.h"

namespace wg::signing {
namespace {

using BioPtr = BioHandle;
using X509Ptr = X509Handle;

std::string OpenSslReason() {
  unsigned long e = ERR_get_error();
  ERR_clear_error();
  if (!e) return "unknown OpenSSL error";
  char buf[256];
  ERR_error_string_n(e, buf, sizeof buf);
  return buf;
}

BioPtr MemBio(const std::string& s) {
  return BioPtr(BIO_new_mem_buf(s.data(), static_cast<int>(s.size())));
}

std::string BioString(BIO* b) {
  char* data = nullptr;
  long n = BIO_get_mem_data(b, &data);
  return std::string(data, n > 0 ? static_cast<size_t>(n) : 0);
}

const EVP_MD* CurveHash(Curve c) {
  switch (c) {
    case Curve::kP256:
      return EVP_sha256();
    case Curve::kP384:
      return EVP_sha384();
    case Curve::kP521:
      return EVP_sha512();
  }
  return EVP_sha256();
}

const char* CurveGroup(Curve c) {
  switch (c) {
    case Curve::kP256:
      return "P-256";
    case Curve::kP384:
      return "P-384";
    case Curve::kP521:
      return "P-521";
  }
  return "P-256";
}

struct PassphraseState {
  const std::optional<std::string>* passphrase;
  bool asked = false;
};

int PassphraseCallback(char* buf, int size, int, void* u) {
  auto* st = static_cast<PassphraseState*>(u);
  st->asked = true;
  if (!st->passphrase->has_value()) return -1;
  const std::string& p = **st->passphrase;
  if (p.size() > static_cast<size_t>(size)) return -1;
  std::memcpy(buf, p.data(), p.size());
  return static_cast<int>(p.size());
}

X509Ptr ParseDer(const Certificate& c) {
  const unsigned char* p = c.der.data();
  return X509Ptr(d2i_X509(nullptr, &p, static_cast<long>(c.der.size())));
}

std::string NameOf(X509* x) {
  BioPtr b(BIO_new(BIO_s_mem()));
  X509_NAME_print_ex(b.get(), X509_get_subject_name(x), 0, XN_FLAG_RFC2253);
  return BioString(b.get());
}

}  // namespace

std::string_view CurveName(Curve c) {
  switch (c) {
    case Curve::kP256:
      return "ecdsa-p256";
    case Curve::kP384:
      return "ecdsa-p384";
    case Curve::kP521:
      return "ecdsa-p521";
  }
  return "ecdsa-p256";
}

std::optional<Curve> CurveFromName(std::string_view name) {
  if (name == "ecdsa-p256") return Curve::kP256;
  if (name == "ecdsa-p384") return Curve::kP384;
  if (name == "ecdsa-p521") return Curve::kP521;
  return std::nullopt;
}

EcKey::~EcKey() {
  EVP_PKEY_free(pkey_);
}
EcKey::EcKey(EcKey&& o) noexcept : pkey_(o.pkey_), curve_(o.curve_), has_private_(o.has_private_) {
  o.pkey_ = nullptr;
}
EcKey& EcKey::operator=(EcKey&& o) noexcept {
  if (this != &o) {
    EVP_PKEY_free(pkey_);
    pkey_ = o.pkey_;
    curve_ = o.curve_;
    has_private_ = o.has_private_;
    o.pkey_ = nullptr;
  }
  return *this;
}

Result<EcKey> EcKey::FromPkey(EVP_PKEY* pkey, bool has_private) {
  if (EVP_PKEY_get_base_id(pkey) != EVP_PKEY_EC) {
    std::string type = EVP_PKEY_get0_type_name(pkey) ? EVP_PKEY_get0_type_name(pkey) : "unknown";
    EVP_PKEY_free(pkey);
    return Error::Unsupported("key is not an elliptic-curve key")
        .Expected("EC P-256, P-384 or P-521 (OMS)")
        .Found(type);
  }
  char group[64] = {0};
  size_t len = 0;
  if (EVP_PKEY_get_group_name(pkey, group, sizeof group, &len) != 1) {
    EVP_PKEY_free(pkey);
    return Error::Unsupported("EC key has no named curve").Expected("P-256, P-384 or P-521");
  }
  std::string g(group);
  Curve c;
  if (g == "prime256v1" || g == "P-256" || g == "secp256r1") {
    c = Curve::kP256;
  } else if (g == "secp384r1" || g == "P-384") {
    c = Curve::kP384;
  } else if (g == "secp521r1" || g == "P-521") {
    c = Curve::kP521;
  } else {
    EVP_PKEY_free(pkey);
    return Error::Unsupported("EC curve not allowed by OMS")
        .Expected("P-256, P-384 or P-521")
        .Found(g);
  }
  return EcKey(pkey, c, has_private);
}

Result<EcKey> EcKey::Generate(Curve curve) {
  EVP_PKEY* pkey = EVP_EC_gen(CurveGroup(curve));
  if (!pkey) return Error::Io("EC key generation failed: " + OpenSslReason());
  return FromPkey(pkey, true);
}

Result<EcKey> EcKey::LoadPrivatePem(const std::string& pem,
                                    const std::optional<std::string>& passphrase) {
  auto bio = MemBio(pem);
  PassphraseState st{&passphrase};
  EVP_PKEY* pkey = PEM_read_bio_PrivateKey(bio.get(), nullptr, PassphraseCallback, &st);
  if (!pkey) {
    std::string reason = OpenSslReason();
    if (st.asked && !passphrase)
      return Error::Usage("private key is encrypted and no passphrase was given")
          .Expected("--passphrase-file");
    if (st.asked)
      return Error::Usage("cannot decrypt the private key (wrong passphrase?): " + reason);
    return Error::Malformed("not a PEM private key: " + reason);
  }
  return FromPkey(pkey, true);
}

Result<EcKey> EcKey::LoadPublicPem(const std::string& pem) {
  auto bio = MemBio(pem);
  EVP_PKEY* pkey = PEM_read_bio_PUBKEY(bio.get(), nullptr, nullptr, nullptr);
  if (!pkey)
    return Error::Malformed("not a PEM public key: " + OpenSslReason())
        .Expected("-----BEGIN PUBLIC KEY-----");
  return FromPkey(pkey, false);
}

Result<EcKey> EcKey::ReadPrivateKeyFile(const std::string& path,
                                        const std::optional<std::string>& passphrase) {
  WG_ASSIGN_OR_RETURN(std::string pem, ReadSmallFile(path, 1 << 20));
  auto k = LoadPrivatePem(pem, passphrase);
  if (!k.ok()) return std::move(k.error().File(path));
  return k;
}

Result<EcKey> EcKey::ReadPublicKeyFile(const std::string& path) {
  WG_ASSIGN_OR_RETURN(std::string pem, ReadSmallFile(path, 1 << 20));
  auto k = LoadPublicPem(pem);
  if (!k.ok()) return std::move(k.error().File(path));
  return k;
}

Result<std::string> EcKey::PrivatePem(const std::optional<std::string>& passphrase) const {
  BioPtr b(BIO_new(BIO_s_mem()));
  int ok;
  if (passphrase) {
    ok = PEM_write_bio_PKCS8PrivateKey(b.get(), pkey_, EVP_aes_256_cbc(), passphrase->data(),
                                       static_cast<int>(passphrase->size()), nullptr, nullptr);
  } else {
    ok = PEM_write_bio_PKCS8PrivateKey(b.get(), pkey_, nullptr, nullptr, 0, nullptr, nullptr);
  }
  if (!ok) return Error::Io("cannot encode the private key: " + OpenSslReason());
  return BioString(b.get());
}

std::string EcKey::PublicPem() const {
  BioPtr b(BIO_new(BIO_s_mem()));
  PEM_write_bio_PUBKEY(b.get(), pkey_);
  return BioString(b.get());
}

std::string EcKey::Hint() const {
  std::string pem = PublicPem();
  return HashBytes(HashAlgo::kSha256,
                   Bytes(reinterpret_cast<const uint8_t*>(pem.data()), pem.size()))
      .Hex();
}

bool EcKey::SamePublicKey(const EcKey& other) const {
  return EVP_PKEY_eq(pkey_, other.pkey_) == 1;
}

Result<std::vector<uint8_t>> EcKey::Sign(const std::string& message) const {
  if (!has_private_) return Error::Usage("signing needs a private key");
  EVP_MD_CTX* ctx = EVP_MD_CTX_new();
  size_t len = 0;
  std::vector<uint8_t> sig;
  bool ok =
      EVP_DigestSignInit(ctx, nullptr, CurveHash(curve_), nullptr, pkey_) == 1 &&
      EVP_DigestSign(ctx, nullptr, &len, reinterpret_cast<const unsigned char*>(message.data()),
                     message.size()) == 1;
  if (ok) {
    sig.resize(len);
    ok =
        EVP_DigestSign(ctx, sig.data(), &len,
                       reinterpret_cast<const unsigned char*>(message.data()), message.size()) == 1;
    sig.resize(len);
  }
  EVP_MD_CTX_free(ctx);
  if (!ok) return Error::Io("ECDSA signing failed: " + OpenSslReason());
  return sig;
}

bool EcKey::Verify(const std::string& message, const std::vector<uint8_t>& der_signature) const {
  EVP_MD_CTX* ctx = EVP_MD_CTX_new();
  bool ok =
      EVP_DigestVerifyInit(ctx, nullptr, CurveHash(curve_), nullptr, pkey_) == 1 &&
      EVP_DigestVerify(ctx, der_signature.data(), der_signature.size(),
                       reinterpret_cast<const unsigned char*>(message.data()), message.size()) == 1;
  EVP_MD_CTX_free(ctx);
  ERR_clear_error();
  return ok;
}

Result<std::vector<Certificate>> ParseCertificatesPem(const std::string& pem,
                                                      const std::string& what) {
  auto bio = MemBio(pem);
  std::vector<Certificate> out;
  while (true) {
    X509Ptr x(PEM_read_bio_X509(bio.get(), nullptr, nullptr, nullptr));
    if (!x) break;
    int n = i2d_X509(x.get(), nullptr);
    Certificate c;
    c.der.resize(n);
    unsigned char* p = c.der.data();
    i2d_X509(x.get(), &p);
    out.push_back(std::move(c));
  }
  ERR_clear_error();
  if (out.empty())
    return Error::Malformed("no PEM certificate found")
        .File(what)
        .Expected("-----BEGIN CERTIFICATE-----");
  return out;
}

Result<std::vector<Certificate>> ReadCertificatesPem(const std::string& path) {
  WG_ASSIGN_OR_RETURN(std::string pem, ReadSmallFile(path, 16 << 20));
  return ParseCertificatesPem(pem, path);
}

Result<EcKey> CertificateKey(const Certificate& cert) {
  X509Ptr x = ParseDer(cert);
  if (!x) return Error::Malformed("not a DER X.509 certificate: " + OpenSslReason());
  EVP_PKEY* pkey = X509_get_pubkey(x.get());
  if (!pkey) return Error::Malformed("certificate has no usable public key: " + OpenSslReason());
  return EcKey::FromPkey(pkey, false);
}

std::string CertificateSubject(const Certificate& cert) {
  X509Ptr x = ParseDer(cert);
  return x ? NameOf(x.get()) : std::string("<unparseable certificate>");
}

Status VerifyCertificateChain(const std::vector<Certificate>& chain,
                              const std::vector<Certificate>& roots) {
  if (chain.empty()) return Error::Untrusted("no signing certificate");
  if (roots.empty()) return Error::Usage("no trust root given").Expected("--trust-root CA.pem");
  std::vector<X509Ptr> parsed;
  for (size_t i = 0; i < chain.size(); ++i) {
    parsed.push_back(ParseDer(chain[i]));
    if (!parsed.back())
      return Error::Malformed("certificate " + std::to_string(i) +
                              " of the bundle is not DER X.509: " + OpenSslReason())
          .Field("verificationMaterial.x509CertificateChain");
  }
  X509_STORE* store = X509_STORE_new();
  for (const auto& r : roots) {
    X509Ptr x = ParseDer(r);
    if (!x) {
      X509_STORE_free(store);
      return Error::Malformed("trust root is not an X.509 certificate");
    }
    X509_STORE_add_cert(store, x.get());
  }
  STACK_OF(X509)* untrusted = sk_X509_new_null();
  for (size_t i = 1; i < parsed.size(); ++i) sk_X509_push(untrusted, parsed[i].get());
  X509_STORE_CTX* ctx = X509_STORE_CTX_new();
  X509_STORE_CTX_init(ctx, store, parsed[0].get(), untrusted);
  int ok = X509_verify_cert(ctx);
  Status status;
  if (ok != 1) {
    int err = X509_STORE_CTX_get_error(ctx);
    int depth = X509_STORE_CTX_get_error_depth(ctx);
    X509* bad = X509_STORE_CTX_get_current_cert(ctx);
    status = Error::Untrusted(std::string("certificate chain does not verify: ") +
                              X509_verify_cert_error_string(err))
                 .Field("certificate at depth " + std::to_string(depth) +
                        (bad ? " (" + NameOf(bad) + ")" : std::string()))
                 .Expected("a chain to a --trust-root certificate, valid now");
  }
  X509_STORE_CTX_free(ctx);
  sk_X509_free(untrusted);
  X509_STORE_free(store);
  ERR_clear_error();
  WG_TRY(status);

  // model_signing accepts a leaf that may sign by KeyUsage or by ExtendedKeyUsage.
  X509* leaf = parsed[0].get();
  uint32_t flags = X509_get_extension_flags(leaf);
  bool may_sign = false;
  if ((flags & EXFLAG_KUSAGE) && (X509_get_key_usage(leaf) & KU_DIGITAL_SIGNATURE)) may_sign = true;
  if (!may_sign && (flags & EXFLAG_XKUSAGE) && (X509_get_extended_key_usage(leaf) & XKU_CODE_SIGN))
    may_sign = true;
  if (!may_sign)
    return Error::Untrusted("signing certificate may not sign")
        .Field("certificate " + NameOf(leaf))
        .Expected("KeyUsage digitalSignature or ExtendedKeyUsage codeSigning");
  return Ok();
}

Result<std::string> ReadPassphraseFile(const std::string& path) {
  WG_ASSIGN_OR_RETURN(std::string s, ReadSmallFile(path, 64 << 10));
  size_t nl = s.find_first_of("\r\n");
  if (nl != std::string::npos) s.resize(nl);
  if (s.empty()) return Error::Usage("passphrase file is empty").File(path);
  return s;
}

Status WriteKeyPair(const EcKey& key, const std::string& name,
                    const std::optional<std::string>& passphrase) {
  WG_ASSIGN_OR_RETURN(std::string pem, key.PrivatePem(passphrase));
  return WriteKeyFiles(name, pem, key.PublicPem());
}

}  // namespace wg::signing
