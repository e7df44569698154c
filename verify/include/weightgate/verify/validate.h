// `weightgate validate`: everything a CI gate needs to know about a model file, a model
// folder or a package, as a list of small checks, each passed / failed / skipped / error
// with a message, a duration and the failure class it stands for, reported as JUnit XML
// (one <testcase> per check) and JSON.
//
// The checks, in order (docs/validate.md):
//   format      every weight file opens and every tensor span lies inside its file
//   pickle-scan no pickle imports a global off the allowlist (nothing is executed)
//   digests     package: every layer matches its digest (and the package signature's list);
//               folder: the files are what model.sig lists
//   signature   the package signature layer or model.sig verifies and its signer is trusted
//   policy      the release policy allows the use described by --context
//   smoke-cpu   a short greedy generation on the CPU reference: no NaN/Inf
//   golden      the package's golden record matches that CPU reference
//   smoke-gpu   the same on every visible GPU (--gpu auto|require|skip)
#pragma once

#include <cstdint>
#include <functional>
#include <nlohmann/json.hpp>
#include <optional>
#include <string>
#include <vector>

#include "weightgate/core/error.h"

namespace wg::verify {

enum class CheckStatus { kPassed, kFailed, kSkipped, kError };
const char* CheckStatusName(CheckStatus s);  // "passed", "failed", "skipped", "error"

// What a failing check means, one class per exit code of the CLI's table (README.md).
// Ordered by precedence: when several checks fail, the overall outcome is the failing
// class listed first here (integrity before policy: the policy of a tampered artifact
// means nothing; anything before "passed on the CPU only").
enum class FailureClass {
  kBadSignature,  // exit 4
  kUntrusted,     // exit 5: unknown signer, broken chain, or no signature where one was required
  kCheckFailed,   // exit 1: tampered or corrupt content, unsafe pickle, NaN/Inf, GPU required
  kMalformed,     // exit 9: a file, bundle or policy not in its format
  kIo,            // exit 8
  kDenied,        // exit 6
  kNeedsLicence,  // exit 7: needs acceptance or a separate licence
  kCpuOnly,       // exit 3: everything passed, but on the CPU reference only
  kNone,          // exit 0
};
const char* FailureClassName(FailureClass c);  // "bad-signature", ..., "cpu-only", "none"
// The overall outcome in words: FailureClassName, with kNone as "passed".
const char* OutcomeName(FailureClass c);
// The class of a check that could not run because of this error.
FailureClass FailureClassOf(const Error& e);

struct CheckResult {
  std::string name;  // "format", "pickle-scan", ...
  CheckStatus status = CheckStatus::kPassed;
  FailureClass failure = FailureClass::kNone;  // kNone unless failed or error
  std::string message;                         // one line
  std::vector<std::string> details;            // one finding per line (files, reasons)
  double seconds = 0;
};

enum class GpuMode { kAuto, kRequire, kSkip };
std::optional<GpuMode> GpuModeFromName(std::string_view name);  // "auto" | "require" | "skip"

struct ValidateOptions {
  std::string path;                      // a model file, a model folder or a package
  std::string public_key;                // PEM; empty: none
  std::vector<std::string> trust_roots;  // CA certificates (PEM files)
  std::string context;                   // context YAML; empty: the policy is not evaluated
  GpuMode gpu = GpuMode::kAuto;
  std::string prompt = "Once upon a time";
  int32_t tokens = 16;
  // Told when a check starts (progress on stderr); may be empty.
  std::function<void(const std::string& check)> on_check;
};

struct ValidateReport {
  std::string path;
  std::string kind;  // "file", "folder" or "package"
  std::vector<CheckResult> checks;
  // The overall outcome: the highest-precedence class among failed and errored checks,
  // else kCpuOnly when the GPU smoke pass was skipped in --gpu auto for want of a GPU,
  // else kNone.
  FailureClass Outcome() const;
  size_t Count(CheckStatus s) const;
};

// Runs every check. Fails only when the path itself is unusable (missing: kIo) or an
// option is (unreadable key or context: reported as an error check, not here). A package
// is extracted (digest-verified) into a temporary folder, removed afterwards.
Result<ValidateReport> Validate(const ValidateOptions& options);

// {"path", "kind", "outcome", "summary": {"passed", "failed", "skipped", "error"},
//  "checks": [{"name", "status", "message", "details", "duration_s", "failure_class"}]}
nlohmann::ordered_json ValidateJson(const ValidateReport& report);

// JUnit XML (the schema GitHub, GitLab and Jenkins read): one <testsuite> named
// "weightgate validate", one <testcase> per check with <failure>, <error> or <skipped>.
std::string ValidateJunitXml(const ValidateReport& report);

// Text escaped for XML 1.0 character data and attribute values: & < > " ' as entities,
// characters XML 1.0 cannot carry (controls other than tab/newline/CR) and invalid UTF-8
// replaced by U+FFFD.
std::string XmlEscape(std::string_view text);

}  // namespace wg::verify
