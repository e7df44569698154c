#include "derivative.h"

#include <filesystem>
#include <nlohmann/json.hpp>

#include "weightgate/core/file.h"
#include "weightgate/policy/enforce.h"

namespace wg::cli {
namespace {

namespace fs = std::filesystem;

// "out/Llama-stories-q8.gguf" -> "Llama-stories-q8"; a folder keeps its name.
std::string NameFromOutput(const std::string& out) {
  std::string trimmed = out;
  while (trimmed.size() > 1 && trimmed.back() == '/') trimmed.pop_back();
  fs::path p(trimmed);
  std::string ext = p.extension().string();
  if (ext == ".gguf" || ext == ".safetensors") return p.stem().string();
  return p.filename().string();
}

}  // namespace

Result<Derivative> PlanDerivative(const ModelInput& in, const std::string& operation,
                                  const std::string& name, const std::string& out) {
  Derivative d;
  d.operation = operation;
  d.name = name;
  if (!in.policy) return d;
  if (d.name.empty()) d.name = NameFromOutput(out);
  WG_TRY(policy::RequireDerivativeName(in.policy->policy, operation, d.name, in.policy->source));
  d.inherits = policy::DerivativesInherit(in.policy->policy, operation);
  return d;
}

std::map<std::string, std::string> DerivativeMetadata(const ModelInput& in, const Derivative& d) {
  std::map<std::string, std::string> m;
  if (!d.name.empty()) m["general.name"] = d.name;
  if (!in.policy) return m;
  m["weightgate.parent.digest"] = in.parent_digest;
  m["weightgate.parent.name"] = in.parent_name;
  if (d.inherits) {
    m["weightgate.policy"] = in.policy->text;
    m["weightgate.policy.digest"] = in.policy->digest.Prefixed();
  }
  return m;
}

Result<std::vector<std::string>> WriteDerivativeRecords(const ModelInput& in, const Derivative& d,
                                                        const std::string& out) {
  std::vector<std::string> written;
  if (!in.policy) return written;
  std::error_code ec;
  fs::path dir = fs::is_directory(out, ec) ? fs::path(out) : fs::path(out).parent_path();
  nlohmann::ordered_json j = {{"name", d.name},
                              {"operation", d.operation},
                              {"output", fs::path(out).filename().string()},
                              {"parent", {{"digest", in.parent_digest}, {"name", in.parent_name}}},
                              {"policy_digest", in.policy->digest.Prefixed()},
                              {"inherits_policy", d.inherits}};
  if (d.inherits) {
    std::string pol = (dir / kInheritedPolicyFile).string();
    WG_TRY(WriteFileAtomically(pol, in.policy->text));
    written.push_back(pol);
  }
  std::string parent = (dir / kParentFile).string();
  WG_TRY(WriteFileAtomically(parent, j.dump(2) + "\n"));
  written.push_back(parent);
  return written;
}

}  // namespace wg::cli
