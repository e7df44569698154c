// Evaluating a policy against a would-be user's context.
//
// The evaluation is pure and ordered; every rule that fires adds a reason naming the
// rule and the licence clause behind it. The decision is the strongest verdict:
// deny > needs-separate-licence > needs-acceptance > allow. A context that lacks a key
// a rule needs is denied, naming the key (strict default: no guessing in the user's
// favour).
#pragma once

#include <cstdint>
#include <optional>
#include <string>
#include <vector>

#include "weightgate/core/error.h"
#include "weightgate/policy/policy.h"

namespace wg::policy {

// The would-be user's declared situation (self-declared: an audit record, not proof).
struct Context {
  std::optional<std::string> organisation;
  std::optional<std::string> kind;     // company | individual | research
  std::optional<std::string> country;  // ISO 3166-1 alpha-2
  std::optional<uint64_t> mau;
  std::optional<bool> commercial;
  std::optional<std::string> operation;
  std::optional<std::string> derivative_name;
  std::optional<bool> accepted;        // true, or a receipt was given
  std::optional<std::string> receipt;  // path of an acceptance receipt
  std::optional<bool> grant;           // holds a grant for this package (gated/closed)
  std::optional<bool> end_user_only;   // only uses a product that incorporates the model
  std::optional<std::vector<std::string>> use_categories;
};

Result<Context> ParseContext(const std::string& yaml, const std::string& source);
Result<Context> ReadContextFile(const std::string& path);

enum class Decision { kAllow, kNeedsAcceptance, kNeedsSeparateLicence, kDeny };
std::string_view DecisionName(Decision d);  // "allow", "needs-acceptance", ...

struct Reason {
  Decision verdict = Decision::kAllow;
  std::string rule;    // "restriction mau-cap", "operation fine-tune", ...
  std::string clause;  // licence section, e.g. "Llama 3.1 Community License §2"
  std::string detail;  // plain words
};

struct Duty {
  std::string obligation;  // obligation id
  std::string detail;
  std::string clause;
};

struct Evaluation {
  Decision decision = Decision::kAllow;
  std::vector<Reason> reasons;
  std::vector<Duty> duties;
};

Evaluation Evaluate(const Policy& policy, const Context& context);

}  // namespace wg::policy
