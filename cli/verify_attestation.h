// weightgate verify's attestation checks: a gpu-check attestation file against an
// artifact (--attestation FILE), or every attestation layer of a package.
#pragma once

#include <string>

namespace wg::cli {

// A package with attestation layers and no signature layer: `verify PKG` checks those.
bool PackageHasOnlyAttestations(const std::string& path);

// Returns the exit code (0 all verified, 1 subject mismatch or none to check, 4 bad
// signature, 9 malformed) after printing the result (one JSON document with `json`).
int VerifyAttestationsVerb(const std::string& path, const std::string& pub,
                           const std::string& attestation_file, bool json, bool quiet);

}  // namespace wg::cli
