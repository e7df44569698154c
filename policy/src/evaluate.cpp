// The policy evaluator: ordered rules, each adding a reason with the clause behind it.
#include "weightgate/policy/evaluate.h"

#include <yaml-cpp/yaml.h>

#include <algorithm>
#include <set>

#include "weightgate/core/file.h"
#include "weightgate/policy/enforce.h"
#include "yaml_reader.h"

namespace wg::policy {
namespace {

using internal::YamlReader;

// EU member states (ISO 3166-1 alpha-2) for region rules written as "EU".
const std::set<std::string>& EuCountries() {
  static const std::set<std::string> eu = {"AT", "BE", "BG", "HR", "CY", "CZ", "DK", "EE", "FI",
                                           "FR", "DE", "GR", "HU", "IE", "IT", "LV", "LT", "LU",
                                           "MT", "NL", "PL", "PT", "RO", "SK", "SI", "ES", "SE"};
  return eu;
}

std::string Upper(std::string s) {
  for (auto& c : s) c = char(std::toupper(static_cast<unsigned char>(c)));
  return s;
}

bool RegionMatches(const std::string& region, const std::string& country) {
  std::string r = Upper(region), c = Upper(country);
  if (r == "EU") return EuCountries().count(c) > 0;
  return r == c;
}

std::string Clause(const Policy& p, const std::string& clause) {
  return ClauseText(p, clause);
}

class Evaluator {
 public:
  Evaluator(const Policy& p, const Context& c) : p_(p), c_(c) {}

  Evaluation Run() {
    if (!c_.operation) {
      Missing("operation", "context", "");
    } else if (!IsOperation(*c_.operation)) {
      Add(Decision::kDeny, "context", "", "unknown operation '" + *c_.operation + "'");
    } else {
      CheckTier();
      CheckOperation(*c_.operation);
      CheckAcceptance();
      for (const auto& x : p_.restrictions) CheckRestriction(x);
      CheckNaming(*c_.operation);
    }
    for (const auto& r : ev_.reasons) ev_.decision = std::max(ev_.decision, r.verdict);
    if (ev_.reasons.empty())
      ev_.reasons.push_back({Decision::kAllow, "operation " + c_.operation.value_or("?"),
                             Clause(p_, ""), "no rule restricts this use"});
    return std::move(ev_);
  }

 private:
  void Add(Decision d, std::string rule, std::string clause, std::string detail) {
    ev_.reasons.push_back({d, std::move(rule), std::move(clause), std::move(detail)});
  }
  void Missing(const std::string& key, const std::string& rule, const std::string& clause) {
    Add(Decision::kDeny, rule, clause, "context lacks " + key + " (needed by " + rule + ")");
  }

  void CheckTier() {
    if (p_.tier != Tier::kClosed && p_.tier != Tier::kGated) return;
    std::string rule = "tier " + std::string(TierName(p_.tier));
    bool manual = !p_.access || p_.access->approval == "manual";
    if (p_.tier == Tier::kGated && !manual) return;  // auto approval: acceptance suffices
    if (!c_.grant) return Missing("grant", rule, "");
    if (!*c_.grant)
      Add(Decision::kDeny, rule, "access.approval",
          std::string("a ") + std::string(TierName(p_.tier)) +
              " release is only readable with a publisher-signed grant");
  }

  void CheckOperation(const std::string& name) {
    std::string rule = "operation " + name;
    auto it = p_.operations.find(name);
    if (it == p_.operations.end()) {
      Add(Decision::kDeny, rule, Clause(p_, ""), "the policy does not allow " + name);
      return;
    }
    const OperationRule& op = it->second;
    if (!op.allow) {
      Add(Decision::kDeny, rule, Clause(p_, op.clause), "the policy forbids " + name);
      return;
    }
    for (const auto& req : op.requires_) {
      const Obligation* o = p_.FindObligation(req);
      if (!o) continue;
      ev_.duties.push_back({o->id, DutyText(*o), Clause(p_, o->clause)});
    }
  }

