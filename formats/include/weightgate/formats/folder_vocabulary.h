// The SentencePiece-style vocabulary of a Hugging Face folder (tokenizer.model, else a
// tokenizer.json of model type "llama"), for code outside formats/ that needs the pieces
// and scores, such as gpu_check's tokenizer. Byte-level BPE (model "gpt2") is not a
// scored vocabulary and is reported as absent.
#pragma once

#include <cstdint>
#include <optional>
#include <string>
#include <vector>

#include "weightgate/core/error.h"

namespace wg {

struct ScoredVocabulary {
  std::vector<std::string> pieces;
  std::vector<float> scores;
  int32_t bos_id = 1, eos_id = 2;
};

// nullopt when the folder has no tokenizer, or one that is not SentencePiece-style.
Result<std::optional<ScoredVocabulary>> ReadFolderVocabulary(const std::string& folder);

}  // namespace wg
