// Package verbs: init, pack, unpack; and inspect's handler for packages.
#pragma once

#include <string>

#include "command.h"

namespace wg::cli {

void RegisterPackageVerbs(CLI::App& app, const GlobalOptions& global, Runner* run);
// True for an OCI layout folder or a tar: `inspect` hands such paths to InspectPackageVerb.
bool IsPackage(const std::string& path);
int InspectPackageVerb(const std::string& path, bool json);

}  // namespace wg::cli
