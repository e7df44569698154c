// Where a verb finds a release policy: a policy YAML file, or a package carrying one.
#pragma once

#include <string>

#include "weightgate/policy/policy.h"

namespace wg::cli {

// A .yaml/.yml file is read as a policy; a folder is read as a package holding a policy
// (a policy.yaml at its top, until the package layer is wired in).
Result<policy::Policy> LoadPolicyFrom(const std::string& target);

}  // namespace wg::cli
