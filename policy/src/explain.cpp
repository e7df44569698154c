// `weightgate policy show`: a policy in plain words.
#include <sstream>

#include "weightgate/policy/policy.h"

namespace wg::policy {
namespace {

std::string TierWords(Tier t) {
  switch (t) {
    case Tier::kOpen:
      return "open: weights under an open licence, anyone may use them";
    case Tier::kOpenWeights:
      return "open weights: anyone may download them, under a licence with restrictions";
    case Tier::kGated:
      return "gated: weights are encrypted; a publisher-signed grant (or an accepted licence, with "
             "automatic approval) opens them";
    case Tier::kClosed:
      return "closed: weights are encrypted; only named recipients holding a grant can read them";
  }
  return "";
}

std::string Cite(const std::string& clause) {
  return clause.empty() ? "" : " [" + clause + "]";
}

std::string List(const std::vector<std::string>& v) {
  std::string s;
  for (const auto& x : v) s += (s.empty() ? "" : ", ") + x;
  return s;
}

}  // namespace

std::string ExplainPolicy(const Policy& p) {
  std::ostringstream o;
  if (!p.model.empty()) o << "Model: " << p.model << (p.multimodal ? " (multimodal)" : "") << "\n";
  o << "Tier: " << TierWords(p.tier) << "\n";
  o << "Licence: "
    << (p.licence.name.empty() ? p.licence.id : p.licence.name + " (" + p.licence.id + ")");
  if (!p.licence.catalogue.empty())
    o << ", clauses from the built-in catalogue entry '" << p.licence.catalogue << "'";
  o << "\n";
  if (p.licence.text)
    o << "  Licence text: "
      << (p.licence.text->file.empty() ? p.licence.text->url : p.licence.text->file)
      << (p.licence.text->sha256.empty()
              ? ""
              : " (sha256 " + p.licence.text->sha256.substr(0, 16) + "...)")
      << "\n";
  if (p.licence.use_policy)
    o << "  Acceptable-use policy: "
      << (p.licence.use_policy->file.empty() ? p.licence.use_policy->url
                                             : p.licence.use_policy->file)
      << "\n";
  o << "  "
    << (p.licence.acceptance_required ? "You must accept the licence before using the weights."
                                      : "No explicit acceptance is required.")
    << "\n";

  o << "\nWhat you may do:\n";
  for (const auto& name : OperationNames()) {
    auto it = p.operations.find(name);
    if (it == p.operations.end()) {
      o << "  " << name << ": not allowed (the policy does not mention it)\n";
      continue;
    }
    const auto& op = it->second;
    o << "  " << name << ": " << (op.allow ? "allowed" : "not allowed");
    if (op.allow && !op.requires_.empty()) o << ", provided you " << List(op.requires_);
    if (op.allow && op.inherit) o << "; the result carries this policy";
    o << Cite(op.clause) << "\n";
  }

  if (!p.restrictions.empty()) o << "\nRestrictions:\n";
  for (const auto& x : p.restrictions) {
    o << "  - ";
    if (x.id == "mau-cap")
      o << "If you (with affiliates) have more than " << x.max << " monthly active users"
        << (x.basis.empty() ? "" : " (" + x.basis + ")") << ", "
        << (x.on_exceed == "deny" ? "you may not use the weights"
                                  : "you need a separate licence from the licensor");
    else if (x.id == "field-of-use") {
      if (x.commercial && !*x.commercial) o << "No commercial use. ";
      if (!x.kinds.empty()) o << "Only for: " << List(x.kinds) << ". ";
      if (!x.purposes.empty()) o << "Purposes: " << List(x.purposes) << ".";
    } else if (x.id == "region")
      o << "Rights are not granted in " << List(x.deny_regions)
        << (x.when_multimodal ? " for multimodal models" : "")
        << (x.exempt.empty() ? "" : " (end users of a product built on the model are exempt)");
    else if (x.id == "prohibited-uses")
      o << "Prohibited uses apply" << (x.list.empty() ? "" : ": see " + x.list)
        << (x.categories.empty() ? "" : " (including " + List(x.categories) + ")");
    o << Cite(x.clause) << "\n";
  }

  if (!p.obligations.empty()) o << "\nYour obligations:\n";
  for (const auto& ob : p.obligations) {
    o << "  - " << ob.id << ": ";
    if (ob.id == "ship-licence")
      o << "ship " << List(ob.files) << " with every copy";
    else if (ob.id == "notice")
      o << "include the notice \"" << ob.text << "\"" << (ob.file.empty() ? "" : " in " + ob.file);
    else if (ob.id == "attribution")
      o << "display \"" << ob.display << "\" on a related website, user interface or documentation";
    else if (ob.id == "name-prefix")
      o << "a model made by " << List(ob.on) << " must have a name beginning with \"" << ob.prefix
        << "\"";
    else if (ob.id == "mark-changes")
      o << "modified files must say that they were changed";
    else if (ob.id == "keep-restrictions")
      o << "derivatives must carry at least the same use restrictions";
    o << Cite(ob.clause) << "\n";
  }

  if (p.access) {
    o << "\nAccess: approval is " << p.access->approval;
    if (p.access->grant_max_lifetime_days)
      o << "; grants last at most " << *p.access->grant_max_lifetime_days << " days";
    o << "\n";
    for (const auto& r : p.access->recipients)
      o << "  recipient " << r.name << (r.key.empty() ? "" : " (" + r.key + ")")
        << (r.fingerprint.empty() ? "" : " " + r.fingerprint) << "\n";
    for (const auto& r : p.access->registries) o << "  may be pushed to " << r << "\n";
    if (p.access->registries.empty() && p.tier == Tier::kClosed)
      o << "  may not be pushed to any registry (access.registries is empty)\n";
  }
  return o.str();
}

}  // namespace wg::policy
