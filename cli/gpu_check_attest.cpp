#include "gpu_check_attest.h"

#include <ctime>

#include "weightgate/core/file.h"
#include "weightgate/package/media_types.h"
#include "weightgate/package/package.h"
#include "weightgate/policy/grant.h"
#include "weightgate/signing/keys.h"
#include "weightgate/verify/attestation.h"

namespace wg::cli {
namespace {

using ojson = nlohmann::ordered_json;

// What the attestation says: where it ran, what came out, by which thresholds.
ojson Predicate(const ojson& report) {
  ojson p = ojson::object();
  p["tool"] = {{"name", "weightgate"}, {"version", WG_VERSION}};
  p["time"] = policy::FormatUtcTime(std::time(nullptr));
  ojson devices = ojson::array();
  for (const auto& d : report["devices"]) devices.push_back(d);
  p["devices"] = devices.empty() ? ojson::array({"cpu"}) : devices;
  p["result"] = report["result"];
  p["exit_code"] = report["exit_code"];
  p["format"] = report["format"];
  p["weights_dtype"] = report["weights_dtype"];
  ojson passes = ojson::array();
  for (const auto& pass : report["passes"]) {
    ojson q = ojson::object();
    for (const char* k : {"device", "prompt", "token_ids", "nan", "inf", "tokens_per_second",
                          "passed", "comparison"})
      if (pass.contains(k)) q[k] = pass[k];
    passes.push_back(q);
  }
  p["passes"] = passes;
  return p;
}

}  // namespace

Result<std::string> WriteAttestation(const std::string& path, const AttestArgs& args,
                                     const ojson& report) {
  if (args.output.empty() && !args.attach)
    return Error::Usage("--attest needs somewhere to put the attestation")
        .Expected("-o/--attestation FILE and/or --attach");
  if (args.attach && !package::IsPackage(path))
    return Error::Usage("--attach needs a package").File(path);
  std::optional<std::string> passphrase;
  if (!args.passphrase_file.empty()) {
    WG_ASSIGN_OR_RETURN(passphrase, signing::ReadPassphraseFile(args.passphrase_file));
  }
  WG_ASSIGN_OR_RETURN(signing::EcKey key, signing::EcKey::ReadPrivateKeyFile(args.key, passphrase));
  WG_ASSIGN_OR_RETURN(auto subjects, verify::SubjectsOf(path));
  WG_ASSIGN_OR_RETURN(std::string envelope,
                      verify::SignAttestation(subjects, Predicate(report), key));
  std::string where;
  if (!args.output.empty()) {
    WG_TRY(WriteFileAtomically(args.output, envelope));
    where = args.output;
  }
  if (args.attach) {
    package::ExtraLayer layer{std::string(oci::kWeightgateAttestation), envelope,
                              std::string(verify::kAttestationTitle)};
    WG_TRY(package::AttachLayer(path, layer));
    where += std::string(where.empty() ? "" : " and ") + "attached to " + path;
  }
  return where;
}

}  // namespace wg::cli