  static std::string DutyText(const Obligation& o) {
    if (o.id == "ship-licence") {
      std::string f;
      for (const auto& x : o.files) f += (f.empty() ? "" : ", ") + x;
      return "ship " + f + " with every copy";
    }
    if (o.id == "notice")
      return "include the notice \"" + o.text + "\"" + (o.file.empty() ? "" : " in " + o.file);
    if (o.id == "attribution") return "display \"" + o.display + "\"";
    if (o.id == "name-prefix") return "begin the derivative's name with \"" + o.prefix + "\"";
    if (o.id == "mark-changes") return "mark modified files as changed";
    if (o.id == "keep-restrictions")
      return "pass the use restrictions on to recipients of derivatives";
    return o.id;
  }

  void CheckAcceptance() {
    if (!p_.licence.acceptance_required) return;
    std::string rule = "licence acceptance";
    if (c_.receipt) return;
    if (!c_.accepted) return Missing("accepted", rule, Clause(p_, ""));
    if (!*c_.accepted)
      Add(Decision::kNeedsAcceptance, rule, Clause(p_, ""),
          "the licence must be accepted first (weightgate accept PKG --identity KEY)");
  }

  void CheckRestriction(const Restriction& x) {
    std::string rule = "restriction " + x.id;
    std::string clause = Clause(p_, x.clause);
    if (x.id == "mau-cap") {
      if (!c_.mau) return Missing("mau", rule, clause);
      if (*c_.mau > x.max) {
        Decision d = x.on_exceed == "deny" ? Decision::kDeny : Decision::kNeedsSeparateLicence;
        Add(d, rule, clause,
            std::to_string(*c_.mau) + " monthly active users exceeds the cap of " +
                std::to_string(x.max) +
                (d == Decision::kDeny ? "" : ": a separate licence from the licensor is needed"));
      }
    } else if (x.id == "field-of-use") {
      if (x.commercial && !*x.commercial) {
        if (!c_.commercial) return Missing("commercial", rule, clause);
        if (*c_.commercial) Add(Decision::kDeny, rule, clause, "commercial use is not permitted");
      }
      if (!x.kinds.empty()) {
        if (!c_.kind) return Missing("kind", rule, clause);
        if (std::find(x.kinds.begin(), x.kinds.end(), *c_.kind) == x.kinds.end()) {
          std::string k;
          for (const auto& s : x.kinds) k += (k.empty() ? "" : ", ") + s;
          Add(Decision::kDeny, rule, clause,
              "kind '" + *c_.kind + "' is not among the permitted users (" + k + ")");
        }
      }
    } else if (x.id == "region") {
      if (x.when_multimodal && !p_.multimodal) return;
      bool exempt_end_user =
          std::find(x.exempt.begin(), x.exempt.end(), "end-user") != x.exempt.end();
      if (exempt_end_user && c_.end_user_only.value_or(false)) return;
      if (!c_.country) return Missing("country", rule, clause);
      for (const auto& region : x.deny_regions)
        if (RegionMatches(region, *c_.country)) {
          Add(Decision::kDeny, rule, clause,
              "rights are not granted in " + Upper(*c_.country) +
                  (Upper(region) == "EU" ? " (EU)" : ""));
          return;
        }
    } else if (x.id == "prohibited-uses") {
      if (!x.categories.empty() && c_.use_categories) {
        for (const auto& u : *c_.use_categories)
          if (std::find(x.categories.begin(), x.categories.end(), u) != x.categories.end()) {
            Add(Decision::kDeny, rule, clause, "use category '" + u + "' is prohibited");
            return;
          }
      }
      ev_.duties.push_back(
          {"prohibited-uses",
           "comply with the prohibited-use list" + (x.list.empty() ? "" : " " + x.list), clause});
    }
  }

