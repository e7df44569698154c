// Finding the one Llama model in a folder (a model folder being packed, or the files of a
// package): the forward pass needs a single entry point, not a list of files.
#include <algorithm>
#include <filesystem>
#include <nlohmann/json.hpp>

#include "weightgate/gpu_check/golden.h"

namespace wg {
namespace {
namespace fs = std::filesystem;

bool IsHuggingFaceLlama(const fs::path& dir) {
  auto text = ReadSmallFile((dir / "config.json").string(), 1 << 20);
  if (!text.ok()) return false;
  auto j = nlohmann::json::parse(*text, nullptr, false);
  return j.is_object() && j.contains("hidden_size") && j.contains("num_hidden_layers");
}

}  // namespace

Result<LlamaModel> LoadLlamaModelFromFolder(const std::string& dir) {
  if (IsHuggingFaceLlama(dir)) return LoadLlamaModel(dir);
  std::vector<std::string> gguf, llama2c;
  std::error_code ec;
  for (const auto& e : fs::directory_iterator(dir, ec)) {
    if (!e.is_regular_file()) continue;
    const std::string p = e.path().string();
    std::optional<Format> f = DetectFormat(p);
    if (f == Format::kGguf) gguf.push_back(p);
    if (f == Format::kLlama2c) llama2c.push_back(p);
  }
  if (ec) return Error(ErrorCode::kIo, "cannot list the model folder: " + ec.message()).File(dir);
  std::sort(gguf.begin(), gguf.end());
  std::sort(llama2c.begin(), llama2c.end());
  if (gguf.size() == 1) return LoadLlamaModel(gguf[0]);
  if (gguf.empty() && llama2c.size() == 1) return LoadLlamaModel(llama2c[0]);
  return Error::Unsupported(
             "no single Llama model in the folder (a Hugging Face config.json with "
             "hidden_size, one GGUF, or one llama2.c checkpoint)")
      .File(dir)
      .Found(std::to_string(gguf.size()) + " GGUF, " + std::to_string(llama2c.size()) +
             " llama2.c");
}

}  // namespace wg
