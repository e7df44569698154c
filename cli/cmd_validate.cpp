// weightgate validate PATH: the CI gate. Runs every check of verify/validate.h on a model
// file, folder or package, prints one line per check, writes JUnit XML and JSON reports,
// and exits with the code of the most serious failure class.
#include <cstdio>

#include "command.h"
#include "weightgate/core/file.h"
#include "weightgate/verify/validate.h"

namespace wg::cli {
namespace {

struct ValidateCliOptions {
  verify::ValidateOptions v;
  std::string gpu = "auto";
  std::string junit, json;
};

int ExitCodeOf(verify::FailureClass c) {
  switch (c) {
    case verify::FailureClass::kBadSignature:
      return kExitBadSignature;
    case verify::FailureClass::kUntrusted:
      return kExitUntrusted;
    case verify::FailureClass::kCheckFailed:
      return kExitCheckFailed;
    case verify::FailureClass::kMalformed:
      return kExitMalformed;
    case verify::FailureClass::kIo:
      return kExitIo;
    case verify::FailureClass::kDenied:
      return kExitDenied;
    case verify::FailureClass::kNeedsLicence:
      return kExitNeedsLicence;
    case verify::FailureClass::kCpuOnly:
      return kExitCpuOnly;
    case verify::FailureClass::kNone:
      return kExitOk;
  }
  return kExitCheckFailed;
}

const char* StatusWord(verify::CheckStatus s) {
  switch (s) {
    case verify::CheckStatus::kPassed:
      return "PASS ";
    case verify::CheckStatus::kFailed:
      return "FAIL ";
    case verify::CheckStatus::kSkipped:
      return "SKIP ";
    case verify::CheckStatus::kError:
      return "ERROR";
  }
  return "ERROR";
}

void PrintHuman(FILE* out, const verify::ValidateReport& r, int code) {
  std::fprintf(out, "validate %s (%s)\n", r.path.c_str(), r.kind.c_str());
  for (const auto& c : r.checks) {
    std::fprintf(out, "  %s %-12s %8.3f s  %s\n", StatusWord(c.status), c.name.c_str(), c.seconds,
                 c.message.c_str());
    if (c.status == verify::CheckStatus::kFailed || c.status == verify::CheckStatus::kError)
      for (const auto& d : c.details) std::fprintf(out, "      %s\n", d.c_str());
  }
  std::fprintf(out, "result: %s (exit %d): %zu passed, %zu failed, %zu skipped, %zu errors\n",
               verify::OutcomeName(r.Outcome()), code, r.Count(verify::CheckStatus::kPassed),
               r.Count(verify::CheckStatus::kFailed), r.Count(verify::CheckStatus::kSkipped),
               r.Count(verify::CheckStatus::kError));
}

int RunValidate(ValidateCliOptions& o, bool quiet) {
  o.v.gpu = *verify::GpuModeFromName(o.gpu);  // CLI11 checked the name
  const bool json_stdout = o.json == "-";
  if (!quiet)
    o.v.on_check = [](const std::string& name) {
      std::fprintf(stderr, "weightgate: validate: %s...\n", name.c_str());
    };
  auto report = verify::Validate(o.v);
  if (!report.ok()) return ReportErrorSplittingMalformed(report.error());
  const int code = ExitCodeOf(report->Outcome());

  nlohmann::ordered_json j = verify::ValidateJson(*report);
  j["exit_code"] = code;
  const std::string json_text =
      j.dump(2, ' ', false, nlohmann::ordered_json::error_handler_t::replace) + "\n";
  if (!o.junit.empty()) {
    Status s = WriteFileAtomically(o.junit, verify::ValidateJunitXml(*report));
    if (!s.ok()) return ReportError(s.error());
  }
  if (json_stdout) {
    std::fputs(json_text.c_str(), stdout);
  } else if (!o.json.empty()) {
    Status s = WriteFileAtomically(o.json, json_text);
    if (!s.ok()) return ReportError(s.error());
  }
  PrintHuman(json_stdout ? stderr : stdout, *report, code);
  return code;
}

}  // namespace

void RegisterValidate(CLI::App& app, const GlobalOptions& global, Runner* run) {
  auto o = std::make_shared<ValidateCliOptions>();
  auto* cmd = app.add_subcommand(
      "validate", "Every check a CI gate needs on a model file, folder or package (JUnit, JSON)");
  cmd->add_option("PATH", o->v.path, "a model file, a model folder or a package (folder or .tar)")
      ->required();
  auto* pub = cmd->add_option("--pub", o->v.public_key, "Trusted public key (PEM)");
  auto* roots = cmd->add_option("--trust-root", o->v.trust_roots, "Trusted CA certificate(s) (PEM)")
                    ->expected(1, -1);
  pub->excludes(roots);
  cmd->add_option("--context", o->v.context,
                  "Context YAML the release policy is evaluated against");
  cmd->add_option("--gpu", o->gpu, "GPU smoke pass: auto | require | skip")
      ->check(CLI::IsMember({"auto", "require", "skip"}))
      ->default_val("auto");
  cmd->add_option("--junit", o->junit, "Write a JUnit XML report (one test case per check)");
  cmd->add_option("--json", o->json, "Write the JSON report to FILE ('-': stdout, only it)");
  cmd->add_option("--prompt", o->v.prompt, "Smoke pass prompt")->default_val("Once upon a time");
  cmd->add_option("--tokens", o->v.tokens, "Smoke pass tokens to generate")->default_val(16);
  cmd->footer(
      "Checks, each a JUnit test case and a JSON entry (passed, failed, skipped or error):\n"
      "  format       every weight file opens; every tensor span inside its file\n"
      "  pickle-scan  no pickle imports a global off the allowlist (never executed)\n"
      "  digests      package layers match their digests (and the package signature's\n"
      "               list); files match model.sig (without a key: the digests it claims)\n"
      "  signature    the package signature layer, or model.sig, verifies with --pub or\n"
      "               --trust-root (skipped when no key is given; FAILS when a key is given\n"
      "               and nothing is signed)\n"
      "  policy       the release policy allows the --context use (skipped without one)\n"
      "  smoke-cpu    a short greedy generation on the CPU reference: no NaN or Inf\n"
      "  golden       the CPU reference matches the package's golden record (pack writes it)\n"
      "  smoke-gpu    every visible GPU (CUDA twin) over the CPU pass's tokens, logits within\n"
      "               tolerance of the CPU's: --gpu auto skips it without a GPU (exit 3),\n"
      "               require fails without one (exit 1), skip leaves it out (exit 0)\n\n"
      "Exit codes (several failures: the first class in this order wins):\n"
      "  4  bad signature\n"
      "  5  untrusted signer, or a key was given and nothing is signed\n"
      "  1  a check failed: tampered or corrupt content, unsafe pickle, NaN/Inf, GPU required\n"
      "  9  malformed input (a model file, signature, policy or context)\n"
      "  8  I/O error\n"
      "  6  denied by the release policy\n"
      "  7  needs licence acceptance or a separate licence\n"
      "  3  everything passed, on the CPU reference only (--gpu auto, no GPU)\n"
      "  0  everything passed\n"
      "  2  usage error\n\n"
      "Examples:\n"
      "  weightgate validate ./release --pub release.pub --junit validate.xml\n"
      "  weightgate validate model.tar --trust-root ca.pem --context ctx.yaml --json - --gpu skip");
  cmd->callback(
      [run, o, &global] { *run = [o, &global] { return RunValidate(*o, global.quiet); }; });
}

}  // namespace wg::cli
