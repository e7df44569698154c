#include "weightgate/policy/recipients.h"

#include <fcntl.h>
#include <openssl/core_names.h>
#include <openssl/evp.h>
#include <openssl/kdf.h>
#include <openssl/pem.h>
#include <openssl/rsa.h>
#include <openssl/x509.h>
#include <unistd.h>

#include <cstring>
#include <filesystem>
#include <memory>

#include "weightgate/core/file.h"
#include "weightgate/core/openssl_handles.h"

namespace wg::policy {
namespace {

using PkeyCtx = PkeyCtxHandle;
using Pkey = PkeyHandle;
using Bio = BioHandle;

const char kWrapInfo[] = "weightgate/v1 wrap";

std::string WrapInfo(const Digest& policy) {
  std::string info = kWrapInfo;
  info.append(reinterpret_cast<const char*>(policy.bytes.data()), policy.bytes.size());
  return info;
}

std::vector<uint8_t> Spki(EVP_PKEY* k) {
  int n = i2d_PUBKEY(k, nullptr);
  if (n <= 0) return {};
  std::vector<uint8_t> out(static_cast<size_t>(n));
  uint8_t* p = out.data();
  i2d_PUBKEY(k, &p);
  return out;
}

Result<Key256> Hkdf(const std::vector<uint8_t>& ikm, const std::vector<uint8_t>& salt,
                    const std::string& info) {
  PkeyCtx ctx(EVP_PKEY_CTX_new_id(EVP_PKEY_HKDF, nullptr));
  Key256 out{};
  size_t len = out.size();
  if (!ctx || EVP_PKEY_derive_init(ctx.get()) != 1 ||
      EVP_PKEY_CTX_set_hkdf_md(ctx.get(), EVP_sha256()) != 1 ||
      EVP_PKEY_CTX_set1_hkdf_salt(ctx.get(), salt.data(), int(salt.size())) != 1 ||
      EVP_PKEY_CTX_set1_hkdf_key(ctx.get(), ikm.data(), int(ikm.size())) != 1 ||
      EVP_PKEY_CTX_add1_hkdf_info(ctx.get(), reinterpret_cast<const uint8_t*>(info.data()),
                                  int(info.size())) != 1 ||
      EVP_PKEY_derive(ctx.get(), out.data(), &len) != 1)
    return Error::Io("HKDF-SHA256 failed");
  return out;
}

Result<std::vector<uint8_t>> Ecdh(EVP_PKEY* priv, EVP_PKEY* peer) {
  PkeyCtx ctx(EVP_PKEY_CTX_new(priv, nullptr));
  size_t len = 0;
  if (!ctx || EVP_PKEY_derive_init(ctx.get()) != 1 ||
      EVP_PKEY_derive_set_peer(ctx.get(), peer) != 1 ||
      EVP_PKEY_derive(ctx.get(), nullptr, &len) != 1)
    return Error::Mismatch("key agreement failed (keys of different types or curves)");
  std::vector<uint8_t> out(len);
  if (EVP_PKEY_derive(ctx.get(), out.data(), &len) != 1)
    return Error::Mismatch("key agreement failed");
  out.resize(len);
  return out;
}

// RFC 5649 AES key wrap with padding.
Result<std::vector<uint8_t>> AesKw(bool wrap, const Key256& kek, const uint8_t* in, size_t len) {
  EVP_CIPHER_CTX* ctx = EVP_CIPHER_CTX_new();
  EVP_CIPHER_CTX_set_flags(ctx, EVP_CIPHER_CTX_FLAG_WRAP_ALLOW);
  std::vector<uint8_t> out(len + 16);
  int n = 0, m = 0;
  bool ok =
      (wrap ? EVP_EncryptInit_ex(ctx, EVP_aes_256_wrap_pad(), nullptr, kek.data(), nullptr)
            : EVP_DecryptInit_ex(ctx, EVP_aes_256_wrap_pad(), nullptr, kek.data(), nullptr)) == 1;
  ok = ok && (wrap ? EVP_EncryptUpdate(ctx, out.data(), &n, in, int(len))
                   : EVP_DecryptUpdate(ctx, out.data(), &n, in, int(len))) == 1;
  ok = ok && (wrap ? EVP_EncryptFinal_ex(ctx, out.data() + n, &m)
                   : EVP_DecryptFinal_ex(ctx, out.data() + n, &m)) == 1;
  EVP_CIPHER_CTX_free(ctx);
  if (!ok)
    return Error::Mismatch(wrap ? "AES key wrap failed"
                                : "the wrapped key does not unwrap (wrong identity or policy)");
  out.resize(size_t(n + m));
  return out;
}

Result<KeyAlgo> AlgoOf(EVP_PKEY* k, const std::string& source) {
  switch (EVP_PKEY_get_base_id(k)) {
    case EVP_PKEY_X25519:
      return KeyAlgo::kX25519;
    case EVP_PKEY_EC:
      return KeyAlgo::kEc;
    case EVP_PKEY_RSA:
      if (EVP_PKEY_get_bits(k) < 3072)
        return Error::Unsupported("RSA recipient keys must have at least 3072 bits")
            .File(source)
            .Found(std::to_string(EVP_PKEY_get_bits(k)));
      return KeyAlgo::kRsa;
  }
  return Error::Unsupported("unsupported recipient key type")
      .File(source)
      .Expected("X25519, RSA or EC");
}

}  // namespace

std::string_view KeyAlgoName(KeyAlgo a) {
  switch (a) {
    case KeyAlgo::kX25519:
      return "x25519";
    case KeyAlgo::kRsa:
      return "rsa";
    case KeyAlgo::kEc:
      return "ec";
  }
  return "?";
}

RecipientKey::~RecipientKey() {
  EVP_PKEY_free(pkey_);
}
RecipientKey::RecipientKey(RecipientKey&& o) noexcept
    : pkey_(o.pkey_), algo_(o.algo_), has_private_(o.has_private_) {
  o.pkey_ = nullptr;
}
RecipientKey& RecipientKey::operator=(RecipientKey&& o) noexcept {
  std::swap(pkey_, o.pkey_);
  algo_ = o.algo_;
  has_private_ = o.has_private_;
  return *this;
}

Result<RecipientKey> RecipientKey::FromPkey(EVP_PKEY* pkey, bool has_private,
                                            const std::string& source) {
  auto algo = AlgoOf(pkey, source);
  if (!algo.ok()) {
    EVP_PKEY_free(pkey);
    return std::move(algo).error();
  }
  return RecipientKey(pkey, *algo, has_private);
}

Result<RecipientKey> RecipientKey::Generate(const std::string& algo) {
  EVP_PKEY* k = nullptr;
  if (algo == "x25519")
    k = EVP_PKEY_Q_keygen(nullptr, nullptr, "X25519");
  else if (algo == "rsa-4096")
    k = EVP_PKEY_Q_keygen(nullptr, nullptr, "RSA", size_t(4096));
  else if (algo == "rsa-3072")
    k = EVP_PKEY_Q_keygen(nullptr, nullptr, "RSA", size_t(3072));
  else
    return Error::Usage("unknown recipient key algorithm")
        .Expected("x25519 | rsa-4096 | rsa-3072")
        .Found(algo);
  if (!k) return Error::Io("key generation failed");
  return FromPkey(k, true, algo);
}

Result<RecipientKey> RecipientKey::LoadPublicPem(const std::string& pem,
                                                 const std::string& source) {
  Bio bio(BIO_new_mem_buf(pem.data(), int(pem.size())));
  EVP_PKEY* k = PEM_read_bio_PUBKEY(bio.get(), nullptr, nullptr, nullptr);
  if (!k)
    return Error::Malformed("not a PEM public key")
        .File(source)
        .Expected("-----BEGIN PUBLIC KEY-----");
  return FromPkey(k, false, source);
}

Result<RecipientKey> RecipientKey::ReadPublicKeyFile(const std::string& path) {
  WG_ASSIGN_OR_RETURN(std::string pem, ReadSmallFile(path, 1 << 20));
  return LoadPublicPem(pem, path);
}

Result<RecipientKey> RecipientKey::ReadPrivateKeyFile(
    const std::string& path, const std::optional<std::string>& passphrase) {
  WG_ASSIGN_OR_RETURN(std::string pem, ReadSmallFile(path, 1 << 20));
  Bio bio(BIO_new_mem_buf(pem.data(), int(pem.size())));
  EVP_PKEY* k = PEM_read_bio_PrivateKey(
      bio.get(), nullptr, nullptr,
      passphrase ? const_cast<char*>(passphrase->c_str()) : const_cast<char*>(""));
  OPENSSL_cleanse(pem.data(), pem.size());
  if (!k)
    return Error::Malformed("not a PEM private key (or wrong passphrase)")
        .File(path)
        .Expected("-----BEGIN PRIVATE KEY-----");
  return FromPkey(k, true, path);
}

std::vector<uint8_t> RecipientKey::SpkiDer() const {
  return Spki(pkey_);
}

std::string RecipientKey::PublicPem() const {
  Bio bio(BIO_new(BIO_s_mem()));
  PEM_write_bio_PUBKEY(bio.get(), pkey_);
  char* data = nullptr;
  long n = BIO_get_mem_data(bio.get(), &data);
  return std::string(data, size_t(n));
}

Result<std::string> RecipientKey::PrivatePem(const std::optional<std::string>& passphrase) const {
  Bio bio(BIO_new(BIO_s_mem()));
  int ok =
      passphrase
          ? PEM_write_bio_PKCS8PrivateKey(bio.get(), pkey_, EVP_aes_256_cbc(), passphrase->data(),
                                          int(passphrase->size()), nullptr, nullptr)
          : PEM_write_bio_PKCS8PrivateKey(bio.get(), pkey_, nullptr, nullptr, 0, nullptr, nullptr);
  if (ok != 1) return Error::Io("cannot encode the private key");
  char* data = nullptr;
  long n = BIO_get_mem_data(bio.get(), &data);
  return std::string(data, size_t(n));
}

std::string RecipientKey::Fingerprint() const {
  auto der = SpkiDer();
  return HashBytes(HashAlgo::kSha256, Bytes(der.data(), der.size())).Prefixed();
}

Status WriteRecipientKeyPair(const RecipientKey& key, const std::string& name,
                             const std::optional<std::string>& passphrase) {
  WG_ASSIGN_OR_RETURN(std::string pem, key.PrivatePem(passphrase));
  return WriteKeyFiles(name, pem, key.PublicPem());
}

Result<WrappedKey> WrapContentKey(const Key256& content_key, const RecipientKey& recipient,
                                  const Digest& policy) {
  WrappedKey w;
  w.recipient = recipient.Fingerprint();
  if (recipient.algo() == KeyAlgo::kRsa) {
    w.algo = "rsa-oaep-256";
    PkeyCtx ctx(EVP_PKEY_CTX_new(recipient.pkey(), nullptr));
    std::string label = WrapInfo(policy);
    auto* l = static_cast<unsigned char*>(OPENSSL_malloc(label.size()));
    std::memcpy(l, label.data(), label.size());
    size_t len = 0;
    if (!ctx || EVP_PKEY_encrypt_init(ctx.get()) != 1 ||
        EVP_PKEY_CTX_set_rsa_padding(ctx.get(), RSA_PKCS1_OAEP_PADDING) != 1 ||
        EVP_PKEY_CTX_set_rsa_oaep_md(ctx.get(), EVP_sha256()) != 1 ||
        EVP_PKEY_CTX_set_rsa_mgf1_md(ctx.get(), EVP_sha256()) != 1 ||
        EVP_PKEY_CTX_set0_rsa_oaep_label(ctx.get(), l, int(label.size())) != 1 ||
        EVP_PKEY_encrypt(ctx.get(), nullptr, &len, content_key.data(), content_key.size()) != 1)
      return Error::Io("RSA-OAEP setup failed");
    w.wrapped.resize(len);
    if (EVP_PKEY_encrypt(ctx.get(), w.wrapped.data(), &len, content_key.data(),
                         content_key.size()) != 1)
      return Error::Io("RSA-OAEP encryption failed");
    w.wrapped.resize(len);
    return w;
  }
  w.algo = "ecdh-hkdf-aeskw";
  PkeyCtx gen(EVP_PKEY_CTX_new(recipient.pkey(), nullptr));
  EVP_PKEY* eph_raw = nullptr;
  if (!gen || EVP_PKEY_keygen_init(gen.get()) != 1 || EVP_PKEY_keygen(gen.get(), &eph_raw) != 1)
    return Error::Io("ephemeral key generation failed");
  Pkey eph(eph_raw);
  WG_ASSIGN_OR_RETURN(auto shared, Ecdh(eph.get(), recipient.pkey()));
  w.ephemeral = Spki(eph.get());
  std::vector<uint8_t> salt = w.ephemeral;
  auto rspki = recipient.SpkiDer();
  salt.insert(salt.end(), rspki.begin(), rspki.end());
  WG_ASSIGN_OR_RETURN(Key256 kek, Hkdf(shared, salt, WrapInfo(policy)));
  OPENSSL_cleanse(shared.data(), shared.size());
  WG_ASSIGN_OR_RETURN(w.wrapped, AesKw(true, kek, content_key.data(), content_key.size()));
  OPENSSL_cleanse(kek.data(), kek.size());
  return w;
}

Result<Key256> UnwrapContentKey(const WrappedKey& w, const RecipientKey& identity,
                                const Digest& policy) {
  if (!identity.has_private()) return Error::Usage("unwrapping needs a private key");
  if (w.recipient != identity.Fingerprint())
    return Error::Mismatch("this key was wrapped for another recipient")
        .Expected(w.recipient)
        .Found(identity.Fingerprint());
  std::vector<uint8_t> key;
  if (w.algo == "rsa-oaep-256") {
    if (identity.algo() != KeyAlgo::kRsa)
      return Error::Mismatch("an RSA-wrapped key needs an RSA identity");
    PkeyCtx ctx(EVP_PKEY_CTX_new(identity.pkey(), nullptr));
    std::string label = WrapInfo(policy);
    auto* l = static_cast<unsigned char*>(OPENSSL_malloc(label.size()));
    std::memcpy(l, label.data(), label.size());
    size_t len = 0;
    if (!ctx || EVP_PKEY_decrypt_init(ctx.get()) != 1 ||
        EVP_PKEY_CTX_set_rsa_padding(ctx.get(), RSA_PKCS1_OAEP_PADDING) != 1 ||
        EVP_PKEY_CTX_set_rsa_oaep_md(ctx.get(), EVP_sha256()) != 1 ||
        EVP_PKEY_CTX_set_rsa_mgf1_md(ctx.get(), EVP_sha256()) != 1 ||
        EVP_PKEY_CTX_set0_rsa_oaep_label(ctx.get(), l, int(label.size())) != 1 ||
        EVP_PKEY_decrypt(ctx.get(), nullptr, &len, w.wrapped.data(), w.wrapped.size()) != 1)
      return Error::Io("RSA-OAEP setup failed");
    key.resize(len);
    if (EVP_PKEY_decrypt(ctx.get(), key.data(), &len, w.wrapped.data(), w.wrapped.size()) != 1)
      return Error::Mismatch("the wrapped key does not unwrap (wrong identity or policy)");
    key.resize(len);
  } else if (w.algo == "ecdh-hkdf-aeskw") {
    const uint8_t* p = w.ephemeral.data();
    Pkey eph(d2i_PUBKEY(nullptr, &p, long(w.ephemeral.size())));
    if (!eph) return Error::Malformed("ephemeral key is not a DER public key").Field("ephemeral");
    WG_ASSIGN_OR_RETURN(auto shared, Ecdh(identity.pkey(), eph.get()));
    std::vector<uint8_t> salt = w.ephemeral;
    auto rspki = identity.SpkiDer();
    salt.insert(salt.end(), rspki.begin(), rspki.end());
    WG_ASSIGN_OR_RETURN(Key256 kek, Hkdf(shared, salt, WrapInfo(policy)));
    OPENSSL_cleanse(shared.data(), shared.size());
    WG_ASSIGN_OR_RETURN(key, AesKw(false, kek, w.wrapped.data(), w.wrapped.size()));
  } else {
    return Error::Unsupported("unknown key wrapping")
        .Field("algo")
        .Expected("ecdh-hkdf-aeskw | rsa-oaep-256")
        .Found(w.algo);
  }
  if (key.size() != 32) return Error::Mismatch("unwrapped key has the wrong length");
  Key256 out;
  std::memcpy(out.data(), key.data(), 32);
  OPENSSL_cleanse(key.data(), key.size());
  return out;
}

std::string Base64(const std::vector<uint8_t>& b) {
  std::string out(4 * ((b.size() + 2) / 3) + 1, '\0');
  int n = EVP_EncodeBlock(reinterpret_cast<unsigned char*>(out.data()), b.data(), int(b.size()));
  out.resize(size_t(n));
  return out;
}

Result<std::vector<uint8_t>> FromBase64(const std::string& t) {
  if (t.size() % 4 != 0) return Error::Malformed("not base64");
  std::vector<uint8_t> out(t.size() / 4 * 3 + 1);
  int n =
      EVP_DecodeBlock(out.data(), reinterpret_cast<const unsigned char*>(t.data()), int(t.size()));
  if (n < 0) return Error::Malformed("not base64");
  size_t pad = 0;
  if (!t.empty() && t.back() == '=') pad++;
  if (t.size() > 1 && t[t.size() - 2] == '=') pad++;
  out.resize(size_t(n) - pad);
  return out;
}

}  // namespace wg::policy
