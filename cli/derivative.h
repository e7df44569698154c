// What a derivative (convert, quantize) carries from its parent: the name rule, the
// inherited policy and the parent's digest, in the output's metadata and beside it.
//
// Metadata keys (GGUF string key/values; safetensors __metadata__), docs/policy.md:
//   general.name              the derivative's name (checked against a name-prefix rule)
//   weightgate.parent.digest  the parent package's manifest digest, or sha256 of the file
//   weightgate.parent.name    the parent package's name:version, or the file name
//   weightgate.policy         the parent's policy YAML, byte for byte (when the operation
//   weightgate.policy.digest  inherits: operations.<op>.inherit) and its sha256
// Beside the output (inside it for a folder): weightgate-policy.yaml (the same bytes, which
// `pack` picks up) and weightgate-parent.json.
#pragma once

#include <map>
#include <string>
#include <vector>

#include "model_input.h"

namespace wg::cli {

struct Derivative {
  std::string operation;  // convert | quantize
  std::string name;       // general.name ("" = keep the source's)
  bool inherits = false;  // the policy travels with the output
};

// Checks the naming rule (Error::Denied naming the clause) and decides what to carry.
// `name` is --name, or derived from the output file name when empty.
Result<Derivative> PlanDerivative(const ModelInput& in, const std::string& operation,
                                  const std::string& name, const std::string& out);

std::map<std::string, std::string> DerivativeMetadata(const ModelInput& in, const Derivative& d);

// Writes weightgate-policy.yaml / weightgate-parent.json beside `out` (inside it when it is
// a folder); returns the files written. Nothing when the input has no policy.
Result<std::vector<std::string>> WriteDerivativeRecords(const ModelInput& in, const Derivative& d,
                                                        const std::string& out);

}  // namespace wg::cli
