// weightgate gpu-check PATH [--device all|N,...] [--prompt TEXT] [--tokens N] [--json]:
// smoke inference on every selected GPU against the CPU reference. The CPU pass always
// runs; without a visible GPU (or without the CUDA twin) the verb says so and exits 3.
#include <cstdio>
#include <nlohmann/json.hpp>

#include "command.h"
#include "gpu_check_report.h"
#include "model_input.h"
#include "weightgate/gpu_check/device_check.h"
#include "weightgate/gpu_check/smoke.h"

namespace wg::cli {
namespace {

struct GpuCheckOptions {
  std::string path, tokenizer, device = "all";
  SmokeOptions smoke;
  ModelInputOptions input;
  bool json = false;
  bool tensors = false;  // the generic tensor pass instead of the forward pass
};

int RunGpuCheck(const GpuCheckOptions& o, bool quiet) {
  // A package is opened under its policy (operation run); a gated one is decrypted into a
  // private temporary folder that is removed when the check ends.
  ModelInputOptions io = o.input;
  io.operation = "run";
  io.tokenizer = o.tokenizer;
  auto input = OpenModelInput(o.path, io);
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
  auto cpu = RunCpuSmoke(*model, o.smoke);
  if (!cpu.ok()) return ReportError(cpu.error());
  bool cpu_ok = cpu->nan_count == 0 && cpu->inf_count == 0;
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
  if (o.json) {
    nlohmann::ordered_json j;
    j["path"] = o.path;
    j["format"] = FormatName(model->format);
    j["model"] = {{"dim", c.dim},        {"hidden_dim", c.hidden_dim}, {"layers", c.n_layers},
                  {"heads", c.n_heads},  {"kv_heads", c.n_kv_heads},   {"vocab", c.vocab_size},
                  {"context", c.seq_len}};
    j["weights_dtype"] = dev->dtype;
    j["devices"] = nlohmann::ordered_json::array();
    for (const DevicePass& d : dev->passes) j["devices"].push_back(DeviceJson(d));
    if (!gpu_note.empty()) j["gpu_note"] = gpu_note;
    j["passes"] = {{{"device", cpu->device},
                    {"prompt", o.smoke.prompt},
                    {"prompt_ids", cpu->prompt_ids},
                    {"token_ids", cpu->next_ids},
                    {"text", cpu->text},
                    {"nan", cpu->nan_count},
                    {"inf", cpu->inf_count},
                    {"seconds", cpu->seconds},
                    {"tokens_per_second", cpu->tokens_per_second},
                    {"passed", cpu_ok}}};
    for (const DevicePass& d : dev->passes)
      j["passes"].push_back(DevicePassJson(d, o.smoke.prompt));
    j["result"] = result;
    j["exit_code"] = code;
    std::printf("%s\n", j.dump(2, ' ', false, nlohmann::json::error_handler_t::replace).c_str());
    return code;
  }
  std::printf("model: %s (%s; dim %d, %d layers, %d/%d heads, vocab %d)\n", o.path.c_str(),
              FormatName(model->format), c.dim, c.n_layers, c.n_heads, c.n_kv_heads, c.vocab_size);
  std::printf("cpu reference: %zu tokens in %.3f s (%.1f tokens/s), NaN %llu, Inf %llu\n",
              cpu->next_ids.size(), cpu->seconds, cpu->tokens_per_second,
              static_cast<unsigned long long>(cpu->nan_count),
              static_cast<unsigned long long>(cpu->inf_count));
  std::printf("text: %s\n", cpu->text.c_str());
  for (const DevicePass& d : dev->passes) PrintDevicePass(d);
  if (!quiet && !gpu_note.empty())
    std::fprintf(stderr, "weightgate: gpu-check: %s\n", gpu_note.c_str());
  std::printf("result: %s\n", code == kExitOk        ? "passed on every selected GPU"
                              : code == kExitCpuOnly ? "passed on the CPU reference only (exit 3)"
                              : !cpu_ok              ? "FAILED: NaN or Inf in the CPU logits"
                                                     : "FAILED on a GPU");
  return code;
}

}  // namespace

void RegisterGpuCheck(CLI::App& app, const GlobalOptions& global, Runner* run) {
  auto* cmd = app.add_subcommand("gpu-check", "Smoke inference on GPUs against a CPU reference");
  auto o = std::make_shared<GpuCheckOptions>();
  cmd->add_option("PATH", o->path,
                  "llama2.c checkpoint, GGUF (llama), Hugging Face folder or package")
      ->required();
  cmd->add_option("--tokenizer", o->tokenizer, "llama2.c: tokenizer file");
  cmd->add_option("--device", o->device, "GPUs to check: all or a list of indices")
      ->default_val("all");
  cmd->add_option("--prompt", o->smoke.prompt, "Prompt text")->default_val("Once upon a time");
  cmd->add_option("--tokens", o->smoke.tokens, "Tokens to generate")->default_val(32);
  cmd->add_flag("--json", o->json, "Print one JSON report");
  cmd->add_flag("--tensors", o->tensors,
                "Generic tensor pass (statistics on host and GPU) instead of the forward pass");
  AddModelInputFlags(cmd, &o->input);
  cmd->footer(
      "Exit codes: 0 passed on every selected GPU, 1 failed, 2 bad usage or input, 3 passed on "
      "the CPU reference only (no GPU visible, or no CUDA in this build), 6 the package's "
      "policy\nforbids it (no grant, operation run not allowed), 7 its licence must be accepted "
      "first (--receipt).\nPATH may be a package; gated/closed packages take --identity/--grant "
      "as unpack does.\nModels of other architectures (or --tensors) get the generic tensor "
      "pass: every tensor's statistics on the host and on each GPU, compared.\n\n"
      "Example:\n"
      "  weightgate gpu-check stories260K.bin --prompt 'Once upon a time' --tokens 64 --json");
  cmd->callback(
      [run, o, &global] { *run = [o, &global] { return RunGpuCheck(*o, global.quiet); }; });
}

}  // namespace wg::cli
