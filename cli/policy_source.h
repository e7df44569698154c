// The CLI's view of verify/policy_source.h (where a verb finds a release policy).
#pragma once

#include "weightgate/verify/policy_source.h"

namespace wg::cli {

using verify::EvaluateLoadedPolicy;
using verify::LoadedPolicy;
using verify::LoadPolicyFrom;
using verify::PolicyFromText;

}  // namespace wg::cli
