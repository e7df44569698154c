// What a verb asks of a release policy before it touches the weights.
//
// `policy check` evaluates a user's declared context; these checks are the part every verb
// enforces by itself (unpack, convert, gpu-check, push). A refusal is Error::Denied (exit
// 6) or Error::NeedsLicence (exit 7) and names the policy field and the licence clause
// behind it, e.g. "Llama 3.1 Community License §1.b.i".
#pragma once

#include <optional>
#include <string>

#include "weightgate/core/error.h"
#include "weightgate/policy/policy.h"

namespace wg::policy {

// "<licence name or id> <clause>" (just the licence when the clause is empty).
std::string ClauseText(const Policy& p, const std::string& clause);

// The operation (run, convert, quantize, ...) must be listed and allowed.
Status RequireOperation(const Policy& p, const std::string& operation, const std::string& source);

// Gated and closed weights are encrypted: reading them needs a grant (an identity).
Status RequireGrant(const Policy& p, bool have_identity, const std::string& source);

// `acceptance: required` needs a receipt (checked for validity by the caller).
Status RequireAcceptance(const Policy& p, bool have_receipt, const std::string& source);

// The name-prefix obligation applying to `operation` (listed in its `on`, or required by
// the operation's rule), or nullptr.
const Obligation* NamePrefixFor(const Policy& p, const std::string& operation);
// A derivative made by `operation` named `name` must begin with the required prefix.
Status RequireDerivativeName(const Policy& p, const std::string& operation, const std::string& name,
                             const std::string& source);

// Whether the operation's derivatives carry the policy (operations.<op>.inherit).
bool DerivativesInherit(const Policy& p, const std::string& operation);

// `push` to registry/repository: allowed by access.registries ("host[:port]" or
// "host[:port]/prefix", "*" any). Without a list, open/open-weights/gated releases may be
// pushed anywhere and a closed one nowhere.
Status RequirePushTarget(const Policy& p, const std::string& registry,
                         const std::string& repository, const std::string& source);

}  // namespace wg::policy
