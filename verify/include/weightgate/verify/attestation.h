// GPU-check attestations: "this artifact was checked there, with this result", as an
// in-toto statement (https://in-toto.io/Statement/v1) in a DSSE envelope signed with an
// ECDSA key from `weightgate keygen`.
//
//   {"payloadType": "application/vnd.in-toto+json", "payload": <base64 statement>,
//    "signatures": [{"keyid": <key hint>, "sig": <base64 DER ECDSA over the DSSE PAE>}]}
//
// The subject is the checked content, not the package's manifest: for a package every
// model-file layer (name = its file path, digest = the layer's sha256), which attaching an
// attestation, a signature or a golden record does not change; for a file its name and
// sha256; for a folder every regular file by relative path. The predicate
// (https://weightgate.dev/gpu-check/v1) is the gpu-check report: devices, result,
// thresholds, errors, tokens/s, tool version, time.
#pragma once

#include <nlohmann/json.hpp>
#include <string>
#include <string_view>
#include <vector>

#include "weightgate/core/error.h"
#include "weightgate/signing/keys.h"

namespace wg::verify {

inline constexpr std::string_view kGpuCheckPredicateType = "https://weightgate.dev/gpu-check/v1";
inline constexpr std::string_view kAttestationTitle = "gpu-check.attestation.json";

struct Subject {
  std::string name;
  std::string sha256;  // hex
  bool operator==(const Subject& o) const = default;
};

// What PATH's attestations vouch for (a package, a file or a folder), sorted by name.
Result<std::vector<Subject>> SubjectsOf(const std::string& path);

// The DSSE envelope (JSON text, one line and a newline) for this statement.
Result<std::string> SignAttestation(const std::vector<Subject>& subjects,
                                    const nlohmann::ordered_json& predicate,
                                    const signing::EcKey& key);

struct VerifiedAttestation {
  std::vector<Subject> subjects;
  nlohmann::ordered_json predicate;
  std::string keyid;
};
// Checks the envelope's signature with `key`, the statement's type and predicate type,
// and that its subjects are exactly `expected` (kMismatch names the first difference).
Result<VerifiedAttestation> VerifyAttestation(std::string_view envelope, const signing::EcKey& key,
                                              const std::vector<Subject>& expected,
                                              const std::string& source);

// The attestation layers of a package (their contents), in manifest order.
Result<std::vector<std::string>> PackageAttestations(const std::string& package);

}  // namespace wg::verify
