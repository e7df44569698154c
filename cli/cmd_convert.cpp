// weightgate convert IN OUT [--to safetensors|gguf] [--dtype ...] [--tokenizer FILE] [--json]
//   [--name NAME] [--identity KEY --grant GRANT --receipt R]
// IN may be a package: it is opened under its release policy (model_input.h) and the
// output is a derivative that carries the policy and its parent's digest (derivative.h).
#include <cstdio>
#include <filesystem>
#include <nlohmann/json.hpp>

#include "command.h"
#include "derivative.h"
#include "model_input.h"
#include "weightgate/formats/convert.h"

namespace wg::cli {
namespace {

struct ConvertArgs {
  std::string in, out, to, dtype, tokenizer, name;
  ModelInputOptions input;
  bool json = false;
};

int RunConvert(const ConvertArgs& a, const GlobalOptions& global) {
  ConvertOptions o;
  o.quiet = global.quiet;
  o.tokenizer = a.tokenizer;
  if (!a.to.empty()) {
    if (a.to == "safetensors")
      o.to = TargetFormat::kSafetensors;
    else if (a.to == "gguf")
      o.to = TargetFormat::kGguf;
    else
      return ReportError(Error::Usage("unknown output format")
                             .Field("--to")
                             .Expected("safetensors or gguf")
                             .Found(a.to));
  }
  if (!a.dtype.empty()) {
    std::optional<DType> d = DTypeFromName(a.dtype);
    if (!d || !(*d == DType::kF32 || *d == DType::kF16 || *d == DType::kBF16 ||
                *d == DType::kQ8_0 || *d == DType::kQ4_0))
      return ReportError(Error::Usage("unknown --dtype")
                             .Field("--dtype")
                             .Expected("f32, f16, bf16, q8_0 or q4_0")
                             .Found(a.dtype));
    o.dtype = d;
  }
  // Quantizing is its own operation in a release policy; a float re-encoding is convert.
  const bool quantize = o.dtype && Info(*o.dtype).is_quantized;
  ModelInputOptions io = a.input;
  io.operation = quantize ? "quantize" : "convert";
  io.tokenizer = a.tokenizer;
  io.scratch_parent = std::filesystem::path(a.out).parent_path().string();
  if (io.scratch_parent.empty()) io.scratch_parent = ".";
  auto input = OpenModelInput(a.in, io);
  if (!input.ok()) return ReportError(input.error());
  auto derivative = PlanDerivative(**input, io.operation, a.name, a.out);
  if (!derivative.ok()) return ReportError(derivative.error());
  o.tokenizer = (*input)->tokenizer;
  o.metadata = DerivativeMetadata(**input, *derivative);
  Result<ConvertReport> r = Convert((*input)->path, a.out, o);
  if (!r.ok()) return ReportError(r.error());
  auto records = WriteDerivativeRecords(**input, *derivative, a.out);
  if (!records.ok()) return ReportError(records.error());
  ConvertReport rep = *r;
  rep.outputs.insert(rep.outputs.end(), records->begin(), records->end());
  const char* to = rep.to == TargetFormat::kGguf ? "gguf" : "safetensors";
  if (a.json) {
    nlohmann::ordered_json j;
    j["input"] = a.in;
    j["from"] = FormatName(rep.from);
    j["to"] = to;
    j["tensors"] = rep.tensors;
    j["bytes_in"] = rep.bytes_in;
    j["bytes_out"] = rep.bytes_out;
    j["outputs"] = rep.outputs;
    if ((*input)->policy) {
      j["derivative"] = {{"name", derivative->name},
                         {"operation", derivative->operation},
                         {"parent_digest", (*input)->parent_digest},
                         {"parent_name", (*input)->parent_name},
                         {"inherits_policy", derivative->inherits},
                         {"tier", std::string(policy::TierName((*input)->policy->policy.tier))}};
    }
    j["notes"] = rep.notes;
    std::printf("%s\n", j.dump(2).c_str());
    return kExitOk;
  }
  if (!global.quiet)
    for (const std::string& n : rep.notes) std::fprintf(stderr, "note: %s\n", n.c_str());
  std::printf("converted %s (%s, %llu tensors, %llu bytes) -> %s (%llu bytes)\n", a.in.c_str(),
              FormatName(rep.from), static_cast<unsigned long long>(rep.tensors),
              static_cast<unsigned long long>(rep.bytes_in), to,
              static_cast<unsigned long long>(rep.bytes_out));
  for (const std::string& f : rep.outputs) std::printf("  %s\n", f.c_str());
  return kExitOk;
}

}  // namespace

void RegisterConvert(CLI::App& app, const GlobalOptions& global, Runner* run) {
  auto args = std::make_shared<ConvertArgs>();
  auto* cmd = app.add_subcommand(
      "convert", "Convert a model between safetensors, GGUF, PyTorch, llama2.c and HF folders");
  cmd->add_option("IN", args->in, "Input: a model file or a Hugging Face folder")->required();
  cmd->add_option("OUT", args->out,
                  "Output: a .gguf or .safetensors file, or a folder (Hugging Face layout)")
      ->required();
  cmd->add_option("--to", args->to, "Output format: safetensors or gguf (default: from OUT)");
  cmd->add_option("--dtype", args->dtype,
                  "Weight dtype: f32, f16, bf16, or (GGUF only) q8_0, q4_0");
  cmd->add_option("--tokenizer", args->tokenizer, "llama2.c: tokenizer .bin file");
  cmd->add_option("--name", args->name,
                  "Derivative name (general.name); default: the output file name. Checked "
                  "against the policy's name-prefix rule");
  AddModelInputFlags(cmd, &args->input);
  cmd->add_flag("--json", args->json, "Print the result as one JSON document");
  cmd->footer(
      "IN may be a package (OCI folder or .tar). A gated or closed package needs --identity "
      "(and\n--grant unless it holds one for you); it is decrypted into a private folder beside "
      "OUT that\nis removed afterwards. The output inherits the package's policy (GGUF keys / "
      "safetensors\nmetadata weightgate.policy, weightgate.parent.digest, weightgate.parent.name, "
      "and\nweightgate-policy.yaml + weightgate-parent.json beside it).\n\n"
      "Exit codes: 0 ok, 1 tampered data, 2 usage or malformed input, 4 bad grant or receipt "
      "signature,\n5 expired grant, 6 the policy forbids it (the clause is named), 7 the licence "
      "must be\naccepted first, 8 I/O.");
  cmd->fallthrough();  // global flags (-q) also after the verb
  cmd->callback(
      [run, args, &global] { *run = [args, &global] { return RunConvert(*args, global); }; });
}

}  // namespace wg::cli
