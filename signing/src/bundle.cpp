#include "weightgate/signing/bundle.h"

#include <nlohmann/json.hpp>

namespace wg::signing {
namespace {

using ojson = nlohmann::ordered_json;
constexpr char kAlphabet[] = "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/";

int B64Value(char c) {
  if (c >= 'A' && c <= 'Z') return c - 'A';
  if (c >= 'a' && c <= 'z') return c - 'a' + 26;
  if (c >= '0' && c <= '9') return c - '0' + 52;
  if (c == '+') return 62;
  if (c == '/') return 63;
  return -1;
}

Error Bad(const std::string& field, const std::string& what) {
  return Error::Malformed(what).Field(field);
}

Result<std::string> GetString(const nlohmann::json& obj, const char* key, const std::string& path) {
  auto it = obj.find(key);
  if (it == obj.end()) return Bad(path + "." + key, "missing");
  if (!it->is_string()) return Bad(path + "." + key, "not a string");
  return it->get<std::string>();
}

}  // namespace

std::string Pae(std::string_view payload_type, std::string_view payload) {
  std::string s = "DSSEv1 " + std::to_string(payload_type.size()) + " ";
  s.append(payload_type);
  s += " " + std::to_string(payload.size()) + " ";
  s.append(payload);
  return s;
}

std::string Base64Encode(std::string_view in) {
  std::string out;
  out.reserve((in.size() + 2) / 3 * 4);
  size_t i = 0;
  auto u = [&](size_t k) { return static_cast<uint32_t>(static_cast<uint8_t>(in[k])); };
  for (; i + 3 <= in.size(); i += 3) {
    uint32_t v = u(i) << 16 | u(i + 1) << 8 | u(i + 2);
    for (int s = 18; s >= 0; s -= 6) out.push_back(kAlphabet[(v >> s) & 63]);
  }
  if (i + 1 == in.size()) {
    uint32_t v = u(i) << 16;
    out.push_back(kAlphabet[(v >> 18) & 63]);
    out.push_back(kAlphabet[(v >> 12) & 63]);
    out += "==";
  } else if (i + 2 == in.size()) {
    uint32_t v = u(i) << 16 | u(i + 1) << 8;
    out.push_back(kAlphabet[(v >> 18) & 63]);
    out.push_back(kAlphabet[(v >> 12) & 63]);
    out.push_back(kAlphabet[(v >> 6) & 63]);
    out += "=";
  }
  return out;
}

Result<std::string> Base64Decode(std::string_view in) {
  if (in.size() % 4 != 0)
    return Error::Malformed("base64 length is not a multiple of 4")
        .Found(std::to_string(in.size()));
  std::string out;
  out.reserve(in.size() / 4 * 3);
  for (size_t i = 0; i < in.size(); i += 4) {
    int v[4];
    int pad = 0;
    for (int k = 0; k < 4; ++k) {
      char c = in[i + k];
      if (c == '=' && i + 4 == in.size() && k >= 2) {
        v[k] = 0;
        ++pad;
        continue;
      }
      if (pad) return Error::Malformed("base64 padding in the middle").Offset(i + k);
      v[k] = B64Value(c);
      if (v[k] < 0) return Error::Malformed("invalid base64 character").Offset(i + k);
    }
    uint32_t w = static_cast<uint32_t>(v[0]) << 18 | static_cast<uint32_t>(v[1]) << 12 |
                 static_cast<uint32_t>(v[2]) << 6 | static_cast<uint32_t>(v[3]);
    out.push_back(static_cast<char>(w >> 16));
    if (pad < 2) out.push_back(static_cast<char>(w >> 8 & 255));
    if (pad < 1) out.push_back(static_cast<char>(w & 255));
  }
  return out;
}

std::string Bundle::ToJson() const {
  ojson material = ojson::object();
  if (!certificates.empty()) {
    ojson certs = ojson::array();
    for (const auto& c : certificates)
      certs.push_back(
          {{"rawBytes", Base64Encode(std::string_view(reinterpret_cast<const char*>(c.der.data()),
                                                      c.der.size()))}});
    material["x509CertificateChain"] = {{"certificates", certs}};
  } else {
    material["publicKey"] = ojson::object();
    if (key_hint) material["publicKey"]["hint"] = *key_hint;
  }
  material["tlogEntries"] = ojson::array();
  ojson sig = {{"sig", Base64Encode(std::string_view(
                           reinterpret_cast<const char*>(signature.data()), signature.size()))},
               {"keyid", keyid}};
  ojson envelope = {{"payload", Base64Encode(payload)},
                    {"payloadType", payload_type},
                    {"signatures", ojson::array({sig})}};
  ojson bundle = {{"mediaType", kBundleMediaType},
                  {"verificationMaterial", material},
                  {"dsseEnvelope", envelope}};
  return bundle.dump();
}

Result<Bundle> Bundle::Parse(std::string_view text) {
  nlohmann::json j;
  try {
    j = nlohmann::json::parse(text);
  } catch (const nlohmann::json::parse_error& e) {
    return Error::Malformed(std::string("bundle is not JSON: ") + e.what()).Offset(e.byte);
  } catch (const nlohmann::json::exception& e) {
    // Not only parse_error: a number too large for a double is out_of_range (406).
    return Error::Malformed(std::string("bundle is not JSON: ") + e.what());
  }
  if (!j.is_object()) return Bad("bundle", "not a JSON object");
  Bundle b;
  WG_ASSIGN_OR_RETURN(std::string media, GetString(j, "mediaType", "bundle"));
  if (media != kBundleMediaType)
    return Bad("mediaType", "unsupported bundle media type")
        .Expected(std::string(kBundleMediaType))
        .Found(media);

  auto vm = j.find("verificationMaterial");
  if (vm == j.end() || !vm->is_object())
    return Bad("verificationMaterial", "missing or not an object");
  if (auto chain = vm->find("x509CertificateChain"); chain != vm->end()) {
    const std::string field = "verificationMaterial.x509CertificateChain.certificates";
    if (!chain->is_object() || !chain->contains("certificates") ||
        !(*chain)["certificates"].is_array() || (*chain)["certificates"].empty())
      return Bad(field, "missing or empty");
    size_t i = 0;
    for (const auto& c : (*chain)["certificates"]) {
      std::string f = field + "[" + std::to_string(i++) + "]";
      if (!c.is_object()) return Bad(f, "not an object");
      WG_ASSIGN_OR_RETURN(std::string raw, GetString(c, "rawBytes", f));
      auto der = Base64Decode(raw);
      if (!der.ok()) return std::move(der.error().Field(f + ".rawBytes"));
      b.certificates.push_back({std::vector<uint8_t>(der->begin(), der->end())});
    }
  } else if (auto pk = vm->find("publicKey"); pk != vm->end()) {
    if (!pk->is_object()) return Bad("verificationMaterial.publicKey", "not an object");
    b.has_public_key = true;
    if (auto hint = pk->find("hint"); hint != pk->end() && !hint->is_null()) {
      if (!hint->is_string()) return Bad("verificationMaterial.publicKey.hint", "not a string");
      if (!hint->get<std::string>().empty()) b.key_hint = hint->get<std::string>();
    }
  } else {
    return Bad("verificationMaterial", "neither publicKey nor x509CertificateChain")
        .Expected("a key hint or a certificate chain (offline OMS methods)");
  }

  auto env = j.find("dsseEnvelope");
  if (env == j.end() || !env->is_object()) {
    if (j.contains("messageSignature"))
      return Error::Unsupported("message-signature bundles are not OMS model signatures")
          .Field("messageSignature");
    return Bad("dsseEnvelope", "missing or not an object");
  }
  WG_ASSIGN_OR_RETURN(std::string payload_b64, GetString(*env, "payload", "dsseEnvelope"));
  auto payload = Base64Decode(payload_b64);
  if (!payload.ok()) return std::move(payload.error().Field("dsseEnvelope.payload"));
  b.payload = std::move(*payload);
  WG_ASSIGN_OR_RETURN(b.payload_type, GetString(*env, "payloadType", "dsseEnvelope"));
  auto sigs = env->find("signatures");
  if (sigs == env->end() || !sigs->is_array() || sigs->empty() || !(*sigs)[0].is_object())
    return Bad("dsseEnvelope.signatures", "missing or empty");
  const auto& s0 = (*sigs)[0];
  WG_ASSIGN_OR_RETURN(std::string sig_b64, GetString(s0, "sig", "dsseEnvelope.signatures[0]"));
  auto sig = Base64Decode(sig_b64);
  if (!sig.ok()) return std::move(sig.error().Field("dsseEnvelope.signatures[0].sig"));
  if (sig->empty()) return Bad("dsseEnvelope.signatures[0].sig", "empty signature");
  b.signature.assign(sig->begin(), sig->end());
  if (auto kid = s0.find("keyid"); kid != s0.end() && kid->is_string())
    b.keyid = kid->get<std::string>();
  return b;
}

}  // namespace wg::signing
