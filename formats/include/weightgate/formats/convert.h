// Conversion between model formats, streaming.
//
// Sources: safetensors (file, shards or a Hugging Face folder with config.json and
// tokenizer.json/tokenizer.model), GGUF, PyTorch zip checkpoints, llama2.c. Targets:
// safetensors (+ config.json for Llama-family models) and GGUF (llama architecture
// metadata, HF -> GGUF tensor names, Q/K row permutation, tokenizer). Tensor data flows
// in bounded chunks from the input's memory map through the cast into the output file,
// so peak memory does not grow with the model.
#pragma once

#include <map>
#include <optional>
#include <string>

#include "weightgate/core/dtype.h"
#include "weightgate/formats/tensor_catalog.h"

namespace wg {

enum class TargetFormat { kSafetensors, kGguf };

struct ConvertOptions {
  std::optional<TargetFormat> to;  // default: from OUT's extension
  std::optional<DType> dtype;      // F32/F16/BF16 (any target), Q8_0/Q4_0 (GGUF only)
  std::string tokenizer;           // llama2.c: tokenizer file
  bool quiet = false;
  // String key/values written into the output: GGUF string keys (replacing keys of the same
  // name, e.g. general.name) and the safetensors __metadata__ map. Derivatives use it for
  // their inherited policy and parent digest (weightgate.*, docs/policy.md).
  std::map<std::string, std::string> metadata;
};

struct ConvertReport {
  Format from;
  TargetFormat to;
  uint64_t tensors = 0;
  uint64_t bytes_in = 0;
  uint64_t bytes_out = 0;
  std::vector<std::string> outputs;  // files written
  std::vector<std::string> notes;    // things a user should know (dtype fallbacks, no tokenizer)
};

Result<ConvertReport> Convert(const std::string& in, const std::string& out,
                              const ConvertOptions& options);

}  // namespace wg
