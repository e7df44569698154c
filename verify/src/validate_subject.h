// What every validate check reads, worked out once: the kind of path, the folder holding
// the model files (a package is extracted into a temporary folder first), the structural
// scan, and the folder's comparison against its signature file.
#pragma once

#include <optional>
#include <string>

#include "weightgate/formats/inspect.h"
#include "weightgate/gpu_check/llama_model.h"
#include "weightgate/gpu_check/smoke.h"
#include "weightgate/package/package.h"
#include "weightgate/signing/oms.h"
#include "weightgate/verify/package_signature.h"
#include "weightgate/verify/validate.h"

namespace wg::verify::internal {

struct Subject {
  const ValidateOptions* options = nullptr;
  std::string kind;       // "file", "folder", "package"
  std::string model_dir;  // the folder holding the model files ("" for a single file)
  std::string scan_path;  // what the format and pickle checks scan (the file, or model_dir)
  std::optional<package::PackageInfo> package;
  std::optional<Error> extract_error;  // the package could not be extracted (digests)
  size_t extracted_files = 0;
  bool sealed = false;  // a gated release: the files are ciphertext (gating.json)
  ScanReport scan;
  // Set by CheckSmokeCpu; the GPU case runs the same model over the CPU pass's tokens.
  std::optional<CheckStatus> cpu_smoke;
  std::optional<LlamaModel> model;
  std::optional<SmokePass> cpu_pass;

  bool has_model_sig() const;
  bool has_package_sig() const;
  bool has_trust() const { return !options->public_key.empty() || !options->trust_roots.empty(); }

  // The folder against its model.sig: verified with the trust options when they were given
  // (signature errors returned), otherwise against the manifest the file claims.
  const Result<signing::FolderVerifyReport>& FolderSignature();
  // Without trust checks, for the digests check when the signature itself failed.
  const Result<signing::FolderVerifyReport>& FolderDigests();
  // The package's signature layer verified with the trust options (which must be given).
  const Result<PackageVerifyReport>& PackageSignature();

 private:
  // The key and roots of --pub / --trust-root, read once.
  Result<const signing::TrustPolicy*> Trust();
  std::optional<signing::EcKey> key_;
  signing::TrustPolicy trust_;
  std::optional<Status> trust_status_;
  std::optional<Result<signing::FolderVerifyReport>> verified_, digests_;
  std::optional<Result<PackageVerifyReport>> package_verified_;
};

// One check: reads the subject, returns its result (the caller times it).
using CheckFn = CheckResult (*)(Subject&);

CheckResult CheckFormat(Subject& s);
CheckResult CheckPickles(Subject& s);
CheckResult CheckDigests(Subject& s);
CheckResult CheckSignature(Subject& s);
CheckResult CheckPolicy(Subject& s);
CheckResult CheckGolden(Subject& s);
// The CPU smoke pass runs once; the GPU case reads its outcome.
CheckResult CheckSmokeCpu(Subject& s);
CheckResult CheckSmokeGpu(Subject& s);

// Result helpers.
CheckResult Passed(std::string name, std::string message);
CheckResult Skipped(std::string name, std::string message);
CheckResult Failed(std::string name, FailureClass c, std::string message);
// A check that could not run because of `e` (its class from the error code).
CheckResult Errored(std::string name, const Error& e);

}  // namespace wg::verify::internal
