// Package verbs: init, pack, unpack; and inspect's handler for packages.
#pragma once

#include <string>
#include <vector>

#include "command.h"

namespace wg::cli {

void RegisterPackageVerbs(CLI::App& app, const GlobalOptions& global, Runner* run);
// True for an OCI layout folder or a tar: `inspect` hands such paths to InspectPackageVerb.
bool IsPackage(const std::string& path);
// A key or trust roots to verify a package's signature with while inspecting it (empty:
// show who signed, unverified).
struct InspectTrust {
  std::string pub;
  std::vector<std::string> trust_roots;
};
int InspectPackageVerb(const std::string& path, bool json, const InspectTrust& trust = {});

}  // namespace wg::cli
