// CpuReference: the forward pass every GPU result is judged against.
//
// It is written for being obviously right, not fast: FP32 activations, weights
// dequantized row by row exactly as llama.cpp would (core/quant.h), and every dot
// product, RMSNorm sum and softmax accumulated in double so that its logits sit within
// ~1e-5 of a float64 implementation and differences from a GPU come from the GPU.
// Matrix-vector products are split by rows over the shared thread pool.
#pragma once

#include <cstdint>
#include <vector>

#include "weightgate/core/error.h"
#include "weightgate/gpu_check/llama_model.h"

namespace wg {

class CpuReference {
 public:
  // The model must outlive the reference. `max_seq` bounds the KV cache (0: the
  // model's seq_len).
  explicit CpuReference(const LlamaModel& model, int32_t max_seq = 0);

  // Feeds `token` at position `pos` (0, 1, 2, ... in order) and returns the logits.
  Result<const std::vector<float>*> Forward(int32_t token, int32_t pos);

  // run.c's generate(): feeds the prompt, then greedy argmax (ties: lowest id) until
  // `steps` forward passes or a BOS. Returns the next-token ids, prompt echo included.
  Result<std::vector<int32_t>> Greedy(const std::vector<int32_t>& prompt, int32_t steps);

 private:
  Status MatVec(const TensorInfo& w, const float* x, float* out) const;
  void RmsNorm(const float* x, const std::vector<float>& w, float* out) const;

  const LlamaModel& model_;
  int32_t max_seq_;
  std::vector<float> x_, xb_, xb2_, hb_, hb2_, q_, att_, logits_;
  std::vector<float> key_cache_, value_cache_;  // [layer][pos][kv_dim]
  std::vector<std::vector<float>> attn_norm_, ffn_norm_;
  std::vector<float> output_norm_;
  std::vector<double> inv_freq_;  // per pair index within a head
};

// RoPE's angle per position for each pair index of a head, in double: theta's powers,
// Llama 3 rope scaling and llama.cpp's rope_freqs divisors applied. Shared by both twins.
std::vector<double> RopeInverseFrequencies(const LlamaModel& model);

// Index of the largest logit, lowest index on ties.
int32_t Argmax(const std::vector<float>& logits);

}  // namespace wg
