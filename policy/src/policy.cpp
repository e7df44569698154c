// Parsing and emitting the release-policy YAML (schema in docs/policy.md).
#include "weightgate/policy/policy.h"

#include <yaml-cpp/yaml.h>

#include <algorithm>

#include "weightgate/core/file.h"
#include "yaml_reader.h"

namespace wg::policy {
namespace {

using internal::Join;
using internal::YamlReader;

std::string Index(const std::string& path, size_t i) {
  return path + "[" + std::to_string(i) + "]";
}

bool IsHex64(const std::string& s) {
  return s.size() == 64 && s.find_first_not_of("0123456789abcdef") == std::string::npos;
}

Result<FileRef> ParseFileRef(const YamlReader& r, const YAML::Node& n, const std::string& path) {
  WG_TRY(r.CheckMap(n, path, {"file", "sha256", "url"}));
  FileRef f;
  WG_ASSIGN_OR_RETURN(auto file, r.OptString(n, "file", path));
  WG_ASSIGN_OR_RETURN(auto sha, r.OptString(n, "sha256", path));
  WG_ASSIGN_OR_RETURN(auto url, r.OptString(n, "url", path));
  if (!file && !url) return r.Fail(path, "needs file or url", "file: NAME", n);
  f.file = file.value_or("");
  f.url = url.value_or("");
  f.sha256 = sha.value_or("");
  if (!f.sha256.empty() && !IsHex64(f.sha256))
    return r.Fail(Join(path, "sha256"), "must be 64 lower-case hex digits", "sha256 hex",
                  n["sha256"]);
  return f;
}

Result<Licence> ParseLicence(const YamlReader& r, const YAML::Node& n) {
  const std::string path = "licence";
  WG_TRY(r.CheckMap(n, path, {"id", "catalogue", "name", "text", "use_policy", "acceptance"}));
  Licence l;
  WG_ASSIGN_OR_RETURN(auto id, r.OptString(n, "id", path));
  if (!id || id->empty())
    return r.Fail(Join(path, "id"), "missing", "an SPDX id or LicenseRef-...", n["id"]);
  if (id->find_first_of(" \t\n") != std::string::npos)
    return r.Fail(Join(path, "id"), "must be an SPDX id or LicenseRef-... without spaces",
                  "e.g. Apache-2.0, LicenseRef-Llama-3.1-Community", n["id"]);
  l.id = *id;
  WG_ASSIGN_OR_RETURN(auto cat, r.OptString(n, "catalogue", path));
  WG_ASSIGN_OR_RETURN(auto name, r.OptString(n, "name", path));
  l.catalogue = cat.value_or("");
  l.name = name.value_or("");
  if (n["text"].IsDefined()) {
    WG_ASSIGN_OR_RETURN(l.text, ParseFileRef(r, n["text"], Join(path, "text")));
  }
  if (n["use_policy"].IsDefined()) {
    WG_ASSIGN_OR_RETURN(l.use_policy, ParseFileRef(r, n["use_policy"], Join(path, "use_policy")));
  }
  WG_ASSIGN_OR_RETURN(auto acc, r.OptString(n, "acceptance", path));
  if (acc) {
    if (*acc == "required")
      l.acceptance_required = true;
    else if (*acc != "none")
      return r.Fail(Join(path, "acceptance"), "unknown value", "none | required", n["acceptance"]);
  }
  return l;
}

Result<Obligation> ParseObligation(const YamlReader& r, const YAML::Node& n,
                                   const std::string& path) {
  if (!n.IsMap()) return r.Fail(path, "must be a mapping", "{id: ...}", n);
  WG_ASSIGN_OR_RETURN(auto id, r.OptString(n, "id", path));
  if (!id) return r.Fail(Join(path, "id"), "missing", "an obligation id", n);
  Obligation o;
  o.id = *id;
  if (o.id == "ship-licence") {
    WG_TRY(r.CheckMap(n, path, {"id", "files", "clause"}));
  } else if (o.id == "notice") {
    WG_TRY(r.CheckMap(n, path, {"id", "file", "text", "clause"}));
  } else if (o.id == "attribution") {
    WG_TRY(r.CheckMap(n, path, {"id", "display", "clause"}));
  } else if (o.id == "name-prefix") {
    WG_TRY(r.CheckMap(n, path, {"id", "prefix", "on", "clause"}));
  } else if (o.id == "mark-changes" || o.id == "keep-restrictions") {
    WG_TRY(r.CheckMap(n, path, {"id", "text", "clause"}));
  } else {
    return r.Fail(
        Join(path, "id"), "unknown obligation",
        "ship-licence | notice | attribution | name-prefix | mark-changes | keep-restrictions",
        n["id"]);
  }
  WG_ASSIGN_OR_RETURN(o.files, r.OptStrings(n, "files", path));
  WG_ASSIGN_OR_RETURN(auto file, r.OptString(n, "file", path));
  WG_ASSIGN_OR_RETURN(auto text, r.OptString(n, "text", path));
  WG_ASSIGN_OR_RETURN(auto display, r.OptString(n, "display", path));
  WG_ASSIGN_OR_RETURN(auto prefix, r.OptString(n, "prefix", path));
  WG_ASSIGN_OR_RETURN(o.on, r.OptStrings(n, "on", path));
  WG_ASSIGN_OR_RETURN(auto clause, r.OptString(n, "clause", path));
  o.file = file.value_or("");
  o.text = text.value_or("");
  o.display = display.value_or("");
  o.prefix = prefix.value_or("");
  o.clause = clause.value_or("");
  if (o.id == "name-prefix" && o.prefix.empty())
    return r.Fail(Join(path, "prefix"), "missing", "the required name prefix", n);
  if (o.id == "attribution" && o.display.empty())
    return r.Fail(Join(path, "display"), "missing", "the attribution text", n);
  if (o.id == "ship-licence" && o.files.empty())
    return r.Fail(Join(path, "files"), "missing", "the files to ship", n);
  for (size_t i = 0; i < o.on.size(); ++i)
    if (!IsOperation(o.on[i]))
      return r.Fail(
          Index(Join(path, "on"), i), "unknown operation",
          "run | redistribute | convert | quantize | fine-tune | merge | host | train-on-outputs",
          n["on"][i]);
  return o;
}

Result<Restriction> ParseRestriction(const YamlReader& r, const YAML::Node& n,
                                     const std::string& path) {
  if (!n.IsMap()) return r.Fail(path, "must be a mapping", "{id: ...}", n);
  WG_ASSIGN_OR_RETURN(auto id, r.OptString(n, "id", path));
  if (!id) return r.Fail(Join(path, "id"), "missing", "a restriction id", n);
  Restriction x;
  x.id = *id;
  if (x.id == "mau-cap") {
    WG_TRY(r.CheckMap(n, path, {"id", "max", "basis", "on_exceed", "clause"}));
    WG_ASSIGN_OR_RETURN(auto max, r.OptUint(n, "max", path));
    if (!max) return r.Fail(Join(path, "max"), "missing", "the monthly-active-user cap", n);
    x.max = *max;
    WG_ASSIGN_OR_RETURN(auto basis, r.OptString(n, "basis", path));
    x.basis = basis.value_or("");
    WG_ASSIGN_OR_RETURN(auto ex, r.OptString(n, "on_exceed", path));
    if (ex) {
      if (*ex != "needs-separate-licence" && *ex != "deny")
        return r.Fail(Join(path, "on_exceed"), "unknown value", "needs-separate-licence | deny",
                      n["on_exceed"]);
      x.on_exceed = *ex;
    }
  } else if (x.id == "field-of-use") {
    WG_TRY(r.CheckMap(n, path, {"id", "commercial", "kinds", "purposes", "clause"}));
    WG_ASSIGN_OR_RETURN(x.commercial, r.OptBool(n, "commercial", path));
    WG_ASSIGN_OR_RETURN(x.kinds, r.OptStrings(n, "kinds", path));
    WG_ASSIGN_OR_RETURN(x.purposes, r.OptStrings(n, "purposes", path));
    for (size_t i = 0; i < x.kinds.size(); ++i)
      if (x.kinds[i] != "company" && x.kinds[i] != "individual" && x.kinds[i] != "research")
        return r.Fail(Index(Join(path, "kinds"), i), "unknown kind",
                      "company | individual | research", n["kinds"][i]);
  } else if (x.id == "region") {
    WG_TRY(r.CheckMap(n, path, {"id", "deny", "when", "exempt", "clause"}));
    WG_ASSIGN_OR_RETURN(x.deny_regions, r.OptStrings(n, "deny", path));
    if (x.deny_regions.empty()) return r.Fail(Join(path, "deny"), "missing", "regions to deny", n);
    if (n["when"].IsDefined()) {
      WG_TRY(r.CheckMap(n["when"], Join(path, "when"), {"multimodal"}));
      WG_ASSIGN_OR_RETURN(auto mm, r.OptBool(n["when"], "multimodal", Join(path, "when")));
      x.when_multimodal = mm.value_or(false);
    }
    WG_ASSIGN_OR_RETURN(x.exempt, r.OptStrings(n, "exempt", path));
    for (size_t i = 0; i < x.exempt.size(); ++i)
      if (x.exempt[i] != "end-user")
        return r.Fail(Index(Join(path, "exempt"), i), "unknown exemption", "end-user",
                      n["exempt"][i]);
  } else if (x.id == "prohibited-uses") {
    WG_TRY(r.CheckMap(n, path, {"id", "list", "categories", "clause"}));
    WG_ASSIGN_OR_RETURN(auto list, r.OptString(n, "list", path));
    x.list = list.value_or("");
    WG_ASSIGN_OR_RETURN(x.categories, r.OptStrings(n, "categories", path));
  } else {
    return r.Fail(Join(path, "id"), "unknown restriction",
                  "mau-cap | field-of-use | region | prohibited-uses", n["id"]);
  }
  WG_ASSIGN_OR_RETURN(auto clause, r.OptString(n, "clause", path));
  x.clause = clause.value_or("");
  return x;
}

Result<OperationRule> ParseOperation(const YamlReader& r, const YAML::Node& n,
                                     const std::string& path) {
  OperationRule op;
  if (n.IsScalar()) {
    if (n.Scalar() == "allow")
      op.allow = true;
    else if (n.Scalar() == "deny")
      op.allow = false;
    else
      return r.Fail(path, "unknown value", "allow | deny | {allow: ..., requires: [...]}", n);
    return op;
  }
  WG_TRY(r.CheckMap(n, path, {"allow", "inherit", "requires", "clause"}));
  WG_ASSIGN_OR_RETURN(auto allow, r.OptBool(n, "allow", path));
  if (!allow) return r.Fail(Join(path, "allow"), "missing", "true or false", n);
  op.allow = *allow;
  WG_ASSIGN_OR_RETURN(auto inherit, r.OptBool(n, "inherit", path));
  op.inherit = inherit.value_or(false);
  WG_ASSIGN_OR_RETURN(op.requires_, r.OptStrings(n, "requires", path));
  WG_ASSIGN_OR_RETURN(auto clause, r.OptString(n, "clause", path));
  op.clause = clause.value_or("");
  return op;
}

Result<uint64_t> ParseDays(const YamlReader& r, const YAML::Node& n, const std::string& path) {
  // ISO 8601 durations in whole days or weeks: P90D, P12W.
  WG_ASSIGN_OR_RETURN(std::string s, r.String(n, path));
  if (s.size() >= 3 && s[0] == 'P' && (s.back() == 'D' || s.back() == 'W')) {
    std::string num = s.substr(1, s.size() - 2);
    if (!num.empty() && num.size() <= 6 &&
        num.find_first_not_of("0123456789") == std::string::npos) {
      uint64_t v = std::stoull(num);
      if (v > 0) return s.back() == 'W' ? v * 7 : v;
    }
  }
  return r.Fail(path, "must be an ISO 8601 duration in days or weeks", "e.g. P90D", n);
}

Result<Access> ParseAccess(const YamlReader& r, const YAML::Node& n) {
  const std::string path = "access";
  WG_TRY(r.CheckMap(n, path, {"approval", "grant_max_lifetime", "recipients", "registries"}));
  Access a;
  WG_ASSIGN_OR_RETURN(auto approval, r.OptString(n, "approval", path));
  if (approval) {
    if (*approval != "auto" && *approval != "manual")
      return r.Fail(Join(path, "approval"), "unknown value", "auto | manual", n["approval"]);
    a.approval = *approval;
  }
  if (n["grant_max_lifetime"].IsDefined()) {
    WG_ASSIGN_OR_RETURN(a.grant_max_lifetime_days,
                        ParseDays(r, n["grant_max_lifetime"], Join(path, "grant_max_lifetime")));
  }
  YAML::Node rec = n["recipients"];
  if (rec.IsDefined() && !rec.IsNull()) {
    if (!rec.IsSequence()) return r.Fail(Join(path, "recipients"), "must be a list", "a list", rec);
    for (size_t i = 0; i < rec.size(); ++i) {
      std::string rp = Index(Join(path, "recipients"), i);
      WG_TRY(r.CheckMap(rec[i], rp, {"name", "key", "fingerprint"}));
      Recipient re;
      WG_ASSIGN_OR_RETURN(auto name, r.OptString(rec[i], "name", rp));
      WG_ASSIGN_OR_RETURN(auto key, r.OptString(rec[i], "key", rp));
      WG_ASSIGN_OR_RETURN(auto fp, r.OptString(rec[i], "fingerprint", rp));
      if (!name) return r.Fail(Join(rp, "name"), "missing", "the recipient's name", rec[i]);
      if (!key && !fp) return r.Fail(rp, "needs key or fingerprint", "key: FILE.pub", rec[i]);
      re.name = *name;
      re.key = key.value_or("");
      re.fingerprint = fp.value_or("");
      a.recipients.push_back(std::move(re));
    }
  }
  YAML::Node regs = n["registries"];
  if (regs.IsDefined() && !regs.IsNull()) {
    const std::string rp = Join(path, "registries");
    if (!regs.IsSequence())
      return r.Fail(rp, "must be a list", "[host[:port]/repository-prefix]", regs);
    for (size_t i = 0; i < regs.size(); ++i) {
      const std::string ip = Index(rp, i);
      if (!regs[i].IsScalar()) return r.Fail(ip, "must be a string", "host[:port]/prefix", regs[i]);
      std::string v = regs[i].Scalar();
      bool bad = v.empty() || v.find_first_of(" \t@") != std::string::npos ||
                 (v != "*" && (v.front() == '/' || v.find("://") != std::string::npos));
      if (bad)
        return r.Fail(ip, "not a registry", "host[:port] or host[:port]/repository-prefix or *",
                      regs[i]);
      a.registries.push_back(std::move(v));
    }
  }
  return a;
}

}  // namespace

std::string_view TierName(Tier t) {
  switch (t) {
    case Tier::kOpen:
      return "open";
    case Tier::kOpenWeights:
      return "open-weights";
    case Tier::kGated:
      return "gated";
    case Tier::kClosed:
      return "closed";
  }
  return "?";
}

std::optional<Tier> TierFromName(std::string_view n) {
  if (n == "open") return Tier::kOpen;
  if (n == "open-weights") return Tier::kOpenWeights;
  if (n == "gated") return Tier::kGated;
  if (n == "closed") return Tier::kClosed;
  return std::nullopt;
}

bool IsOperation(std::string_view name) {
  const auto& ops = OperationNames();
  return std::find(ops.begin(), ops.end(), name) != ops.end();
}

const Obligation* Policy::FindObligation(std::string_view id) const {
  for (const auto& o : obligations)
    if (o.id == id) return &o;
  return nullptr;
}

Result<Policy> ParsePolicy(const std::string& yaml, const std::string& source) {
  WG_ASSIGN_OR_RETURN(YAML::Node root, internal::LoadYaml(yaml, source));
  YamlReader r(source);
  WG_TRY(r.CheckMap(root, "",
                    {"weightgate_policy", "tier", "model", "multimodal", "licence", "obligations",
                     "restrictions", "operations", "access"}));
  Policy p;
  WG_ASSIGN_OR_RETURN(auto version, r.OptUint(root, "weightgate_policy", ""));
  if (!version)
    return r.Fail("weightgate_policy", "missing schema version", "weightgate_policy: 1", root);
  if (*version != kSchemaVersion)
    return Error::Unsupported("unsupported policy schema version")
        .File(source)
        .Field("weightgate_policy")
        .Expected("1")
        .Found(std::to_string(*version));
  p.version = int(*version);
  WG_ASSIGN_OR_RETURN(auto tier, r.OptString(root, "tier", ""));
  if (!tier) return r.Fail("tier", "missing", "open | open-weights | gated | closed", root);
  auto t = TierFromName(*tier);
  if (!t)
    return r.Fail("tier", "unknown tier", "open | open-weights | gated | closed", root["tier"]);
  p.tier = *t;
  WG_ASSIGN_OR_RETURN(auto model, r.OptString(root, "model", ""));
  p.model = model.value_or("");
  WG_ASSIGN_OR_RETURN(auto mm, r.OptBool(root, "multimodal", ""));
  p.multimodal = mm.value_or(false);
  if (!root["licence"].IsDefined()) return r.Fail("licence", "missing", "a licence mapping", root);
  WG_ASSIGN_OR_RETURN(p.licence, ParseLicence(r, root["licence"]));

  YAML::Node obl = root["obligations"];
  if (obl.IsDefined() && !obl.IsNull()) {
    if (!obl.IsSequence()) return r.Fail("obligations", "must be a list", "a list", obl);
    for (size_t i = 0; i < obl.size(); ++i) {
      WG_ASSIGN_OR_RETURN(auto o, ParseObligation(r, obl[i], Index("obligations", i)));
      p.obligations.push_back(std::move(o));
    }
  }
  YAML::Node res = root["restrictions"];
  if (res.IsDefined() && !res.IsNull()) {
    if (!res.IsSequence()) return r.Fail("restrictions", "must be a list", "a list", res);
    for (size_t i = 0; i < res.size(); ++i) {
      WG_ASSIGN_OR_RETURN(auto x, ParseRestriction(r, res[i], Index("restrictions", i)));
      p.restrictions.push_back(std::move(x));
    }
  }
  YAML::Node ops = root["operations"];
  if (!ops.IsDefined() || !ops.IsMap())
    return r.Fail("operations", ops.IsDefined() ? "must be a mapping" : "missing",
                  "operations: {run: allow, ...}", ops.IsDefined() ? ops : root);
  for (const auto& kv : ops) {
    std::string name = kv.first.Scalar();
    std::string path = Join("operations", name);
    if (!IsOperation(name))
      return r.Fail(
          path, "unknown operation",
          "run | redistribute | convert | quantize | fine-tune | merge | host | train-on-outputs",
          kv.first);
    WG_ASSIGN_OR_RETURN(auto op, ParseOperation(r, kv.second, path));
    p.operations[name] = std::move(op);
  }
  if (root["access"].IsDefined() && !root["access"].IsNull()) {
    WG_ASSIGN_OR_RETURN(p.access, ParseAccess(r, root["access"]));
  }
  WG_TRY(ValidatePolicy(p, source));
  return p;
}

Status ValidatePolicy(const Policy& p, const std::string& source) {
  if ((p.tier == Tier::kGated || p.tier == Tier::kClosed) && !p.access)
    return Error::Malformed("a " + std::string(TierName(p.tier)) +
                            " policy needs an access section")
        .File(source)
        .Field("access")
        .Expected("access: {approval: manual, grant_max_lifetime: P90D}");
  if ((p.tier == Tier::kOpen || p.tier == Tier::kOpenWeights) && p.access &&
      !p.access->recipients.empty())
    return Error::Malformed("recipients only make sense for gated or closed tiers")
        .File(source)
        .Field("access.recipients")
        .Expected("tier gated or closed");
  for (const auto& [name, op] : p.operations)
    for (size_t i = 0; i < op.requires_.size(); ++i)
      if (!p.FindObligation(op.requires_[i]))
        return Error::Malformed("requires an obligation the policy does not define")
            .File(source)
            .Field("operations." + name + ".requires[" + std::to_string(i) + "]")
            .Expected("an id from obligations")
            .Found(op.requires_[i]);
  for (size_t i = 0; i < p.restrictions.size(); ++i)
    for (size_t j = 0; j < i; ++j)
      if (p.restrictions[i].id == p.restrictions[j].id && p.restrictions[i].id != "region")
        return Error::Malformed("restriction given twice")
            .File(source)
            .Field("restrictions[" + std::to_string(i) + "].id")
            .Found(p.restrictions[i].id);
  return Ok();
}

Result<Policy> ReadPolicyFile(const std::string& path) {
  WG_ASSIGN_OR_RETURN(std::string text, ReadSmallFile(path, 1 << 20));
  return ParsePolicy(text, path);
}

namespace {

void EmitFileRef(YAML::Emitter& e, const FileRef& f) {
  e << YAML::BeginMap;
  if (!f.file.empty()) e << YAML::Key << "file" << YAML::Value << f.file;
  if (!f.sha256.empty()) e << YAML::Key << "sha256" << YAML::Value << f.sha256;
  if (!f.url.empty()) e << YAML::Key << "url" << YAML::Value << f.url;
  e << YAML::EndMap;
}

void EmitStrings(YAML::Emitter& e, const char* key, const std::vector<std::string>& v) {
  if (v.empty()) return;
  e << YAML::Key << key << YAML::Value << YAML::Flow << YAML::BeginSeq;
  for (const auto& s : v) e << s;
  e << YAML::EndSeq;
}

void EmitOpt(YAML::Emitter& e, const char* key, const std::string& v) {
  if (!v.empty()) e << YAML::Key << key << YAML::Value << YAML::DoubleQuoted << v;
}

}  // namespace

std::string PolicyToYaml(const Policy& p) {
  YAML::Emitter e;
  e << YAML::BeginMap;
  e << YAML::Key << "weightgate_policy" << YAML::Value << p.version;
  e << YAML::Key << "tier" << YAML::Value << std::string(TierName(p.tier));
  if (!p.model.empty()) e << YAML::Key << "model" << YAML::Value << p.model;
  if (p.multimodal) e << YAML::Key << "multimodal" << YAML::Value << true;
  e << YAML::Key << "licence" << YAML::Value << YAML::BeginMap;
  e << YAML::Key << "id" << YAML::Value << p.licence.id;
  if (!p.licence.catalogue.empty())
    e << YAML::Key << "catalogue" << YAML::Value << p.licence.catalogue;
  if (!p.licence.name.empty()) e << YAML::Key << "name" << YAML::Value << p.licence.name;
  if (p.licence.text) {
    e << YAML::Key << "text" << YAML::Value;
    EmitFileRef(e, *p.licence.text);
  }
  if (p.licence.use_policy) {
    e << YAML::Key << "use_policy" << YAML::Value;
    EmitFileRef(e, *p.licence.use_policy);
  }
  e << YAML::Key << "acceptance" << YAML::Value
    << (p.licence.acceptance_required ? "required" : "none");
  e << YAML::EndMap;
  if (!p.obligations.empty()) {
    e << YAML::Key << "obligations" << YAML::Value << YAML::BeginSeq;
    for (const auto& o : p.obligations) {
      e << YAML::BeginMap << YAML::Key << "id" << YAML::Value << o.id;
      EmitStrings(e, "files", o.files);
      EmitOpt(e, "file", o.file);
      EmitOpt(e, "text", o.text);
      EmitOpt(e, "display", o.display);
      EmitOpt(e, "prefix", o.prefix);
      EmitStrings(e, "on", o.on);
      EmitOpt(e, "clause", o.clause);
      e << YAML::EndMap;
    }
    e << YAML::EndSeq;
  }
  if (!p.restrictions.empty()) {
    e << YAML::Key << "restrictions" << YAML::Value << YAML::BeginSeq;
    for (const auto& x : p.restrictions) {
      e << YAML::BeginMap << YAML::Key << "id" << YAML::Value << x.id;
      if (x.id == "mau-cap") {
        e << YAML::Key << "max" << YAML::Value << x.max;
        EmitOpt(e, "basis", x.basis);
        e << YAML::Key << "on_exceed" << YAML::Value << x.on_exceed;
      }
      if (x.commercial) e << YAML::Key << "commercial" << YAML::Value << *x.commercial;
      EmitStrings(e, "kinds", x.kinds);
      EmitStrings(e, "purposes", x.purposes);
      EmitStrings(e, "deny", x.deny_regions);
      if (x.when_multimodal)
        e << YAML::Key << "when" << YAML::Value << YAML::Flow << YAML::BeginMap << YAML::Key
          << "multimodal" << YAML::Value << true << YAML::EndMap;
      EmitStrings(e, "exempt", x.exempt);
      EmitOpt(e, "list", x.list);
      EmitStrings(e, "categories", x.categories);
      EmitOpt(e, "clause", x.clause);
      e << YAML::EndMap;
    }
    e << YAML::EndSeq;
  }
  e << YAML::Key << "operations" << YAML::Value << YAML::BeginMap;
  for (const auto& name : OperationNames()) {
    auto it = p.operations.find(name);
    if (it == p.operations.end()) continue;
    const auto& op = it->second;
    e << YAML::Key << name << YAML::Value;
    if (!op.inherit && op.requires_.empty() && op.clause.empty()) {
      e << (op.allow ? "allow" : "deny");
      continue;
    }
    e << YAML::BeginMap << YAML::Key << "allow" << YAML::Value << op.allow;
    if (op.inherit) e << YAML::Key << "inherit" << YAML::Value << true;
    EmitStrings(e, "requires", op.requires_);
    EmitOpt(e, "clause", op.clause);
    e << YAML::EndMap;
  }
  e << YAML::EndMap;
  if (p.access) {
    e << YAML::Key << "access" << YAML::Value << YAML::BeginMap;
    e << YAML::Key << "approval" << YAML::Value << p.access->approval;
    if (p.access->grant_max_lifetime_days)
      e << YAML::Key << "grant_max_lifetime" << YAML::Value
        << ("P" + std::to_string(*p.access->grant_max_lifetime_days) + "D");
    if (!p.access->recipients.empty()) {
      e << YAML::Key << "recipients" << YAML::Value << YAML::BeginSeq;
      for (const auto& re : p.access->recipients) {
        e << YAML::BeginMap << YAML::Key << "name" << YAML::Value << re.name;
        EmitOpt(e, "key", re.key);
        EmitOpt(e, "fingerprint", re.fingerprint);
        e << YAML::EndMap;
      }
      e << YAML::EndSeq;
    }
    if (!p.access->registries.empty()) {
      e << YAML::Key << "registries" << YAML::Value << YAML::Flow << p.access->registries;
    }
    e << YAML::EndMap;
  }
  e << YAML::EndMap;
  return std::string(e.c_str()) + "\n";
}

}  // namespace wg::policy
