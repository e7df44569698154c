// validate: prepares the subject (a package is extracted first) and runs the checks in order.
#include "weightgate/verify/validate.h"

#include <stdlib.h>

#include <chrono>
#include <filesystem>

#include "validate_subject.h"
#include "weightgate/policy/seal.h"

namespace wg::verify {

namespace fs = std::filesystem;

const char* CheckStatusName(CheckStatus s) {
  switch (s) {
    case CheckStatus::kPassed:
      return "passed";
    case CheckStatus::kFailed:
      return "failed";
    case CheckStatus::kSkipped:
      return "skipped";
    case CheckStatus::kError:
      return "error";
  }
  return "error";
}

const char* FailureClassName(FailureClass c) {
  switch (c) {
    case FailureClass::kBadSignature:
      return "bad-signature";
    case FailureClass::kUntrusted:
      return "untrusted";
    case FailureClass::kCheckFailed:
      return "check-failed";
    case FailureClass::kMalformed:
      return "malformed";
    case FailureClass::kIo:
      return "io";
    case FailureClass::kDenied:
      return "denied";
    case FailureClass::kNeedsLicence:
      return "needs-licence";
    case FailureClass::kCpuOnly:
      return "cpu-only";
    case FailureClass::kNone:
      return "none";
  }
  return "none";
}

const char* OutcomeName(FailureClass c) {
  return c == FailureClass::kNone ? "passed" : FailureClassName(c);
}

FailureClass FailureClassOf(const Error& e) {
  switch (e.code()) {
    case ErrorCode::kUsage:
    case ErrorCode::kMalformed:
    case ErrorCode::kUnsupported:
      return FailureClass::kMalformed;
    case ErrorCode::kUnsafe:
    case ErrorCode::kMismatch:
      return FailureClass::kCheckFailed;
    case ErrorCode::kIo:
      return FailureClass::kIo;
    case ErrorCode::kBadSignature:
      return FailureClass::kBadSignature;
    case ErrorCode::kUntrusted:
      return FailureClass::kUntrusted;
    case ErrorCode::kDenied:
      return FailureClass::kDenied;
    case ErrorCode::kNeedsLicence:
      return FailureClass::kNeedsLicence;
  }
  return FailureClass::kMalformed;
}

std::optional<GpuMode> GpuModeFromName(std::string_view name) {
  if (name == "auto") return GpuMode::kAuto;
  if (name == "require") return GpuMode::kRequire;
  if (name == "skip") return GpuMode::kSkip;
  return std::nullopt;
}

FailureClass ValidateReport::Outcome() const {
  FailureClass worst = FailureClass::kNone;
  bool cpu_only = false;
  for (const auto& c : checks) {
    if (c.status == CheckStatus::kFailed || c.status == CheckStatus::kError)
      worst = std::min(worst, c.failure);
    if (c.status == CheckStatus::kSkipped && c.failure == FailureClass::kCpuOnly) cpu_only = true;
  }
  if (worst == FailureClass::kNone && cpu_only) return FailureClass::kCpuOnly;
  return worst;
}

size_t ValidateReport::Count(CheckStatus s) const {
  size_t n = 0;
  for (const auto& c : checks) n += c.status == s;
  return n;
}

namespace internal {

CheckResult Passed(std::string name, std::string message) {
  CheckResult r;
  r.name = std::move(name);
  r.message = std::move(message);
  return r;
}

CheckResult Skipped(std::string name, std::string message) {
  CheckResult r = Passed(std::move(name), std::move(message));
  r.status = CheckStatus::kSkipped;
  return r;
}

CheckResult Failed(std::string name, FailureClass c, std::string message) {
  CheckResult r = Passed(std::move(name), std::move(message));
  r.status = CheckStatus::kFailed;
  r.failure = c;
  return r;
}

CheckResult Errored(std::string name, const Error& e) {
  CheckResult r = Passed(std::move(name), e.ToString());
  r.status = CheckStatus::kError;
  r.failure = FailureClassOf(e);
  return r;
}

namespace {

// A private folder under $TMPDIR, removed with everything in it when this goes.
class ScratchDir {
 public:
  ScratchDir() {
    std::string templ = (fs::temp_directory_path() / "weightgate-validate-XXXXXX").string();
    if (mkdtemp(templ.data())) path_ = templ;
  }
  ~ScratchDir() {
    std::error_code ec;
    if (!path_.empty()) fs::remove_all(path_, ec);
  }
  const std::string& path() const { return path_; }

 private:
  std::string path_;
};

// Fills in what the checks read; a package is extracted into `scratch`.
Status Prepare(const ValidateOptions& o, const ScratchDir& scratch, Subject* s) {
  std::error_code ec;
  if (!fs::exists(o.path, ec)) return Error::Io("no such file or folder").File(o.path);
  if (package::IsPackage(o.path)) {
    s->kind = "package";
    WG_ASSIGN_OR_RETURN(s->package, package::Inspect(o.path));
    if (scratch.path().empty())
      return Error::Io("cannot create a temporary folder").File(fs::temp_directory_path());
    package::UnpackOptions uo;
    uo.output = (fs::path(scratch.path()) / "model").string();
    auto unpacked = package::Unpack(o.path, uo);
    if (unpacked.ok()) {
      s->extracted_files = unpacked->files;
      s->model_dir = uo.output;
    } else {
      s->extract_error = unpacked.error();
    }
  } else if (fs::is_directory(o.path, ec)) {
    s->kind = "folder";
    s->model_dir = o.path;
  } else {
    s->kind = "file";
  }
  s->scan_path = s->kind == "file" ? o.path : s->model_dir;
  s->sealed = !s->model_dir.empty() &&
              fs::is_regular_file(fs::path(s->model_dir) / policy::kGatingFile, ec);
  if (!s->scan_path.empty() && !s->sealed) s->scan = ScanPath(s->scan_path);
  return Ok();
}

}  // namespace
}  // namespace internal

Result<ValidateReport> Validate(const ValidateOptions& options) {
  using namespace internal;
  ScratchDir scratch;
  Subject subject;
  subject.options = &options;
  WG_TRY(Prepare(options, scratch, &subject));

  static constexpr struct {
    const char* name;
    CheckFn run;
  } kChecks[] = {
      {"format", CheckFormat},       {"pickle-scan", CheckPickles}, {"digests", CheckDigests},
      {"signature", CheckSignature}, {"policy", CheckPolicy},       {"smoke-cpu", CheckSmokeCpu},
      {"golden", CheckGolden},  // after smoke-cpu: compares the model it loaded
      {"smoke-gpu", CheckSmokeGpu},
  };
  ValidateReport report;
  report.path = options.path;
  report.kind = subject.kind;
  for (const auto& check : kChecks) {
    if (options.on_check) options.on_check(check.name);
    auto start = std::chrono::steady_clock::now();
    CheckResult r = check.run(subject);
    r.seconds = std::chrono::duration<double>(std::chrono::steady_clock::now() - start).count();
    report.checks.push_back(std::move(r));
  }
  return report;
}

}  // namespace wg::verify
