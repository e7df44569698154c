#include "weightgate/policy/receipt.h"

#include <nlohmann/json.hpp>

#include "weightgate/core/file.h"
#include "weightgate/policy/grant.h"
#include "weightgate/policy/recipients.h"

namespace wg::policy {
namespace {

using json = nlohmann::json;

json Unsigned(const Receipt& r) {
  return json{{"weightgate_receipt", 1},
              {"package", r.package},
              {"policy_digest", r.policy_digest},
              {"licence", r.licence},
              {"accepted_at", FormatUtcTime(r.accepted_at)},
              {"identity", r.identity_pem}};
}

}  // namespace

std::string Receipt::SignedBytes() const {
  return "weightgate-receipt-v1\n" + Unsigned(*this).dump();
}

Result<Receipt> IssueReceipt(const std::string& package, const Digest& policy_digest,
                             const std::string& licence, const signing::EcKey& identity,
                             int64_t now) {
  Receipt r;
  r.package = package;
  r.policy_digest = policy_digest.Prefixed();
  r.licence = licence;
  r.accepted_at = now;
  r.identity_pem = identity.PublicPem();
  WG_ASSIGN_OR_RETURN(r.signature, identity.Sign(r.SignedBytes()));
  return r;
}

std::string ReceiptToJson(const Receipt& r) {
  json j = Unsigned(r);
  j["signature"] = Base64(r.signature);
  return j.dump(2) + "\n";
}

Result<Receipt> VerifyReceiptFile(const std::string& path, const Digest& policy_digest) {
  WG_ASSIGN_OR_RETURN(std::string text, ReadSmallFile(path, 1 << 20));
  Receipt r;
  try {
    json j = json::parse(text);
    if (j.at("weightgate_receipt") != 1)
      return Error::Unsupported("unknown receipt version").File(path);
    r.package = j.at("package").get<std::string>();
    r.policy_digest = j.at("policy_digest").get<std::string>();
    r.licence = j.at("licence").get<std::string>();
    WG_ASSIGN_OR_RETURN(r.accepted_at, ParseUtcTime(j.at("accepted_at").get<std::string>()));
    r.identity_pem = j.at("identity").get<std::string>();
    WG_ASSIGN_OR_RETURN(r.signature, FromBase64(j.at("signature").get<std::string>()));
  } catch (const json::exception& e) {
    return Error::Malformed(std::string("not an acceptance receipt: ") + e.what()).File(path);
  }
  WG_ASSIGN_OR_RETURN(auto key, signing::EcKey::LoadPublicPem(r.identity_pem));
  if (!key.Verify(r.SignedBytes(), r.signature))
    return Error::BadSignature("acceptance receipt signature does not verify")
        .File(path)
        .Field("signature");
  if (r.policy_digest != policy_digest.Prefixed())
    return Error::Mismatch("receipt accepts another policy")
        .File(path)
        .Field("policy_digest")
        .Expected(policy_digest.Prefixed())
        .Found(r.policy_digest);
  return r;
}

}  // namespace wg::policy
