// weightgate gpu-check PATH [--device all|N,...] [--prompt TEXT] [--tokens N] [--json]
//   [--reference PARENT] [--plan --target LIST [--context N] [--batch B]]
//   [--attest KEY [--attestation FILE] [--attach]] [--tensors]:
// smoke inference on every selected GPU against the CPU reference, the CPU pass judged
// against the package's golden record or a parent's; a memory-fit plan; a signed
// attestation of the result. The CPU pass always runs; without a visible GPU (or without
// the CUDA twin) the verb says so and exits 3.
#include <cstdio>
#include <nlohmann/json.hpp>
#include <optional>

#include "command.h"
#include "gpu_check_attest.h"
#include "gpu_check_plan.h"
#include "gpu_check_report.h"
#include "model_input.h"
#include "weightgate/gpu_check/device_check.h"
#include "weightgate/gpu_check/golden.h"
#include "weightgate/gpu_check/smoke.h"
#include "weightgate/package/package.h"
#include "weightgate/verify/golden_package.h"

namespace wg::cli {
namespace {

using ojson = nlohmann::ordered_json;

struct GpuCheckOptions {
  std::string path, tokenizer, device = "all", reference;
  SmokeOptions smoke;
  ModelInputOptions input;
  bool json = false;
  bool tensors = false;  // the generic tensor pass instead of the forward pass
  bool plan = false;
  PlanArgs plan_args;
  AttestArgs attest;
};

// A model path, or a package opened under its policy (operation run; a gated one decrypted
// into a private folder that goes away with `input`).
Result<std::unique_ptr<ModelInput>> OpenInput(const std::string& path, const GpuCheckOptions& o) {
  ModelInputOptions io = o.input;
  io.operation = "run";
  io.tokenizer = o.tokenizer;
  return OpenModelInput(path, io);
}

// What the candidate is judged against, and by which name.
struct Reference {
  GoldenRecord golden;
  std::string description;
};

Result<std::optional<Reference>> FindReference(const GpuCheckOptions& o,
                                               const std::optional<GoldenRecord>& own) {
  GoldenOptions fresh;
  fresh.prompt = o.smoke.prompt;
  fresh.tokens = std::max(1, o.smoke.tokens);
  if (!o.reference.empty()) {
    if (package::IsPackage(o.reference)) {
      WG_ASSIGN_OR_RETURN(std::optional<GoldenRecord> g, verify::ReadPackageGolden(o.reference));
      if (g) return std::optional<Reference>({*g, "golden record of " + o.reference});
    }
    WG_ASSIGN_OR_RETURN(std::unique_ptr<ModelInput> in, OpenInput(o.reference, o));
    WG_ASSIGN_OR_RETURN(LlamaModel parent, LoadLlamaModel(in->path, in->tokenizer));
    WG_ASSIGN_OR_RETURN(GoldenRecord fresh_g, ComputeGolden(parent, fresh));
    return std::optional<Reference>({fresh_g, "fresh CPU reference of " + o.reference});
  }
  if (own) return std::optional<Reference>({*own, "the package's golden record"});
  return std::optional<Reference>();
}

ojson ComparisonJson(const Reference& ref, const GoldenComparison& c) {
  const Tolerance& tol = c.tolerance;
  return {{"reference", ref.description},
          {"prompt", ref.golden.prompt},
          {"reference_dtype", ref.golden.weights_dtype},
          {"tolerance",
           {{"dtype", tol.dtype},
            {"max_abs", tol.max_abs},
            {"max_rel", tol.max_rel},
            {"min_top1", tol.min_top1},
            {"tokens_equal", tol.tokens_equal}}},
          {"positions", c.positions},
          {"top_k", ref.golden.top_k},
          {"max_abs_error", c.max_abs},
          {"max_rel_error", c.max_rel},
          {"worst_position", c.worst_position},
          {"top1_agreement", c.top1_rate},
          {"reference_token_ids", ref.golden.generated_ids},
          {"token_ids", c.generated_ids},
          {"tokens_equal", c.tokens_equal},
          {"logits_digest_equal", c.logits_digest_equal},
          {"passed", c.passed},
          {"failures", c.failures}};
}

void PrintComparison(const Reference& ref, const GoldenComparison& c) {
  std::printf("reference: %s (%s, prompt \"%s\")\n", ref.description.c_str(),
              ref.golden.weights_dtype.c_str(), ref.golden.prompt.c_str());
  std::printf(
      "comparison (%s tolerance): max abs error %.3g (<= %.3g), max rel error %.3g (<= %.3g), "
      "top-1 %d/%d, generated tokens %s, logits digest %s\n",
      c.tolerance.dtype.c_str(), c.max_abs, c.tolerance.max_abs, c.max_rel, c.tolerance.max_rel,
      c.top1_agree, c.positions, c.tokens_equal ? "equal" : "differ",
      c.logits_digest_equal ? "identical" : "differs");
  for (const auto& f : c.failures) std::printf("  FAILED: %s\n", f.c_str());
}

int RunGpuCheck(const GpuCheckOptions& o, bool quiet) {
  auto input = OpenInput(o.path, o);
  if (!input.ok()) return ReportError(input.error());
  const std::string& path = (*input)->path;
  if (o.tensors) return RunGpuTensorPass(path, o.device, o.json, quiet);
  auto model = LoadLlamaModel(path, (*input)->tokenizer);
  if (!model.ok()) {
    // A model file of an architecture without a forward pass gets the generic tensor pass.
    if (model.error().code() == ErrorCode::kUnsupported && DetectFormat(path))
      return RunGpuTensorPass(path, o.device, o.json, quiet);
    return ReportError(model.error());
  }
  if (o.plan) return PrintMemoryPlan(o.path, *model, o.plan_args, o.json);
  std::optional<GoldenRecord> own;
  if (package::IsPackage(o.path)) {
    auto g = verify::ReadPackageGolden(o.path);
    if (!g.ok()) return ReportError(g.error());
    own = std::move(*g);
  }

  auto cpu = RunCpuSmoke(*model, o.smoke);
  if (!cpu.ok()) return ReportError(cpu.error());
  bool cpu_ok = cpu->nan_count == 0 && cpu->inf_count == 0;
  auto reference = FindReference(o, own);
  if (!reference.ok()) return ReportError(reference.error());
  std::optional<GoldenComparison> comparison;
  const DType dtype = WeightsDType(*model);
  if (*reference) {
    auto cmp = CompareCpuWithGolden(*model, (*reference)->golden, ToleranceFor(dtype));
    if (!cmp.ok()) return ReportError(cmp.error());
    comparison = std::move(*cmp);
    cpu_ok = cpu_ok && comparison->passed;
  }
  auto dev = RunDevicePasses(*model, *cpu, o.device);
  if (!dev.ok()) return ReportError(dev.error());
  bool all_passed = true;
  for (const DevicePass& d : dev->passes) all_passed = all_passed && d.passed;
  const std::string gpu_note = dev->no_device;
  int code = !cpu_ok || !all_passed ? kExitCheckFailed
             : dev->passes.empty()  ? kExitCpuOnly
                                    : kExitOk;
  const char* result = code == kExitOk ? "passed" : code == kExitCpuOnly ? "cpu-only" : "failed";

  const LlamaConfig& c = model->config;
  ojson j;
  j["path"] = o.path;
  j["format"] = FormatName(model->format);
  j["model"] = {{"dim", c.dim},        {"hidden_dim", c.hidden_dim}, {"layers", c.n_layers},
                {"heads", c.n_heads},  {"kv_heads", c.n_kv_heads},   {"vocab", c.vocab_size},
                {"context", c.seq_len}};
  j["weights_dtype"] = dev->dtype.empty() ? std::string(Name(dtype)) : dev->dtype;
  j["devices"] = ojson::array();
  for (const DevicePass& d : dev->passes) j["devices"].push_back(DeviceJson(d));
  if (!gpu_note.empty()) j["gpu_note"] = gpu_note;
  ojson pass = {{"device", cpu->device},
                {"prompt", o.smoke.prompt},
                {"prompt_ids", cpu->prompt_ids},
                {"token_ids", cpu->next_ids},
                {"text", cpu->text},
                {"nan", cpu->nan_count},
                {"inf", cpu->inf_count},
                {"seconds", cpu->seconds},
                {"tokens_per_second", cpu->tokens_per_second},
                {"passed", cpu_ok}};
  if (comparison) pass["comparison"] = ComparisonJson(**reference, *comparison);
  j["passes"] = ojson::array({pass});
  for (const DevicePass& d : dev->passes) j["passes"].push_back(DevicePassJson(d, o.smoke.prompt));
  j["result"] = result;
  j["exit_code"] = code;

  std::optional<std::string> attested;
  if (!o.attest.key.empty()) {
    auto a = WriteAttestation(o.path, o.attest, j);
    if (!a.ok()) return ReportError(a.error());
    attested = *a;
    j["attestation"] = *a;
  }

  if (o.json) {
    std::printf("%s\n", j.dump(2, ' ', false, nlohmann::json::error_handler_t::replace).c_str());
    return code;
  }
  std::printf("model: %s (%s %s; dim %d, %d layers, %d/%d heads, vocab %d)\n", o.path.c_str(),
              FormatName(model->format), std::string(Name(dtype)).c_str(), c.dim, c.n_layers,
              c.n_heads, c.n_kv_heads, c.vocab_size);
  std::printf("cpu reference: %zu tokens in %.3f s (%.1f tokens/s), NaN %llu, Inf %llu\n",
              cpu->next_ids.size(), cpu->seconds, cpu->tokens_per_second,
              static_cast<unsigned long long>(cpu->nan_count),
              static_cast<unsigned long long>(cpu->inf_count));
  std::printf("text: %s\n", cpu->text.c_str());
  if (comparison)
    PrintComparison(**reference, *comparison);
  else
    std::printf(
        "reference: none (no golden record, no --reference): the CPU pass is the "
        "reference\n");
  for (const DevicePass& d : dev->passes) PrintDevicePass(d);
  if (attested) std::printf("attestation: %s\n", attested->c_str());
  if (!quiet && !gpu_note.empty())
    std::fprintf(stderr, "weightgate: gpu-check: %s\n", gpu_note.c_str());
  std::printf("result: %s\n", code == kExitOk        ? "passed on every selected GPU"
                              : code == kExitCpuOnly ? "passed on the CPU reference only (exit 3)"
                              : comparison && !comparison->passed
                                  ? "FAILED: outside the tolerance of the reference (exit 1)"
                              : cpu->nan_count || cpu->inf_count
                                  ? "FAILED: NaN or Inf in the CPU logits"
                                  : "FAILED on a GPU");
  return code;
}

}  // namespace

void RegisterGpuCheck(CLI::App& app, const GlobalOptions& global, Runner* run) {
  auto* cmd = app.add_subcommand("gpu-check", "Smoke inference on GPUs against a CPU reference");
  auto o = std::make_shared<GpuCheckOptions>();
  cmd->add_option("PATH", o->path,
                  "Package, llama2.c checkpoint, GGUF (llama) or Hugging Face folder")
      ->required();
  cmd->add_option("--tokenizer", o->tokenizer, "llama2.c: tokenizer file");
  cmd->add_option("--device", o->device, "GPUs to check: all or a list of indices")
      ->default_val("all");
  cmd->add_option("--prompt", o->smoke.prompt, "Prompt text")->default_val("Once upon a time");
  cmd->add_option("--tokens", o->smoke.tokens, "Tokens to generate")->default_val(32);
  cmd->add_option("--reference", o->reference,
                  "Parent artifact: a package with a golden record, or any model path (then a "
                  "fresh CPU reference of it)");
  cmd->add_flag("--plan", o->plan, "Print a memory-fit plan per --target; run nothing");
  cmd->add_option("--target", o->plan_args.targets,
                  "--plan: GPUs, comma-separated: names from the table or NAME:GiB");
  cmd->add_option("--context", o->plan_args.context, "--plan: context length (default: model's)");
  cmd->add_option("--batch", o->plan_args.batch, "--plan: batch size")->default_val(1);
  cmd->add_option("--attest", o->attest.key, "Sign the result with this EC private key");
  cmd->add_option("--attest-passphrase-file", o->attest.passphrase_file,
                  "Passphrase of the --attest key");
  cmd->add_option("-o,--attestation", o->attest.output, "Write the attestation (DSSE) here");
  cmd->add_flag("--attach", o->attest.attach, "Add the attestation to the package as a layer");
  cmd->add_flag("--json", o->json, "Print one JSON report");
  cmd->add_flag("--tensors", o->tensors,
                "Generic tensor pass (statistics on host and GPU) instead of the forward pass");
  AddModelInputFlags(cmd, &o->input);
  cmd->footer(
      "Exit codes: 0 passed on every selected GPU, 1 failed (NaN/Inf, outside the reference's "
      "tolerance; --plan: does not fit on every target), 2 bad usage or input, 3 passed on the "
      "CPU reference only (no GPU visible, or no CUDA pass in this build), 6 the package's "
      "policy\nforbids it (no grant, operation run not allowed), 7 its licence must be accepted "
      "first (--receipt).\nPATH may be a package; gated/closed packages take --identity/--grant "
      "as unpack does.\nModels of other architectures (or --tensors) get the generic tensor "
      "pass: every tensor's statistics on the host and on each GPU, compared.\n\n"
      "Examples:\n"
      "  weightgate gpu-check stories260K.bin --prompt 'Once upon a time' --tokens 64 --json\n"
      "  weightgate gpu-check model-q4_0.gguf --reference release.tar\n"
      "  weightgate gpu-check release.tar --plan --target H100-80GB,L4-24GB --context 4096\n"
      "  weightgate gpu-check release.tar --attest ci.key -o check.att --attach");
  cmd->callback(
      [run, o, &global] { *run = [o, &global] { return RunGpuCheck(*o, global.quiet); }; });
}

}  // namespace wg::cli
