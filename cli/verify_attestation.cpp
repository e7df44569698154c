#include "verify_attestation.h"

#include <cstdio>
#include <nlohmann/json.hpp>

#include "command.h"
#include "weightgate/core/file.h"
#include "weightgate/package/media_types.h"
#include "weightgate/package/package.h"
#include "weightgate/signing/keys.h"
#include "weightgate/verify/attestation.h"

namespace wg::cli {
namespace {
using ojson = nlohmann::ordered_json;
}  // namespace

bool PackageHasOnlyAttestations(const std::string& path) {
  if (!package::IsPackage(path)) return false;
  auto info = package::Inspect(path);
  if (!info.ok()) return false;  // the signature path reports what is wrong with it
  bool attestation = false, signature = false;
  for (const auto& l : info->layers) {
    attestation = attestation || l.descriptor.media_type == oci::kWeightgateAttestation;
    signature = signature || l.descriptor.media_type == oci::kWeightgateSignature;
  }
  return attestation && !signature;
}

int VerifyAttestationsVerb(const std::string& path, const std::string& pub,
                           const std::string& attestation_file, bool json, bool quiet) {
  ojson doc = {{"path", path}};
  auto fail = [&](const Error& e) {
    const int code = ExitCodeSplittingMalformed(e);
    if (!json) return ReportErrorSplittingMalformed(e);
    doc["ok"] = false;
    doc["exit_code"] = code;
    doc["error"] = e.ToString();
    std::printf("%s\n", doc.dump(2).c_str());
    return code;
  };
  if (pub.empty())
    return fail(Error::Usage("checking attestations needs the signer's key").Expected("--pub KEY"));
  auto key = signing::EcKey::ReadPublicKeyFile(pub);
  if (!key.ok()) return fail(key.error());
  auto subjects = verify::SubjectsOf(path);
  if (!subjects.ok()) return fail(subjects.error());

  std::vector<std::pair<std::string, std::string>> envelopes;  // source, text
  if (!attestation_file.empty()) {
    auto text = ReadSmallFile(attestation_file, 16 << 20);
    if (!text.ok()) return fail(text.error());
    envelopes.push_back({attestation_file, *text});
  } else {
    auto layers = verify::PackageAttestations(path);
    if (!layers.ok()) return fail(layers.error());
    for (size_t i = 0; i < layers->size(); ++i)
      envelopes.push_back({path + ": attestation " + std::to_string(i + 1), (*layers)[i]});
    if (envelopes.empty())
      return fail(Error::Mismatch("the package holds no attestation to check")
                      .File(path)
                      .Expected("an attestation layer (gpu-check --attest KEY --attach)"));
  }
  doc["attestations"] = ojson::array();
  for (const auto& [source, text] : envelopes) {
    auto v = verify::VerifyAttestation(text, *key, *subjects, source);
    if (!v.ok()) return fail(v.error());
    const ojson& p = v->predicate;
    ojson a = {{"source", source},
               {"keyid", v->keyid},
               {"subjects", v->subjects.size()},
               {"result", p.value("result", ojson("?"))},
               {"devices", p.value("devices", ojson::array())},
               {"time", p.value("time", ojson("?"))}};
    doc["attestations"].push_back(a);
    if (!json && !quiet) {
      std::string devices;
      for (const auto& d : a["devices"])
        devices += (devices.empty() ? "" : ", ") +
                   (d.is_string() ? d.get<std::string>() : d.value("name", std::string("?")));
      std::printf("verified attestation %s: %zu files, result %s on %s at %s\n", source.c_str(),
                  v->subjects.size(), a["result"].dump().c_str(), devices.c_str(),
                  a["time"].dump().c_str());
    }
  }
  if (json) {
    doc["ok"] = true;
    doc["exit_code"] = kExitOk;
    std::printf("%s\n", doc.dump(2).c_str());
  }
  return kExitOk;
}

}  // namespace wg::cli
