// A release policy: what a model's licence lets a would-be user do, as data.
//
// The YAML schema (weightgate_policy: 1) is documented in docs/policy.md. Parsing is
// strict: an unknown key, a wrong type or a value outside its vocabulary is an error
// naming the file and the field path (e.g. "restrictions[0].max"), so a typo in a
// policy can never silently widen what it allows.
#pragma once

#include <cstdint>
#include <map>
#include <optional>
#include <string>
#include <vector>

#include "weightgate/core/error.h"

namespace wg::policy {

inline constexpr int kSchemaVersion = 1;

enum class Tier { kOpen, kOpenWeights, kGated, kClosed };
std::string_view TierName(Tier t);  // "open", "open-weights", "gated", "closed"
std::optional<Tier> TierFromName(std::string_view name);

// The operations a policy speaks about, in the order `policy show` lists them.
inline const std::vector<std::string>& OperationNames() {
  static const std::vector<std::string> names = {"run",      "redistribute",    "convert",
                                                 "quantize", "fine-tune",       "merge",
                                                 "host",     "train-on-outputs"};
  return names;
}
bool IsOperation(std::string_view name);

// A file shipped with the weights, pinned by digest.
struct FileRef {
  std::string file;
  std::string sha256;  // lower-case hex; empty when the policy does not pin it
  std::string url;
};

struct Licence {
  std::string id;         // SPDX id or LicenseRef-...
  std::string catalogue;  // built-in clause set this policy came from (may be empty)
  std::string name;       // human name, e.g. "Llama 3.1 Community License"
  std::optional<FileRef> text;
  std::optional<FileRef> use_policy;
  bool acceptance_required = false;
};

// A duty the user takes on. `id` is one of: ship-licence, notice, attribution,
// name-prefix, mark-changes, keep-restrictions.
struct Obligation {
  std::string id;
  std::vector<std::string> files;  // ship-licence
  std::string file;                // notice
  std::string text;                // notice / keep-restrictions
  std::string display;             // attribution ("Built with Llama")
  std::string prefix;              // name-prefix
  std::vector<std::string> on;     // name-prefix: operations that make a named derivative
  std::string clause;              // the licence section this encodes
};

// A limit on who may use the weights and how. `id` is one of: mau-cap, field-of-use,
// region, prohibited-uses.
struct Restriction {
  std::string id;
  // mau-cap
  uint64_t max = 0;
  std::string basis;                                 // e.g. at-release-date (informational)
  std::string on_exceed = "needs-separate-licence";  // or deny
  // field-of-use
  std::optional<bool> commercial;     // false: commercial use refused
  std::vector<std::string> kinds;     // allowed context kinds (empty: any)
  std::vector<std::string> purposes;  // informational: research, ...
  // region
  std::vector<std::string> deny_regions;  // ISO 3166-1 alpha-2 codes or "EU"
  bool when_multimodal = false;           // applies only to multimodal models
  std::vector<std::string> exempt;        // "end-user": end users of a product are exempt
  // prohibited-uses
  std::string list;                     // reference to the acceptable-use policy
  std::vector<std::string> categories;  // machine-checkable categories it bans
  std::string clause;
};

struct OperationRule {
  bool allow = false;
  bool inherit = false;                // derivatives carry this policy
  std::vector<std::string> requires_;  // obligation ids that become duties
  std::string clause;
};

struct Recipient {
  std::string name;
  std::string key;          // public key file (PEM), relative to the policy
  std::string fingerprint;  // "sha256:<hex>" of the key's DER SubjectPublicKeyInfo
};

struct Access {
  std::string approval = "manual";                  // auto | manual
  std::optional<uint64_t> grant_max_lifetime_days;  // from ISO 8601 "P<n>D"
  std::vector<Recipient> recipients;
  // Where `push` may send the package: "host[:port]" (any repository there) or
  // "host[:port]/repository-prefix". A closed release with none cannot be pushed; "*"
  // allows any registry explicitly.
  std::vector<std::string> registries;
};

struct Policy {
  int version = kSchemaVersion;
  Tier tier = Tier::kOpen;
  std::string model;        // model name, for messages
  bool multimodal = false;  // region clauses may depend on it
  Licence licence;
  std::vector<Obligation> obligations;
  std::vector<Restriction> restrictions;
  std::map<std::string, OperationRule> operations;
  std::optional<Access> access;

  const Obligation* FindObligation(std::string_view id) const;
};

// Parses YAML text; `source` names the file in errors.
Result<Policy> ParsePolicy(const std::string& yaml, const std::string& source);
Result<Policy> ReadPolicyFile(const std::string& path);
// Emits the policy in the schema's YAML (round-trips through ParsePolicy).
std::string PolicyToYaml(const Policy& p);
// Checks cross-field rules: gated/closed need access, requires name obligations, ...
Status ValidatePolicy(const Policy& p, const std::string& source);

// Plain-words explanation for `weightgate policy show`.
std::string ExplainPolicy(const Policy& p);

}  // namespace wg::policy
