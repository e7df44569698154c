// The Sigstore bundle (v0.3 JSON) that carries an OMS signature, and its DSSE envelope.
//
//   {"mediaType": "application/vnd.dev.sigstore.bundle.v0.3+json",
//    "verificationMaterial": {"publicKey": {"hint": <hex>}  |  "x509CertificateChain":
//                             {"certificates": [{"rawBytes": <b64 DER>}, ...]}, "tlogEntries": []},
//    "dsseEnvelope": {"payload": <b64 statement>, "payloadType": "application/vnd.in-toto+json",
//                     "signatures": [{"sig": <b64 DER ECDSA>, "keyid": ""}]}}
//
// The signature covers the DSSE pre-authentication encoding of the payload bytes exactly
// as stored (never a re-serialisation of the JSON).
#pragma once

#include <cstdint>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "weightgate/core/error.h"
#include "weightgate/signing/keys.h"

namespace wg::signing {

inline constexpr std::string_view kBundleMediaType =
    "application/vnd.dev.sigstore.bundle.v0.3+json";
inline constexpr std::string_view kInTotoPayloadType = "application/vnd.in-toto+json";

// DSSE v1 PAE: "DSSEv1 <len(type)> <type> <len(payload)> <payload>".
std::string Pae(std::string_view payload_type, std::string_view payload);

std::string Base64Encode(std::string_view bytes);
// Standard alphabet with padding; anything else is refused.
Result<std::string> Base64Decode(std::string_view text);

struct Bundle {
  std::string payload;             // decoded statement bytes
  std::string payload_type;        // dsseEnvelope.payloadType
  std::vector<uint8_t> signature;  // signatures[0].sig, DER ECDSA
  std::string keyid;
  bool has_public_key = false;            // verificationMaterial.publicKey present
  std::optional<std::string> key_hint;    // publicKey.hint
  std::vector<Certificate> certificates;  // leaf first

  // Compact one-line JSON, fields in model_signing's order, no trailing newline.
  std::string ToJson() const;
  // Structural parse; no cryptography. Every failure is kMalformed naming the field.
  static Result<Bundle> Parse(std::string_view json);
};

}  // namespace wg::signing