  // The same rule `convert` enforces (enforce.h NamePrefixFor): the obligation's `on`
  // lists the operation, or the operation requires name-prefix.
  void CheckNaming(const std::string& operation) {
    const Obligation* o = NamePrefixFor(p_, operation);
    if (!o) return;
    std::string rule = "obligation name-prefix";
    std::string clause = Clause(p_, o->clause);
    if (!c_.derivative_name) return Missing("derivative_name", rule, clause);
    if (c_.derivative_name->rfind(o->prefix, 0) != 0)
      Add(Decision::kDeny, rule, clause,
          "derivative name '" + *c_.derivative_name + "' must begin with \"" + o->prefix + "\"");
  }

  const Policy& p_;
  const Context& c_;
  Evaluation ev_;
};

}  // namespace

std::string_view DecisionName(Decision d) {
  switch (d) {
    case Decision::kAllow:
      return "allow";
    case Decision::kNeedsAcceptance:
      return "needs-acceptance";
    case Decision::kNeedsSeparateLicence:
      return "needs-separate-licence";
    case Decision::kDeny:
      return "deny";
  }
  return "?";
}

Evaluation Evaluate(const Policy& policy, const Context& context) {
  return Evaluator(policy, context).Run();
}

Result<Context> ParseContext(const std::string& yaml, const std::string& source) {
  WG_ASSIGN_OR_RETURN(YAML::Node root, internal::LoadYaml(yaml, source));
  YamlReader r(source);
  WG_TRY(r.CheckMap(root, "",
                    {"organisation", "kind", "country", "mau", "commercial", "operation",
                     "derivative_name", "accepted", "grant", "end_user_only", "use_categories"}));
  Context c;
  WG_ASSIGN_OR_RETURN(c.organisation, r.OptString(root, "organisation", ""));
  WG_ASSIGN_OR_RETURN(c.kind, r.OptString(root, "kind", ""));
  if (c.kind && *c.kind != "company" && *c.kind != "individual" && *c.kind != "research")
    return r.Fail("kind", "unknown kind", "company | individual | research", root["kind"]);
  WG_ASSIGN_OR_RETURN(c.country, r.OptString(root, "country", ""));
  if (c.country &&
      (c.country->size() != 2 || !std::isalpha(static_cast<unsigned char>((*c.country)[0])) ||
       !std::isalpha(static_cast<unsigned char>((*c.country)[1]))))
    return r.Fail("country", "must be an ISO 3166-1 alpha-2 code", "e.g. US, FR", root["country"]);
  WG_ASSIGN_OR_RETURN(c.mau, r.OptUint(root, "mau", ""));
  WG_ASSIGN_OR_RETURN(c.commercial, r.OptBool(root, "commercial", ""));
  WG_ASSIGN_OR_RETURN(c.operation, r.OptString(root, "operation", ""));
  if (c.operation && !IsOperation(*c.operation))
    return r.Fail(
        "operation", "unknown operation",
        "run | redistribute | convert | quantize | fine-tune | merge | host | train-on-outputs",
        root["operation"]);
  WG_ASSIGN_OR_RETURN(c.derivative_name, r.OptString(root, "derivative_name", ""));
  // accepted: true/false, or the path of an acceptance receipt.
  YAML::Node acc = root["accepted"];
  if (acc.IsDefined() && !acc.IsNull()) {
    if (acc.IsScalar() && (acc.Scalar() == "true" || acc.Scalar() == "false")) {
      c.accepted = acc.Scalar() == "true";
    } else {
      WG_ASSIGN_OR_RETURN(std::string receipt, r.String(acc, "accepted"));
      c.receipt = receipt;
      c.accepted = true;
    }
  }
  WG_ASSIGN_OR_RETURN(c.grant, r.OptBool(root, "grant", ""));
  WG_ASSIGN_OR_RETURN(c.end_user_only, r.OptBool(root, "end_user_only", ""));
  if (root["use_categories"].IsDefined()) {
    WG_ASSIGN_OR_RETURN(auto cats, r.OptStrings(root, "use_categories", ""));
    c.use_categories = std::move(cats);
  }
  return c;
}

Result<Context> ReadContextFile(const std::string& path) {
  WG_ASSIGN_OR_RETURN(std::string text, ReadSmallFile(path, 1 << 20));
  return ParseContext(text, path);
}

}  // namespace wg::policy
