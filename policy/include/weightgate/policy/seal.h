// Sealing a model folder for a gated or closed release, and opening it with a grant.
//
// A sealed folder holds:
//   policy.yaml            the release policy (its sha256 is the policy digest)
//   gating.json            package id, policy digest, publisher public key, the content key
//                          wrapped for the publisher (so later grants need no re-encryption),
//                          and every encrypted file with its plaintext size and sha256
//   <file>.wgenc           each weight file, chunked AES-256-GCM (chunked_aead.h)
//   grants/<name>.grant    grants for the recipients admitted at seal time
// The package layer (pack/unpack) stores the same pieces as layers; this folder form is
// what the library and the interim `seal`/`unseal` verbs use.
#pragma once

#include <cstdint>
#include <optional>
#include <string>
#include <vector>

#include "weightgate/core/error.h"
#include "weightgate/core/hash.h"
#include "weightgate/policy/grant.h"
#include "weightgate/policy/recipients.h"
#include "weightgate/signing/keys.h"

namespace wg::policy {

inline constexpr char kGatingFile[] = "gating.json";
inline constexpr char kPolicyFile[] = "policy.yaml";

struct SealedFile {
  std::string path;    // relative path of the plaintext file
  uint64_t size = 0;   // plaintext bytes
  std::string sha256;  // plaintext digest, checked after decryption
};

struct Gating {
  std::string package;
  Digest policy_digest;
  std::string publisher_pem;
  WrappedKey publisher_key;  // the content key wrapped for the publisher's EC key
  std::vector<SealedFile> files;
};

Result<Gating> ReadGating(const std::string& sealed_dir);

struct SealOptions {
  std::string package;                      // release id (e.g. name:version); default: folder name
  std::vector<std::string> recipient_pubs;  // PEM public key files admitted now
  std::optional<int64_t> expires;
  uint32_t chunk_size = 0;  // 0: kDefaultChunkSize
};

// Encrypts every regular file of `model_dir` into `out_dir` (which must not exist). The
// output appears complete or not at all.
Status SealFolder(const std::string& model_dir, const std::string& policy_file,
                  const std::string& out_dir, const signing::EcKey& publisher,
                  const SealOptions& options, int64_t now);

// A new grant for a recipient, from the sealed folder and the publisher's key.
Result<Grant> GrantAccess(const std::string& sealed_dir, const signing::EcKey& publisher,
                          const RecipientKey& recipient, std::optional<int64_t> expires,
                          int64_t now);

// Decrypts a sealed folder into `out_dir` (which must not exist) with a grant. Refuses a
// policy that differs from the one sealed, a grant from another publisher, another package,
// an expired grant, a wrong identity, and any tampered or truncated chunk; on any failure
// no plaintext is left behind.
Status UnsealFolder(const std::string& sealed_dir, const std::string& out_dir,
                    const RecipientKey& identity, const std::string& grant_file, int64_t now);

}  // namespace wg::policy
