// weightgate convert IN OUT [--to safetensors|gguf] [--dtype ...] [--tokenizer FILE] [--json]
#include <cstdio>
#include <nlohmann/json.hpp>

#include "command.h"
#include "weightgate/formats/convert.h"

namespace wg::cli {
namespace {

struct ConvertArgs {
  std::string in, out, to, dtype, tokenizer;
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
  Result<ConvertReport> r = Convert(a.in, a.out, o);
  if (!r.ok()) return ReportError(r.error());
  const ConvertReport& rep = *r;
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
  cmd->add_flag("--json", args->json, "Print the result as one JSON document");
  cmd->fallthrough();  // global flags (-q) also after the verb
  cmd->callback(
      [run, args, &global] { *run = [args, &global] { return RunConvert(*args, global); }; });
}

}  // namespace wg::cli
