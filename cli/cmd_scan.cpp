// weightgate scan PATH [--json]: structural validation of model files and the globals
// every pickle would import. Nothing is ever unpickled or executed.
#include <cstdio>
#include <filesystem>

#include "command.h"
#include "weightgate/formats/inspect.h"

namespace wg::cli {
namespace {

using Json = nlohmann::ordered_json;

void PrintHuman(const Json& j) {
  for (const Json& f : j["files"]) {
    const std::string status = f["status"];
    if (status == "skipped") continue;
    std::string upper = status;
    for (char& c : upper) c = char(std::toupper(static_cast<unsigned char>(c)));
    std::printf("%s: %s: %s", f["path"].get<std::string>().c_str(),
                f["format"].is_null() ? "unknown format" : f["format"].get<std::string>().c_str(),
                upper.c_str());
    if (status == "ok" && f["tensors"].get<uint64_t>() > 0)
      std::printf(" (%s tensors, every span inside its file)", f["tensors"].dump().c_str());
    std::printf("\n");
    if (f.contains("pickle")) {
      const Json& p = f["pickle"];
      std::printf("  %s: %zu imports, %s unsafe\n",
                  p["legacy"].get<bool>() ? "bare pickle" : "pickles in the archive",
                  p["globals"].size(), p["unsafe_globals"].dump().c_str());
      for (const Json& g : p["globals"])
        std::printf(
            "    %-6s %s (%s) in %s at offset %s\n", g["safe"].get<bool>() ? "safe" : "UNSAFE",
            g["global"].get<std::string>().c_str(), g["severity"].get<std::string>().c_str(),
            g["pickle"].get<std::string>().c_str(), g["offset"].dump().c_str());
    }
    for (const Json& p : f["problems"])
      std::printf("  problem: %s\n", p["text"].get<std::string>().c_str());
  }
  size_t skipped = 0;
  for (const Json& f : j["files"]) skipped += f["status"] == "skipped";
  if (skipped) std::printf("(%zu other files skipped: not model files)\n", skipped);
  std::printf("%s\n", j["clean"].get<bool>()       ? "result: clean"
                      : j["unsafe"].get<bool>()    ? "result: UNSAFE"
                      : j["malformed"].get<bool>() ? "result: MALFORMED"
                                                   : "result: FAILED");
}

}  // namespace

void RegisterScan(CLI::App& app, const GlobalOptions& global, Runner* run) {
  auto* cmd = app.add_subcommand(
      "scan", "Validate model files structurally and list every pickle import (never executed)");
  struct Options {
    std::string path;
    bool json = false;
  };
  auto opts = std::make_shared<Options>();
  cmd->add_option("PATH", opts->path, "a model file, or a folder (every file directly inside)")
      ->required();
  cmd->add_flag("--json", opts->json, "Print one JSON document");
  cmd->footer(
      "Reads every header and checks every tensor span against its file (safetensors, GGUF, "
      "PyTorch zip, llama2.c and its tokenizer). For pickles (PyTorch zips, legacy .bin/.pt, "
      ".pkl) lists every global they would import, flagged safe or unsafe.\n"
      "Exit status: 0 clean, 1 unsafe globals or a failed check, 2 malformed file.\n\n"
      "Examples:\n"
      "  weightgate scan pytorch_model.bin\n"
      "  weightgate scan ./downloaded-model/ --json | jq '.files[].pickle.globals[]?'");
  (void)global;
  cmd->callback([run, opts] {
    *run = [opts]() -> int {
      std::error_code ec;
      if (!std::filesystem::exists(opts->path, ec))
        return ReportError(Error::Io("no such file or folder").File(opts->path));
      const ScanReport report = ScanPath(opts->path);
      const Json j = ScanJson(report);
      if (opts->json)
        std::printf("%s\n", j.dump(2, ' ', false, Json::error_handler_t::replace).c_str());
      else
        PrintHuman(j);
      if (report.unsafe()) return kExitCheckFailed;
      if (report.malformed()) return kExitUsage;
      return report.clean() ? kExitOk : kExitCheckFailed;
    };
  });
}

}  // namespace wg::cli
