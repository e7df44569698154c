// gpu-check --attest: the report as a signed in-toto attestation (verify/attestation.h),
// written to a file and/or attached to the checked package.
#pragma once

#include <nlohmann/json.hpp>
#include <string>

#include "weightgate/core/error.h"

namespace wg::cli {

struct AttestArgs {
  std::string key;  // EC private key (PEM)
  std::string passphrase_file;
  std::string output;  // -o/--attestation FILE
  bool attach = false;
};

// Signs `report` (gpu-check's JSON) about `path`; returns where it went, in words.
Result<std::string> WriteAttestation(const std::string& path, const AttestArgs& args,
                                     const nlohmann::ordered_json& report);

}  // namespace wg::cli
