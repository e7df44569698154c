// Where a verb finds a release policy: a policy YAML file, or a package carrying one.
#pragma once

#include <string>

#include "weightgate/core/hash.h"
#include "weightgate/policy/policy.h"

namespace wg::cli {

struct LoadedPolicy {
  policy::Policy policy;
  Digest digest;       // sha256 of the policy bytes (the layer blob, or the file)
  std::string source;  // what errors name
  std::string text;    // the policy's exact bytes (derivatives carry them unchanged)
};

// A package (OCI folder or .tar) is read through its policy layer
// (application/vnd.weightgate.policy.v1+yaml); a folder with a policy.yaml (a sealed
// release) through that file; anything else as a policy YAML file.
Result<LoadedPolicy> LoadPolicyFrom(const std::string& target);
// A policy held in memory (e.g. a derivative's weightgate.policy metadata).
Result<LoadedPolicy> PolicyFromText(const std::string& text, const std::string& source);

}  // namespace wg::cli
