// LlamaModel: a Llama-family decoder's hyperparameters and a view of its weights.
//
// Every forward pass (the CPU reference and the CUDA twin) works from this one view,
// so a conversion bug shows up as a difference between artifacts, not between
// loaders. Weights are not copied: each matrix is a TensorInfo into the source's
// memory map, dequantized row by row when used, so loading costs no memory.
//
// Tensor names are GGUF's (token_embd.weight, blk.N.attn_q.weight, ...). Hugging Face
// folders are renamed on load. Q/K row order differs between sources, and with it the
// pairing RoPE must use: llama2.c and GGUF keep Meta's order, where RoPE rotates
// adjacent pairs (2i, 2i+1) of each head; Hugging Face checkpoints are permuted so that
// RoPE rotates halves (i, i + head_size/2). The model records which one its weights use
// (RopeLayout) instead of permuting them.
#pragma once

#include <cstdint>
#include <optional>
#include <string>
#include <vector>

#include "weightgate/core/error.h"
#include "weightgate/formats/tensor_catalog.h"
#include "weightgate/gpu_check/tokenizer.h"

namespace wg {

enum class RopeLayout { kAdjacentPairs, kHalves };

// Llama 3.1's frequency-dependent RoPE scaling (rope_scaling.rope_type == "llama3").
struct Llama3RopeScaling {
  double factor = 8.0;
  double low_freq_factor = 1.0;
  double high_freq_factor = 4.0;
  double original_max_position_embeddings = 8192;
};

struct LlamaConfig {
  int32_t dim = 0;
  int32_t hidden_dim = 0;
  int32_t n_layers = 0;
  int32_t n_heads = 0;
  int32_t n_kv_heads = 0;
  int32_t vocab_size = 0;
  int32_t seq_len = 0;
  double rms_eps = 1e-5;
  double rope_theta = 10000.0;
  std::optional<Llama3RopeScaling> rope_scaling;
  RopeLayout rope_layout = RopeLayout::kAdjacentPairs;

  int32_t head_size() const { return dim / n_heads; }
  int32_t kv_dim() const { return head_size() * n_kv_heads; }
  // Checks the shape relations a forward pass relies on.
  Status Validate(const std::string& source) const;
};

struct LlamaLayerWeights {
  const TensorInfo* attn_norm = nullptr;
  const TensorInfo* wq = nullptr;
  const TensorInfo* wk = nullptr;
  const TensorInfo* wv = nullptr;
  const TensorInfo* wo = nullptr;
  const TensorInfo* ffn_norm = nullptr;
  const TensorInfo* w_gate = nullptr;
  const TensorInfo* w_down = nullptr;
  const TensorInfo* w_up = nullptr;
};

struct LlamaModel {
  std::string source;  // the path it was loaded from
  Format format = Format::kGguf;
  LlamaConfig config;
  TensorCatalog catalog;  // owns the TensorInfos the pointers below refer to
  const TensorInfo* token_embd = nullptr;
  const TensorInfo* output_norm = nullptr;
  const TensorInfo* output = nullptr;      // == token_embd when the head is tied
  const TensorInfo* rope_freqs = nullptr;  // llama.cpp's per-frequency divisors, if any
  std::vector<LlamaLayerWeights> layers;
  std::optional<Tokenizer> tokenizer;

  LlamaModel() = default;
  LlamaModel(const LlamaModel&) = delete;
  LlamaModel& operator=(const LlamaModel&) = delete;
  LlamaModel(LlamaModel&&) = default;
  LlamaModel& operator=(LlamaModel&&) = default;

  // Resolves the named tensors in `catalog` and checks every shape against `config`.
  Status Bind();
};

// Loads a llama2.c checkpoint, a GGUF (general.architecture llama), or a Hugging Face
// folder (config.json + safetensors/PyTorch weights; tokenizer.model if present).
// `tokenizer` overrides the tokenizer found beside a llama2.c checkpoint.
Result<LlamaModel> LoadLlamaModel(const std::string& path, const std::string& tokenizer = "");

}  // namespace wg
