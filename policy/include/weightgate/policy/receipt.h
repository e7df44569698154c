// Acceptance receipts: a user's signed statement that they accepted a release's licence.
//
// `weightgate accept PKG --identity KEY` writes one; `policy check` takes it as the
// context's `accepted:` value and counts it only if its signature verifies and it names
// the policy digest being evaluated (an edited policy needs a new acceptance).
#pragma once

#include <cstdint>
#include <string>

#include "weightgate/core/error.h"
#include "weightgate/core/hash.h"
#include "weightgate/signing/keys.h"

namespace wg::policy {

struct Receipt {
  std::string package;
  std::string policy_digest;  // "sha256:<hex>"
  std::string licence;        // licence id accepted
  int64_t accepted_at = 0;
  std::string identity_pem;  // the accepting key's public key
  std::vector<uint8_t> signature;
  std::string SignedBytes() const;
};

Result<Receipt> IssueReceipt(const std::string& package, const Digest& policy_digest,
                             const std::string& licence, const signing::EcKey& identity,
                             int64_t now);
std::string ReceiptToJson(const Receipt& r);
// Parses and checks the signature (by the key inside) and the policy digest.
Result<Receipt> VerifyReceiptFile(const std::string& path, const Digest& policy_digest);

}  // namespace wg::policy
