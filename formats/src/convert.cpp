// weightgate convert: picks the target, checks the options, opens the source and hands
// it to the target's writer. Outputs appear complete or not at all: files through
// AtomicFile, folders built in a temporary folder beside OUT and renamed into place.
#include "weightgate/formats/convert.h"

#include <unistd.h>

#include <filesystem>
#include <random>

#include "convert_internal.h"

namespace wg {
namespace {

namespace fs = std::filesystem;
using namespace convert_detail;

bool EndsWith(const std::string& s, const std::string& suffix) {
  return s.size() >= suffix.size() &&
         s.compare(s.size() - suffix.size(), suffix.size(), suffix) == 0;
}

Result<TargetFormat> ChooseTarget(const std::string& out, const ConvertOptions& o) {
  if (o.to) return *o.to;
  if (EndsWith(out, ".gguf")) return TargetFormat::kGguf;
  if (EndsWith(out, ".safetensors")) return TargetFormat::kSafetensors;
  return Error::Usage("cannot tell the output format from its name; pass --to safetensors|gguf")
      .File(out)
      .Expected("OUT ending in .gguf or .safetensors, or --to");
}

Status CheckDType(TargetFormat to, std::optional<DType> d) {
  if (!d) return Ok();
  switch (*d) {
    case DType::kF32:
    case DType::kF16:
    case DType::kBF16:
      return Ok();
    case DType::kQ8_0:
    case DType::kQ4_0:
      if (to == TargetFormat::kGguf) return Ok();
      return Error::Usage("safetensors cannot hold quantized tensors; use --to gguf for " +
                          std::string(Name(*d)))
          .Field("--dtype")
          .Found(std::string(Name(*d)));
    default:
      return Error::Usage("unsupported --dtype")
          .Field("--dtype")
          .Expected("f32, f16, bf16, q8_0 or q4_0")
          .Found(std::string(Name(*d)));
  }
}

std::string TempSibling(const std::string& out) {
  std::random_device rd;
  const fs::path p(out);
  return (p.parent_path() / ("." + p.filename().string() + ".tmp-" + std::to_string(::getpid()) +
                             "-" + std::to_string(rd())))
      .string();
}

uint64_t FileSize(const std::string& path) {
  std::error_code ec;
  uint64_t n = fs::file_size(path, ec);
  return ec ? 0 : n;
}

}  // namespace

Result<ConvertReport> Convert(const std::string& in, const std::string& out,
                              const ConvertOptions& options) {
  WG_ASSIGN_OR_RETURN(TargetFormat to, ChooseTarget(out, options));
  WG_TRY(CheckDType(to, options.dtype));
  std::string trimmed = out;
  while (trimmed.size() > 1 && trimmed.back() == '/') trimmed.pop_back();
  std::error_code ec;
  if (fs::is_directory(trimmed, ec))
    return Error::Usage("output exists and is a folder; remove it or choose another name")
        .File(trimmed);
  const fs::path parent = fs::path(trimmed).parent_path();
  if (!parent.empty() && !fs::is_directory(parent, ec))
    return Error::Io("the output's folder does not exist").File(parent.string());
  // A safetensors OUT without the extension is a Hugging Face folder.
  const bool folder = to == TargetFormat::kSafetensors && !EndsWith(trimmed, ".safetensors");
  if (folder && fs::exists(trimmed, ec))
    return Error::Usage("output exists; a folder output must not").File(trimmed);
  if (fs::weakly_canonical(in, ec) == fs::weakly_canonical(trimmed, ec))
    return Error::Usage("output is the input").File(trimmed);

  WG_ASSIGN_OR_RETURN(Source src, OpenSource(in, options.tokenizer));
  if (!options.tokenizer.empty() && src.format != Format::kLlama2c)
    return Error::Usage("--tokenizer applies to llama2.c checkpoints only")
        .Field("--tokenizer")
        .Found(FormatName(src.format));
  ConvertReport report;
  report.from = src.format;
  report.to = to;
  report.tensors = src.catalog.tensors.size();
  report.bytes_in = src.catalog.TotalBytes();

  if (to == TargetFormat::kGguf) {
    WG_TRY(WriteGgufTarget(src, trimmed, options.dtype, options.metadata, &report.notes));
    report.outputs.push_back(trimmed);
  } else if (!folder) {
    WG_TRY(WriteSafetensorsTarget(src, trimmed, false, options.dtype, options.metadata,
                                  &report.outputs, &report.notes));
  } else {
    FileSystem& fsys = FileSystem::Default();
    const std::string tmp = TempSibling(trimmed);
    WG_TRY(fsys.CreateDir(tmp));
    std::vector<std::string> files;
    Status s = WriteSafetensorsTarget(src, tmp, true, options.dtype, options.metadata, &files,
                                      &report.notes);
    if (s.ok()) s = fsys.SyncDir(tmp);
    if (s.ok()) s = fsys.RenameNoReplace(tmp, trimmed);
    if (!s.ok()) {
      (void)fsys.RemoveAll(tmp);
      return std::move(s).error();
    }
    WG_TRY(fsys.SyncDir(parent.empty() ? "." : parent.string()));
    for (const std::string& f : files)
      report.outputs.push_back((fs::path(trimmed) / fs::path(f).filename()).string());
  }
  for (const std::string& f : report.outputs) report.bytes_out += FileSize(f);
  return report;
}

}  // namespace wg
