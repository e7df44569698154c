// Grants: a publisher-signed file that admits one recipient to a gated or closed release.
//
// A grant holds the release's content key wrapped for the recipient (recipients.h), the
// package it belongs to, the policy digest the key is bound to, an optional expiry, and an
// ECDSA signature by the publisher's signing key over the canonical JSON of everything
// else. Issuing a grant re-wraps the content key (recovered from the publisher's own
// wrapped copy) and never re-encrypts the weights. Expiry binds honest clients: the key
// inside does not expire, so revocation takes effect from the next (re-keyed) release.
#pragma once

#include <cstdint>
#include <optional>
#include <string>

#include "weightgate/core/error.h"
#include "weightgate/core/hash.h"
#include "weightgate/policy/recipients.h"
#include "weightgate/signing/keys.h"

namespace wg::policy {

struct Grant {
  int version = 1;
  std::string package;        // the release this grant opens
  std::string policy_digest;  // "sha256:<hex>" of the policy file bytes
  WrappedKey key;
  int64_t issued = 0;              // unix seconds
  std::optional<int64_t> expires;  // unix seconds
  std::string
      publisher_pem;  // the publisher's public key (informational; trust comes from the package)
  std::vector<uint8_t> signature;  // DER ECDSA over SignedBytes()
  std::string SignedBytes() const;
};

// "2026-12-31" (midnight UTC) or "2026-12-31T12:00:00Z".
Result<int64_t> ParseUtcTime(const std::string& text);
std::string FormatUtcTime(int64_t unix_seconds);

Result<Grant> IssueGrant(const Key256& content_key, const RecipientKey& recipient,
                         const Digest& policy_digest, const std::string& package,
                         std::optional<int64_t> expires, const signing::EcKey& publisher,
                         int64_t now);
std::string GrantToJson(const Grant& g);
Result<Grant> ParseGrant(const std::string& json, const std::string& source);
Result<Grant> ReadGrantFile(const std::string& path);

// Checks the publisher's signature, the package, the policy digest and the expiry, then
// unwraps the content key with the identity. Failures: kBadSignature (not signed by this
// publisher), kMismatch (another package or policy, or another recipient), kUntrusted
// (expired or not yet valid).
Result<Key256> OpenGrant(const Grant& g, const RecipientKey& identity,
                         const signing::EcKey& publisher, const Digest& policy_digest,
                         const std::string& package, int64_t now, const std::string& source);

}  // namespace wg::policy
