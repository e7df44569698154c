// llama2.c checkpoints (legacy v0, v1 fp32, v2 Q8 read) and tokenizers.
// Layout: ../shared/testdata/models/LLAMA2C_FORMAT.md, summarized in docs/formats.md.
//
// What the catalogue holds:
// - Tensors are named as in GGUF (token_embd.weight, blk.N.attn_norm.weight,
//   blk.N.attn_q/attn_k/attn_v/attn_output.weight, blk.N.ffn_norm.weight,
//   blk.N.ffn_gate (w1), ffn_down (w2), ffn_up (w3), output_norm.weight), one per layer,
//   shapes outermost-first (rows, cols), as views into the checkpoint's map, in file order.
//   output.weight only when the classifier is not shared.
// - Q/K row order: llama2.c rotates ADJACENT pairs (Meta's original layout), which is
//   also GGUF's order. The rows are kept as stored and need NO permutation for GGUF:
//   stories260K.gguf, written by llama.cpp's converter from the same checkpoint, holds
//   byte-identical attn_q/attn_k (tests/llama2c_test.cpp proves it). Only a Hugging Face
//   export permutes them: within each head of size hs, HF row c*(hs/2)+j is llama2.c row
//   2j+c (c in {0,1}), per query head for attn_q and per KV head for attn_k.
// - Legacy freq_cis tables (RoPE cos/sin, recomputable) are not tensors of the model:
//   they are validated for size and left out of the catalogue (metadata rope_tables).
// - Version 2 (Q8_0 with groups of group_size consecutive values, a float32 scale per
//   group) cannot be a GGUF Q8_0 dtype (different group size and scale type), so each
//   quantized tensor appears as two catalogue tensors: NAME (I8, the real shape) and
//   NAME + kLlama2cScalesSuffix (F32, shape [elements / group_size]); value = int8 * scale.
//   DequantizedLlama2cTensor turns such a pair into a streaming F32 tensor. The norms are
//   plain F32 in every version.
// - metadata: {"version", "dim", "hidden_dim", "n_layers", "n_heads", "n_kv_heads",
//   "vocab_size" (absolute), "seq_len", "shared_classifier", "rope_tables" (v0),
//   "group_size" (v2), "tokenizer": {"file", "entries", "max_token_length"} if one was read}.
#pragma once

#include <optional>
#include <string>
#include <vector>

#include "weightgate/formats/tensor_catalog.h"

namespace wg {

inline constexpr const char* kLlama2cScalesSuffix = ".scales";

struct Llama2cConfig {
  int32_t dim = 0, hidden_dim = 0, n_layers = 0, n_heads = 0, n_kv_heads = 0, vocab_size = 0,
          seq_len = 0;  // vocab_size is the absolute value (legacy files store it negated)
  bool shared_classifier = true;
  int32_t version = 0;       // 0 legacy, 1, 2
  int32_t group_size = 0;    // version 2 only
  bool rope_tables = false;  // legacy file carries freq_cis_real/imag
};

struct Llama2cTokenizer {
  int32_t max_token_length = 0;
  std::vector<std::string> pieces;
  std::vector<float> scores;
};

struct Llama2cModel {
  Llama2cConfig config;
  TensorCatalog catalog;  // format kLlama2c; files = {checkpoint[, tokenizer]}
  std::optional<Llama2cTokenizer> tokenizer;
  std::string tokenizer_path;
};

// Reads a checkpoint; picks up a tokenizer beside it unless tokenizer_path names one
// ("" = look beside; "-" = none). Beside means, in this order: tok<vocab>.bin,
// tokenizer.bin, any other tok*.bin; a candidate whose entry count differs from the
// model's vocab_size is skipped as belonging to another model; a malformed one is an error.
Result<Llama2cModel> ReadLlama2c(const std::string& path, const std::string& tokenizer_path = "");
// Reads exactly vocab_size entries and requires the file to end there (kMismatch if the
// file holds another number of well-formed entries, kMalformed if it is not a tokenizer).
Result<Llama2cTokenizer> ReadLlama2cTokenizer(const std::string& path, int32_t vocab_size);

// The header and layout alone, without the tokenizer (what DetectFormat needs): fails
// unless every header field is plausible and the file size is exactly what it predicts.
Result<Llama2cConfig> ReadLlama2cConfig(const std::string& path);

// An F32 tensor named values.name with values.shape, produced from a version-2 pair
// (values: I8, scales: F32, one per group_size consecutive values) without loading it.
TensorWriteSpec DequantizedLlama2cTensor(const TensorInfo& values, const TensorInfo& scales,
                                         int32_t group_size);

}  // namespace wg
