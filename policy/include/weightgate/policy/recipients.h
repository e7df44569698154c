// Recipient keys and content-key wrapping.
//
// A gated or closed package's weights are encrypted under one random content key; each
// recipient gets that key wrapped for their public key:
//   - X25519 (weightgate recipient keys) and EC P-256/384/521 (the publisher's own signing
//     key, so the publisher can issue grants later): ephemeral ECDH, then
//     KEK = HKDF-SHA256(shared secret, salt = ephemeral SPKI || recipient SPKI,
//                       info = "weightgate/v1 wrap" || policy digest),
//     content key wrapped with AES-256 key wrap with padding (RFC 5649);
//   - RSA (enterprise keys, >= 3072 bits): RSA-OAEP with SHA-256 and MGF1-SHA-256, label
//     "weightgate/v1 wrap" || policy digest.
// Binding the policy digest into the KDF info / OAEP label means a wrapped key only opens
// under the policy it was issued for: a swapped policy cannot be paired with old keys.
#pragma once

#include <cstdint>
#include <optional>
#include <string>
#include <vector>

#include "weightgate/core/error.h"
#include "weightgate/core/hash.h"
#include "weightgate/policy/chunked_aead.h"

typedef struct evp_pkey_st EVP_PKEY;

namespace wg::policy {

enum class KeyAlgo { kX25519, kRsa, kEc };
std::string_view KeyAlgoName(KeyAlgo a);  // "x25519", "rsa", "ec"

class RecipientKey {
 public:
  ~RecipientKey();
  RecipientKey(RecipientKey&&) noexcept;
  RecipientKey& operator=(RecipientKey&&) noexcept;
  RecipientKey(const RecipientKey&) = delete;
  RecipientKey& operator=(const RecipientKey&) = delete;

  // "x25519" or "rsa-4096" (also "rsa-3072").
  static Result<RecipientKey> Generate(const std::string& algo);
  static Result<RecipientKey> ReadPublicKeyFile(const std::string& path);
  static Result<RecipientKey> ReadPrivateKeyFile(const std::string& path,
                                                 const std::optional<std::string>& passphrase = {});
  static Result<RecipientKey> LoadPublicPem(const std::string& pem, const std::string& source);
  // Takes ownership.
  static Result<RecipientKey> FromPkey(EVP_PKEY* pkey, bool has_private, const std::string& source);

  KeyAlgo algo() const { return algo_; }
  bool has_private() const { return has_private_; }
  EVP_PKEY* pkey() const { return pkey_; }
  std::vector<uint8_t> SpkiDer() const;
  std::string PublicPem() const;
  Result<std::string> PrivatePem(const std::optional<std::string>& passphrase) const;
  // "sha256:<hex>" of the DER SubjectPublicKeyInfo.
  std::string Fingerprint() const;

 private:
  RecipientKey(EVP_PKEY* k, KeyAlgo a, bool priv) : pkey_(k), algo_(a), has_private_(priv) {}
  EVP_PKEY* pkey_ = nullptr;
  KeyAlgo algo_ = KeyAlgo::kX25519;
  bool has_private_ = false;
};

// Writes NAME.key (PKCS#8 PEM, mode 0600, never overwriting) and NAME.pub.
Status WriteRecipientKeyPair(const RecipientKey& key, const std::string& name,
                             const std::optional<std::string>& passphrase);

struct WrappedKey {
  std::string algo;                // "ecdh-hkdf-aeskw" | "rsa-oaep-256"
  std::string recipient;           // recipient fingerprint
  std::vector<uint8_t> ephemeral;  // ephemeral public key (DER SPKI), ECDH only
  std::vector<uint8_t> wrapped;    // wrapped content key
};

Result<WrappedKey> WrapContentKey(const Key256& content_key, const RecipientKey& recipient,
                                  const Digest& policy_digest);
// Fails with kMismatch when the key, the recipient or the policy digest is not the one the
// key was wrapped for.
Result<Key256> UnwrapContentKey(const WrappedKey& wrapped, const RecipientKey& identity,
                                const Digest& policy_digest);

std::string Base64(const std::vector<uint8_t>& bytes);
Result<std::vector<uint8_t>> FromBase64(const std::string& text);

}  // namespace wg::policy
