// validate's smoke passes: a short greedy generation on the CPU reference, and the GPU case
// (--gpu auto|require|skip).
#include <cstdio>
#include <filesystem>

#include "validate_subject.h"
#include "weightgate/gpu_check/device_check.h"
#include "weightgate/gpu_check/smoke.h"

namespace wg::verify::internal {
namespace {

// What gpu-check can load: the file itself; a Hugging Face folder (config.json); or the one
// GGUF or llama2.c checkpoint of a folder. "" when there is none.
std::string RunnableModel(const Subject& s) {
  if (s.kind == "file") return s.scan_path;
  std::error_code ec;
  if (std::filesystem::is_regular_file(std::filesystem::path(s.model_dir) / "config.json", ec))
    return s.model_dir;
  std::string found;
  for (const auto& f : s.scan.files) {
    if (!f.format || (*f.format != Format::kGguf && *f.format != Format::kLlama2c)) continue;
    if (f.tensors == 0) continue;   // a llama2.c tokenizer, not a checkpoint
    if (!found.empty()) return "";  // several checkpoints: which one ships is not ours to guess
    found = f.path;
  }
  return found;
}

}  // namespace

CheckResult CheckSmokeCpu(Subject& s) {
  const char* name = "smoke-cpu";
  if (s.sealed) return Skipped(name, "the weights are encrypted (gated release)");
  if (s.package && s.extract_error)
    return Skipped(name, "the package could not be extracted (see digests)");
  for (const auto& f : s.scan.files)
    if (f.format && f.failed())
      return Skipped(name, "not run: a model file failed the format or pickle check");
  std::string target = RunnableModel(s);
  if (target.empty())
    return Skipped(name,
                   "no single Llama-family checkpoint to run (GGUF, llama2.c or a Hugging "
                   "Face folder)");
  auto model = LoadLlamaModel(target);
  if (!model.ok()) {
    if (model.error().code() == ErrorCode::kUnsupported)
      return Skipped(name, "not a model the smoke pass runs: " + model.error().ToString());
    return Errored(name, model.error());
  }
  SmokeOptions opts;
  opts.prompt = s.options->prompt;
  opts.tokens = s.options->tokens;
  auto pass = RunCpuSmoke(*model, opts);
  if (!pass.ok()) return Errored(name, pass.error());
  CheckResult r = Passed(name, "");
  r.details.push_back("text: " + pass->text);
  if (pass->nan_count || pass->inf_count) {
    r.status = CheckStatus::kFailed;
    r.failure = FailureClass::kCheckFailed;
    r.message = std::to_string(pass->nan_count) + " NaN and " + std::to_string(pass->inf_count) +
                " Inf in the logits";
  } else {
    char buf[160];
    std::snprintf(buf, sizeof buf, "%zu tokens in %.3f s (%.1f tokens/s), no NaN or Inf",
                  pass->next_ids.size(), pass->seconds, pass->tokens_per_second);
    r.message = buf;
  }
  s.cpu_smoke = r.status;
  s.cpu_pass = std::move(*pass);
  s.model = std::move(*model);
  return r;
}

CheckResult CheckSmokeGpu(Subject& s) {
  const char* name = "smoke-gpu";
  if (s.options->gpu == GpuMode::kSkip) return Skipped(name, "--gpu skip");
  if (!s.cpu_pass || !s.model) return Skipped(name, "nothing to run (see smoke-cpu)");
  // Every visible GPU, fed the CPU pass's tokens, its logits judged against the CPU's.
  auto devices = RunDevicePasses(*s.model, *s.cpu_pass, "all");
  if (!devices.ok()) return Errored(name, devices.error());
  if (devices->passes.empty()) {
    if (s.options->gpu == GpuMode::kRequire)
      return Failed(name, FailureClass::kCheckFailed, "--gpu require: " + devices->no_device);
    CheckResult r = Skipped(name, devices->no_device + "; passed on the CPU reference only");
    if (*s.cpu_smoke == CheckStatus::kPassed) r.failure = FailureClass::kCpuOnly;
    return r;
  }
  CheckResult r = Passed(name, "");
  size_t failed = 0;
  for (const DevicePass& d : devices->passes) {
    std::string line = "gpu " + std::to_string(d.device.index) + " " + d.device.name + ": ";
    if (d.passed) {
      char buf[128];
      std::snprintf(buf, sizeof buf,
                    "passed (max relative logit error %.2g <= %.2g, %.1f tokens/s)",
                    d.comparison.max_rel_error, d.comparison.tolerance, d.pass.tokens_per_second);
      line += buf;
    } else {
      line += "FAILED: " + (d.error.empty() ? d.comparison.why : d.error);
      ++failed;
    }
    r.details.push_back(line);
  }
  if (failed) {
    r.status = CheckStatus::kFailed;
    r.failure = FailureClass::kCheckFailed;
    r.message = std::to_string(failed) + " of " + std::to_string(devices->passes.size()) +
                " GPUs disagree with the CPU reference";
  } else {
    r.message = std::to_string(devices->passes.size()) + " GPU" +
                (devices->passes.size() == 1 ? "" : "s") + " agree with the CPU reference (" +
                devices->dtype + " weights)";
  }
  return r;
}

}  // namespace wg::verify::internal
