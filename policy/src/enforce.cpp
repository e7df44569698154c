#include "weightgate/policy/enforce.h"

#include <algorithm>

namespace wg::policy {

std::string ClauseText(const Policy& p, const std::string& clause) {
  std::string lic = p.licence.name.empty() ? p.licence.id : p.licence.name;
  if (clause.empty()) return lic;
  return lic + " " + clause;
}

namespace {

std::string TierText(const Policy& p) {
  return std::string(TierName(p.tier));
}

}  // namespace

Status RequireOperation(const Policy& p, const std::string& operation, const std::string& source) {
  auto it = p.operations.find(operation);
  if (it == p.operations.end())
    return Error::Denied("the " + TierText(p) + " release policy does not allow " + operation +
                         " (an operation it does not list is not allowed; " + ClauseText(p, "") +
                         ")")
        .File(source)
        .Field("operations." + operation);
  if (!it->second.allow)
    return Error::Denied("the " + TierText(p) + " release policy forbids " + operation + " (" +
                         ClauseText(p, it->second.clause) + ")")
        .File(source)
        .Field("operations." + operation);
  return Ok();
}

Status RequireGrant(const Policy& p, bool have_identity, const std::string& source) {
  if (p.tier != Tier::kGated && p.tier != Tier::kClosed) return Ok();
  if (have_identity) return Ok();
  return Error::Denied("a " + TierText(p) +
                       " release is only readable with a publisher-signed grant: pass "
                       "--identity KEY (and --grant GRANT unless the package holds one for you) (" +
                       ClauseText(p, "") + ", tier " + TierText(p) + ", access)")
      .File(source)
      .Field("access");
}

Status RequireAcceptance(const Policy& p, bool have_receipt, const std::string& source) {
  if (!p.licence.acceptance_required || have_receipt) return Ok();
  return Error::NeedsLicence("the licence " + p.licence.id +
                             " must be accepted first: weightgate accept PKG --identity KEY -o "
                             "R.receipt, then pass --receipt R.receipt (" +
                             ClauseText(p, "") + ", licence.acceptance: required)")
      .File(source)
      .Field("licence.acceptance");
}

const Obligation* NamePrefixFor(const Policy& p, const std::string& operation) {
  auto op = p.operations.find(operation);
  for (const auto& o : p.obligations) {
    if (o.id != "name-prefix") continue;
    bool on = std::find(o.on.begin(), o.on.end(), operation) != o.on.end();
    bool required = op != p.operations.end() &&
                    std::find(op->second.requires_.begin(), op->second.requires_.end(),
                              "name-prefix") != op->second.requires_.end();
    if (on || required) return &o;
  }
  return nullptr;
}

Status RequireDerivativeName(const Policy& p, const std::string& operation, const std::string& name,
                             const std::string& source) {
  const Obligation* o = NamePrefixFor(p, operation);
  if (!o || name.rfind(o->prefix, 0) == 0) return Ok();
  return Error::Denied("a derivative made by " + operation + " must have a name beginning with \"" +
                       o->prefix + "\" (" + ClauseText(p, o->clause) + ")")
      .File(source)
      .Field("obligations.name-prefix")
      .Expected(o->prefix + "...")
      .Found(name);
}

bool DerivativesInherit(const Policy& p, const std::string& operation) {
  auto it = p.operations.find(operation);
  return it != p.operations.end() && it->second.inherit;
}

namespace {

// "host[:port]" matches every repository there; "host[:port]/prefix" the repositories at
// or below that path ("team" matches "team" and "team/x", not "teamx").
bool RegistryMatches(const std::string& entry, const std::string& registry,
                     const std::string& repository) {
  if (entry == "*") return true;
  size_t slash = entry.find('/');
  if (slash == std::string::npos) return entry == registry;
  if (entry.substr(0, slash) != registry) return false;
  std::string prefix = entry.substr(slash + 1);
  while (!prefix.empty() && prefix.back() == '/') prefix.pop_back();
  if (prefix.empty()) return true;
  if (repository.rfind(prefix, 0) != 0) return false;
  return repository.size() == prefix.size() || repository[prefix.size()] == '/';
}

}  // namespace

Status RequirePushTarget(const Policy& p, const std::string& registry,
                         const std::string& repository, const std::string& source) {
  const std::vector<std::string> none;
  const auto& list = p.access ? p.access->registries : none;
  if (list.empty()) {
    if (p.tier != Tier::kClosed) return Ok();
    return Error::Denied(
               "a closed release may only be pushed to the registries its policy lists, "
               "and it lists none (" +
               ClauseText(p, "") + ", access.registries)")
        .File(source)
        .Field("access.registries")
        .Expected("access.registries: [host[:port]/repository-prefix]")
        .Found(registry + "/" + repository);
  }
  for (const auto& e : list)
    if (RegistryMatches(e, registry, repository)) return Ok();
  std::string allowed;
  for (const auto& e : list) allowed += (allowed.empty() ? "" : ", ") + e;
  return Error::Denied("the release policy does not allow pushing to this registry (" +
                       ClauseText(p, "") + ", access.registries)")
      .File(source)
      .Field("access.registries")
      .Expected(allowed)
      .Found(registry + "/" + repository);
}

}  // namespace wg::policy
