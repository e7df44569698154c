// validate's release checks: the policy against the would-be user's context, and the package's
// golden record against the CPU reference of what it holds.
#include <cstdio>
#include <filesystem>

#include "validate_subject.h"
#include "weightgate/policy/seal.h"
#include "weightgate/verify/golden_package.h"
#include "weightgate/verify/policy_source.h"

namespace wg::verify::internal {
namespace {

// Where the subject's release policy is: a package's policy layer, or a folder's
// policy.yaml; "" when it carries none.
std::string PolicySource(const Subject& s) {
  if (s.package) {
    for (const auto& l : s.package->layers)
      if (l.role == "policy") return s.options->path;
    return "";
  }
  std::error_code ec;
  if (!s.model_dir.empty() && std::filesystem::is_regular_file(
                                  std::filesystem::path(s.model_dir) / policy::kPolicyFile, ec))
    return s.model_dir;
  return "";
}

}  // namespace

CheckResult CheckPolicy(Subject& s) {
  const char* name = "policy";
  std::string source = PolicySource(s);
  if (source.empty())
    return Skipped(name, "no release policy attached (package policy layer or policy.yaml)");
  auto loaded = LoadPolicyFrom(source);
  if (!loaded.ok()) return Errored(name, loaded.error());
  std::string tier(policy::TierName(loaded->policy.tier));
  if (s.options->context.empty())
    return Skipped(name, "policy (" + tier + ", " + loaded->policy.licence.id +
                             ") not evaluated: no --context given");
  auto context = policy::ReadContextFile(s.options->context);
  if (!context.ok()) return Errored(name, context.error());
  std::string receipt_note;
  policy::Evaluation ev = EvaluateLoadedPolicy(*loaded, std::move(*context), &receipt_note);

  CheckResult r = Passed(name, "");
  if (!receipt_note.empty()) r.details.push_back(receipt_note);
  const policy::Reason* deciding = nullptr;
  for (const auto& reason : ev.reasons) {
    r.details.push_back(std::string(policy::DecisionName(reason.verdict)) + ": " + reason.rule +
                        ": " + reason.detail + " [" + reason.clause + "]");
    if (reason.verdict == ev.decision && !deciding) deciding = &reason;
  }
  for (const auto& d : ev.duties) r.details.push_back("duty: " + d.detail + " [" + d.clause + "]");
  std::string decision(policy::DecisionName(ev.decision));
  std::string why = deciding ? ": " + deciding->rule + ": " + deciding->detail : "";
  switch (ev.decision) {
    case policy::Decision::kAllow:
      r.message = "allow (" + tier + ", " + loaded->policy.licence.id + ")";
      return r;
    case policy::Decision::kDeny:
      r.failure = FailureClass::kDenied;
      break;
    case policy::Decision::kNeedsAcceptance:
    case policy::Decision::kNeedsSeparateLicence:
      r.failure = FailureClass::kNeedsLicence;
      break;
  }
  r.status = CheckStatus::kFailed;
  r.message = decision + why;
  return r;
}

CheckResult CheckGolden(Subject& s) {
  const char* name = "golden";
  if (!s.package) return Skipped(name, "no golden record (pack writes one into the package)");
  std::string digest;
  auto golden = ReadPackageGolden(s.options->path, &digest);
  if (!golden.ok()) return Errored(name, golden.error());
  if (!*golden) return Skipped(name, "the package carries no golden record");
  if (!s.model) return Skipped(name, "no model to compare it with (see smoke-cpu)");
  // The CPU reference of what was extracted, teacher-forced on the record's tokens, judged
  // with the tolerance of the weights' dtype (as gpu-check does).
  auto cmp = CompareCpuWithGolden(*s.model, **golden, ToleranceFor(WeightsDType(*s.model)));
  if (!cmp.ok()) return Errored(name, cmp.error());
  char buf[200];
  std::snprintf(buf, sizeof buf,
                "%d positions, max relative logit error %.3g (<= %.3g), top-1 %.0f%%, greedy "
                "tokens %s (%s)",
                cmp->positions, cmp->max_rel, cmp->tolerance.max_rel, 100 * cmp->top1_rate,
                cmp->tokens_equal ? "equal" : "differ", cmp->tolerance.dtype.c_str());
  CheckResult r = Passed(name, buf);
  if (!cmp->passed) {
    r.status = CheckStatus::kFailed;
    r.failure = FailureClass::kCheckFailed;
    r.message = "does not match the golden record: " + r.message;
    r.details = cmp->failures;
  }
  return r;
}

}  // namespace wg::verify::internal
