#include "weightgate/policy/grant.h"

#include <cctype>
#include <ctime>
#include <nlohmann/json.hpp>

#include "weightgate/core/file.h"

namespace wg::policy {
namespace {

using json = nlohmann::json;  // std::map-backed: keys sorted, so dump() is canonical

json Unsigned(const Grant& g) {
  json j;
  j["weightgate_grant"] = g.version;
  j["package"] = g.package;
  j["policy_digest"] = g.policy_digest;
  j["recipient"] = g.key.recipient;
  j["key"] = {{"algo", g.key.algo},
              {"ephemeral", Base64(g.key.ephemeral)},
              {"wrapped", Base64(g.key.wrapped)}};
  j["issued"] = FormatUtcTime(g.issued);
  if (g.expires) j["expires"] = FormatUtcTime(*g.expires);
  j["publisher"] = g.publisher_pem;
  return j;
}

}  // namespace

std::string Grant::SignedBytes() const {
  return "weightgate-grant-v1\n" + Unsigned(*this).dump();
}

Result<int64_t> ParseUtcTime(const std::string& text) {
  // Exactly "YYYY-MM-DD" or "YYYY-MM-DDTHH:MM:SSZ", digits where the pattern has D (no sign,
  // no spaces), and a real calendar date from 1970 on: FormatUtcTime must print the same
  // instant back in the same form (found by the grant fuzzer: years below 1000, leap
  // seconds rolling into year 10000 and 31 February did not round-trip).
  static constexpr std::string_view kDate = "DDDD-DD-DD", kTime = "DDDD-DD-DDTDD:DD:DDZ";
  auto bad = [&] {
    return Error::Usage("not a UTC date")
        .Expected("YYYY-MM-DD or YYYY-MM-DDTHH:MM:SSZ, from 1970")
        .Found(text);
  };
  std::string_view pattern = text.size() == kDate.size() ? kDate : kTime;
  if (text.size() != pattern.size()) return bad();
  for (size_t i = 0; i < pattern.size(); ++i)
    if (pattern[i] == 'D' ? !std::isdigit(static_cast<unsigned char>(text[i]))
                          : text[i] != pattern[i])
      return bad();
  auto num = [&](size_t at, size_t n) { return std::stoi(text.substr(at, n)); };
  int y = num(0, 4), mo = num(5, 2), d = num(8, 2), h = 0, mi = 0, s = 0;
  if (pattern == kTime) h = num(11, 2), mi = num(14, 2), s = num(17, 2);
  static constexpr int kDays[] = {31, 28, 31, 30, 31, 30, 31, 31, 30, 31, 30, 31};
  bool leap = (y % 4 == 0 && y % 100 != 0) || y % 400 == 0;
  if (y < 1970 || mo < 1 || mo > 12 || d < 1 || d > kDays[mo - 1] + (mo == 2 && leap) || h > 23 ||
      mi > 59 || s > 59)
    return bad();
  std::tm tm{};
  tm.tm_year = y - 1900;
  tm.tm_mon = mo - 1;
  tm.tm_mday = d;
  tm.tm_hour = h;
  tm.tm_min = mi;
  tm.tm_sec = s;
  return int64_t(timegm(&tm));
}

std::string FormatUtcTime(int64_t t) {
  std::time_t tt = std::time_t(t);
  std::tm tm{};
  gmtime_r(&tt, &tm);
  char buf[32];
  std::strftime(buf, sizeof buf, "%Y-%m-%dT%H:%M:%SZ", &tm);
  return buf;
}

Result<Grant> IssueGrant(const Key256& content_key, const RecipientKey& recipient,
                         const Digest& policy_digest, const std::string& package,
                         std::optional<int64_t> expires, const signing::EcKey& publisher,
                         int64_t now) {
  if (!publisher.has_private())
    return Error::Usage("issuing a grant needs the publisher's private key");
  if (expires && *expires <= now)
    return Error::Usage("the grant would already be expired")
        .Field("--expires")
        .Found(FormatUtcTime(*expires));
  Grant g;
  g.package = package;
  g.policy_digest = policy_digest.Prefixed();
  WG_ASSIGN_OR_RETURN(g.key, WrapContentKey(content_key, recipient, policy_digest));
  g.issued = now;
  g.expires = expires;
  g.publisher_pem = publisher.PublicPem();
  WG_ASSIGN_OR_RETURN(g.signature, publisher.Sign(g.SignedBytes()));
  return g;
}

std::string GrantToJson(const Grant& g) {
  json j = Unsigned(g);
  j["signature"] = Base64(g.signature);
  return j.dump(2) + "\n";
}

Result<Grant> ParseGrant(const std::string& text, const std::string& source) {
  json j;
  try {
    j = json::parse(text);
  } catch (const json::exception& e) {
    return Error::Malformed(std::string("grant is not JSON: ") + e.what()).File(source);
  }
  auto str = [&](const json& o, const char* key, const std::string& path) -> Result<std::string> {
    if (!o.is_object() || !o.contains(key) || !o[key].is_string())
      return Error::Malformed("missing or not a string").File(source).Field(path);
    return o[key].get<std::string>();
  };
  if (!j.is_object() || !j.contains("weightgate_grant") || j["weightgate_grant"] != 1)
    return Error::Malformed("not a weightgate grant")
        .File(source)
        .Field("weightgate_grant")
        .Expected("1");
  for (auto it = j.begin(); it != j.end(); ++it)
    if (it.key() != "weightgate_grant" && it.key() != "package" && it.key() != "policy_digest" &&
        it.key() != "recipient" && it.key() != "key" && it.key() != "issued" &&
        it.key() != "expires" && it.key() != "publisher" && it.key() != "signature")
      return Error::Malformed("unknown key").File(source).Field(it.key());
  Grant g;
  WG_ASSIGN_OR_RETURN(g.package, str(j, "package", "package"));
  WG_ASSIGN_OR_RETURN(g.policy_digest, str(j, "policy_digest", "policy_digest"));
  WG_ASSIGN_OR_RETURN(g.key.recipient, str(j, "recipient", "recipient"));
  if (!j.contains("key")) return Error::Malformed("missing").File(source).Field("key");
  WG_ASSIGN_OR_RETURN(g.key.algo, str(j["key"], "algo", "key.algo"));
  WG_ASSIGN_OR_RETURN(auto eph, str(j["key"], "ephemeral", "key.ephemeral"));
  WG_ASSIGN_OR_RETURN(auto wrapped, str(j["key"], "wrapped", "key.wrapped"));
  auto e = FromBase64(eph);
  if (!e.ok()) return std::move(e).error().File(source).Field("key.ephemeral");
  g.key.ephemeral = *e;
  auto w = FromBase64(wrapped);
  if (!w.ok()) return std::move(w).error().File(source).Field("key.wrapped");
  g.key.wrapped = *w;
  WG_ASSIGN_OR_RETURN(auto issued, str(j, "issued", "issued"));
  auto it = ParseUtcTime(issued);
  if (!it.ok()) return Error::Malformed("bad time").File(source).Field("issued").Found(issued);
  g.issued = *it;
  if (j.contains("expires")) {
    WG_ASSIGN_OR_RETURN(auto exp, str(j, "expires", "expires"));
    auto et = ParseUtcTime(exp);
    if (!et.ok()) return Error::Malformed("bad time").File(source).Field("expires").Found(exp);
    g.expires = *et;
  }
  WG_ASSIGN_OR_RETURN(g.publisher_pem, str(j, "publisher", "publisher"));
  WG_ASSIGN_OR_RETURN(auto sig, str(j, "signature", "signature"));
  auto s = FromBase64(sig);
  if (!s.ok()) return std::move(s).error().File(source).Field("signature");
  g.signature = *s;
  return g;
}

Result<Grant> ReadGrantFile(const std::string& path) {
  WG_ASSIGN_OR_RETURN(std::string text, ReadSmallFile(path, 1 << 20));
  return ParseGrant(text, path);
}

Result<Key256> OpenGrant(const Grant& g, const RecipientKey& identity,
                         const signing::EcKey& publisher, const Digest& policy_digest,
                         const std::string& package, int64_t now, const std::string& source) {
  if (!publisher.Verify(g.SignedBytes(), g.signature))
    return Error::BadSignature("grant is not signed by this release's publisher (forged or edited)")
        .File(source)
        .Field("signature");
  if (g.package != package)
    return Error::Mismatch("grant is for another package")
        .File(source)
        .Field("package")
        .Expected(package)
        .Found(g.package);
  if (g.policy_digest != policy_digest.Prefixed())
    return Error::Mismatch("grant is for another policy (the package's policy was changed)")
        .File(source)
        .Field("policy_digest")
        .Expected(policy_digest.Prefixed())
        .Found(g.policy_digest);
  if (g.expires && now >= *g.expires)
    return Error::Untrusted("grant expired on " + FormatUtcTime(*g.expires))
        .File(source)
        .Field("expires");
  if (now + 300 < g.issued)
    return Error::Untrusted("grant is not valid yet (issued " + FormatUtcTime(g.issued) + ")")
        .File(source)
        .Field("issued");
  if (g.key.recipient != identity.Fingerprint())
    return Error::Mismatch("grant is for another recipient")
        .File(source)
        .Field("recipient")
        .Expected(identity.Fingerprint())
        .Found(g.key.recipient);
  auto key = UnwrapContentKey(g.key, identity, policy_digest);
  if (!key.ok()) return std::move(key).error().File(source).Field("key");
  return key;
}

}  // namespace wg::policy
