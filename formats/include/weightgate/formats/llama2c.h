// llama2.c checkpoints (legacy v0, v1 fp32, v2 Q8 read) and tokenizers.
// Layout: ../shared/testdata/models/LLAMA2C_FORMAT.md, summarized in docs/formats.md.
#pragma once

#include <string>
#include <vector>

#include "weightgate/formats/tensor_catalog.h"

namespace wg {

struct Llama2cConfig {
  int32_t dim = 0, hidden_dim = 0, n_layers = 0, n_heads = 0, n_kv_heads = 0, vocab_size = 0,
          seq_len = 0;
  bool shared_classifier = true;
  int32_t version = 0;  // 0 legacy, 1, 2
};

struct Llama2cTokenizer {
  int32_t max_token_length = 0;
  std::vector<std::string> pieces;
  std::vector<float> scores;
};

struct Llama2cModel {
  Llama2cConfig config;
  // Tensors named as in GGUF (token_embd.weight, blk.N.attn_q.weight, ...), per layer,
  // shapes outermost-first; views into the checkpoint's map. output.weight only when
  // the classifier is not shared.
  TensorCatalog catalog;
  std::optional<Llama2cTokenizer> tokenizer;
  std::string tokenizer_path;
};

// Reads a checkpoint; picks up tok*.bin / tokenizer.bin beside it unless tokenizer_path
// names one ("" = look beside; "-" = none).
Result<Llama2cModel> ReadLlama2c(const std::string& path, const std::string& tokenizer_path = "");
Result<Llama2cTokenizer> ReadLlama2cTokenizer(const std::string& path, int32_t vocab_size);

}  // namespace wg
