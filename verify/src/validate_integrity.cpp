// validate's integrity checks: file structure, pickle imports, digests and signature.
#include <filesystem>

#include "validate_subject.h"
#include "weightgate/signing/keys.h"

namespace wg::verify::internal {
namespace {

std::string PlainCount(size_t n, const char* one, const char* many) {
  return std::to_string(n) + " " + (n == 1 ? one : many);
}

// The files of the scan that are model files.
std::vector<const FileScan*> ModelFiles(const ScanReport& scan) {
  std::vector<const FileScan*> out;
  for (const auto& f : scan.files)
    if (f.format) out.push_back(&f);
  return out;
}

CheckResult SealedSkip(const char* name) {
  return Skipped(name,
                 "the weights are encrypted (gated release); unpack with --identity and --grant, "
                 "then validate the folder");
}

void AddDiff(const signing::ManifestDiff& diff, CheckResult* r) {
  for (const auto& n : diff.missing) r->details.push_back("missing:  " + n);
  for (const auto& n : diff.extra) r->details.push_back("extra:    " + n);
  for (const auto& n : diff.modified) r->details.push_back("modified: " + n);
}

// A sealed release encrypts model.sig with the files it signs.
bool SealedSignature(const Subject& s) {
  std::error_code ec;
  return std::filesystem::is_regular_file(
      std::filesystem::path(s.model_dir) / (std::string(signing::kDefaultSignatureName) + ".wgenc"),
      ec);
}

// A package's signature layer covers every other layer: files, policy, config, golden.
CheckResult CheckPackageSignature(Subject& s) {
  const char* name = "signature";
  if (!s.has_trust()) {
    auto summary = DescribePackageSignature(s.options->path);
    std::string who = summary.ok() && summary->present && summary->problem.empty()
                          ? " (" + summary->method + " " + summary->signer + ")"
                          : "";
    return Skipped(name,
                   "package signed" + who + " but not verified: give --pub KEY or --trust-root CA");
  }
  const auto& report = s.PackageSignature();
  if (!report.ok()) {
    CheckResult r = Errored(name, report.error());
    if (r.failure == FailureClass::kBadSignature || r.failure == FailureClass::kUntrusted)
      r.status = CheckStatus::kFailed;
    return r;
  }
  return Passed(name, "package signed by " + report->signature.signer + " (" +
                          report->signature.method + "), trusted; it covers " +
                          std::to_string(report->signature.manifest.resources.size()) +
                          " blobs (layers and config)");
}

}  // namespace

CheckResult CheckFormat(Subject& s) {
  const char* name = "format";
  if (s.sealed) return SealedSkip(name);
  if (s.package && s.extract_error)
    return Skipped(name, "the package could not be extracted (see digests)");
  auto files = ModelFiles(s.scan);
  if (files.empty())
    return Failed(name, FailureClass::kCheckFailed,
                  "no model file found (safetensors, GGUF, PyTorch, llama2.c) in " + s.scan_path);
  CheckResult r = Passed(name, "");
  uint64_t tensors = 0;
  size_t bad = 0;
  for (const FileScan* f : files) {
    tensors += f->tensors;
    bool file_bad = false;
    for (const Error& e : f->problems) {
      if (e.code() == ErrorCode::kUnsafe) continue;  // the pickle check's finding
      r.details.push_back(e.ToString());
      if (!file_bad && r.failure == FailureClass::kNone) r.failure = FailureClassOf(e);
      file_bad = true;
    }
    bad += file_bad;
  }
  if (bad) {
    r.status = CheckStatus::kFailed;
    r.message = PlainCount(bad, "model file", "model files") + " of " +
                std::to_string(files.size()) + " failed the structural check";
    return r;
  }
  r.message = PlainCount(files.size(), "model file", "model files") + ", " +
              PlainCount(tensors, "tensor", "tensors") + ", every span inside its file";
  return r;
}

CheckResult CheckPickles(Subject& s) {
  const char* name = "pickle-scan";
  if (s.sealed) return SealedSkip(name);
  if (s.package && s.extract_error)
    return Skipped(name, "the package could not be extracted (see digests)");
  CheckResult r = Passed(name, "");
  size_t pickles = 0, unsafe_files = 0, globals = 0;
  for (const FileScan* f : ModelFiles(s.scan)) {
    bool refused = false;
    for (const Error& e : f->problems)
      if (e.code() == ErrorCode::kUnsafe) {
        r.details.push_back(e.ToString());
        refused = true;
      }
    if (f->pickle) {
      ++pickles;
      globals += f->pickle->globals.size();
      for (const auto& g : f->pickle->globals)
        if (!g.safe) {
          r.details.push_back(f->path + ": imports " + g.module + "." + g.name + " (" + g.severity +
                              ") in " + g.pickle + " at offset " + std::to_string(g.offset));
          refused = true;
        }
    }
    unsafe_files += refused;
  }
  if (unsafe_files) {
    r.status = CheckStatus::kFailed;
    r.failure = FailureClass::kCheckFailed;
    r.message = PlainCount(unsafe_files, "file imports", "files import") +
                " globals off the allowlist (never executed)";
  } else if (pickles == 0) {
    r.message = "no pickle among the model files";
  } else {
    r.message = PlainCount(pickles, "pickle", "pickles") + ", " +
                PlainCount(globals, "import", "imports") + ", every one on the allowlist";
  }
  return r;
}

CheckResult CheckDigests(Subject& s) {
  const char* name = "digests";
  std::string layers;
  if (s.package) {
    if (s.extract_error) {
      CheckResult r = Errored(name, *s.extract_error);
      if (s.extract_error->code() == ErrorCode::kMismatch) r.status = CheckStatus::kFailed;
      r.message = "package layers: " + s.extract_error->ToString();
      return r;
    }
    layers = PlainCount(s.extracted_files, "file layer", "file layers") + " match their digests";
    if (s.has_package_sig() && s.has_trust() && s.PackageSignature().ok()) {
      const auto& p = *s.PackageSignature();
      if (!p.diff.empty() || !p.inconsistent.empty()) {
        CheckResult r = Failed(name, FailureClass::kCheckFailed,
                               "package does not match its signature (tampered or corrupt)");
        AddDiff(p.diff, &r);
        for (const auto& n : p.inconsistent) r.details.push_back("inconsistent: " + n);
        return r;
      }
      layers += "; " + PlainCount(p.verified, "signed blob matches", "signed blobs match") +
                " the package signature";
    }
  }
  if (!s.has_model_sig()) {
    if (s.package) return Passed(name, layers);
    return Skipped(name, s.kind == "file" ? "a single file carries no digest list; validate its "
                                            "signed folder"
                                          : "no signature file (model.sig) lists the digests");
  }
  // Trust problems are the signature check's; digests come from the claimed manifest then.
  const auto* report = &s.FolderSignature();
  if (!report->ok()) report = &s.FolderDigests();
  if (!report->ok()) return Errored(name, report->error());
  const auto& diff = (*report)->diff;
  if (!diff.empty()) {
    CheckResult r = Failed(name, FailureClass::kCheckFailed,
                           "content does not match its signature file (tampered or corrupt)");
    AddDiff(diff, &r);
    return r;
  }
  std::string msg = PlainCount((*report)->verified, "file", "files") + " match model.sig";
  if ((*report)->signature.method == "unverified") msg += " (signature not checked: no key given)";
  return Passed(name, layers.empty() ? msg : layers + "; " + msg);
}

CheckResult CheckSignature(Subject& s) {
  const char* name = "signature";
  if (s.has_package_sig()) return CheckPackageSignature(s);
  if (s.sealed && SealedSignature(s))
    return Skipped(name,
                   "the folder signature is sealed with the weights (model.sig.wgenc); unpack with "
                   "--identity and --grant, then validate the folder");
  if (!s.has_model_sig()) {
    if (s.has_trust())
      return Failed(name, FailureClass::kUntrusted,
                    "nothing to verify: no signature (model.sig) vouches for " + s.options->path);
    return Skipped(name, "unsigned: no signature (model.sig) and no key given");
  }
  if (!s.has_trust())
    return Skipped(name, "signed (model.sig) but not verified: give --pub KEY or --trust-root CA");
  const auto& report = s.FolderSignature();
  if (!report.ok()) {
    CheckResult r = Errored(name, report.error());
    if (r.failure == FailureClass::kBadSignature || r.failure == FailureClass::kUntrusted)
      r.status = CheckStatus::kFailed;
    return r;
  }
  return Passed(name, "signed by " + report->signature.signer + " (" + report->signature.method +
                          "), trusted");
}

bool Subject::has_model_sig() const {
  std::error_code ec;
  return !model_dir.empty() &&
         std::filesystem::is_regular_file(
             std::filesystem::path(model_dir) / signing::kDefaultSignatureName, ec);
}

Result<const signing::TrustPolicy*> Subject::Trust() {
  if (!trust_status_) {
    trust_status_ = [&]() -> Status {
      if (!options->public_key.empty()) {
        WG_ASSIGN_OR_RETURN(key_, signing::EcKey::ReadPublicKeyFile(options->public_key));
        trust_.public_key = &*key_;
      }
      for (const auto& root : options->trust_roots) {
        WG_ASSIGN_OR_RETURN(auto certs, signing::ReadCertificatesPem(root));
        trust_.roots.insert(trust_.roots.end(), certs.begin(), certs.end());
      }
      return Ok();
    }();
  }
  if (!trust_status_->ok()) return trust_status_->error();
  return &trust_;
}

const Result<signing::FolderVerifyReport>& Subject::FolderSignature() {
  if (verified_) return *verified_;
  if (!has_trust()) return FolderDigests();
  auto trust = Trust();
  verified_ = trust.ok() ? signing::VerifyModelFolder(model_dir, **trust, {})
                         : Result<signing::FolderVerifyReport>(trust.error());
  return *verified_;
}

const Result<PackageVerifyReport>& Subject::PackageSignature() {
  if (!package_verified_) {
    auto trust = Trust();
    package_verified_ = trust.ok() ? VerifyPackage(options->path, **trust, {})
                                   : Result<PackageVerifyReport>(trust.error());
  }
  return *package_verified_;
}

bool Subject::has_package_sig() const {
  if (package)
    for (const auto& l : package->layers)
      if (l.role == "signature") return true;
  return false;
}

const Result<signing::FolderVerifyReport>& Subject::FolderDigests() {
  if (!digests_) digests_ = signing::CheckModelFolderDigests(model_dir, {});
  return *digests_;
}

}  // namespace wg::verify::internal
