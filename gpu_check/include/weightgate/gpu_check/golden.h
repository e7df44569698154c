// Golden record: what the CPU reference computed for a fixed prompt, stored in a package
// (layer application/vnd.weightgate.golden.v1+json, golden.json) so that any later run of
// the same weights (a GPU, another machine, a conversion) can be judged against it.
//
// The record holds, per forward pass, the input token and the top-k (id, logit) pairs;
// the prompt, its ids, the greedily generated ids and their text; and a SHA-256 over
// every full logits vector: for position 0, 1, ... in order, vocab_size float32 values,
// each as its 4 IEEE-754 bytes little-endian, concatenated (no separators, no header).
// Same weights and same options give byte-identical JSON (no clock, no host names).
//
// Comparison is teacher-forced: the candidate is fed the golden record's own input
// sequence, so one early disagreement does not snowball into every later position.
#pragma once

#include <cstdint>
#include <functional>
#include <string>
#include <vector>

#include "weightgate/core/dtype.h"
#include "weightgate/core/error.h"
#include "weightgate/gpu_check/llama_model.h"

namespace wg {

inline constexpr std::string_view kGoldenSchema = "https://weightgate.dev/golden/v1";
inline constexpr std::string_view kGoldenPrompt = "Once upon a time";
inline constexpr int32_t kGoldenTokens = 16;
inline constexpr int32_t kGoldenTopK = 8;

struct GoldenOptions {
  std::string prompt = std::string(kGoldenPrompt);
  int32_t tokens = kGoldenTokens;  // generated after the prompt
  int32_t top_k = kGoldenTopK;
};

// Pass/fail thresholds for one weights dtype (docs/gpu_check.md has the measurements).
struct Tolerance {
  std::string dtype;         // "F32", "Q4_0", ...
  double max_abs = 0;        // max |candidate - golden| over the golden top-k logits
  double max_rel = 0;        // max |candidate - golden| / max(|golden|, 1)
  double min_top1 = 1.0;     // fraction of positions whose argmax is the golden top-1
  bool tokens_equal = true;  // the free-running greedy ids must equal the golden ones
};
// The tolerance of the least precise dtype among the model's weight matrices.
Tolerance ToleranceFor(DType weights);
// F32 < F16 = BF16 < Q8_0 < Q4_0 < anything else, by the matrices of every layer and the
// output head.
DType WeightsDType(const LlamaModel& model);

struct GoldenPosition {
  int32_t input_id = 0;  // token fed at this position
  std::vector<int32_t> top_ids;
  std::vector<float> top_logits;
};

struct GoldenRecord {
  std::string prompt;
  std::vector<int32_t> prompt_ids;
  int32_t tokens = 0;  // asked for; generation stops early at BOS
  int32_t top_k = 0;
  std::vector<int32_t> generated_ids;  // after the prompt
  std::string text;                    // decoded prompt echo + generated ids
  std::vector<GoldenPosition> positions;
  std::string logits_sha256;  // hex
  std::string weights_dtype;
  int32_t vocab_size = 0;
  Tolerance tolerance;  // of weights_dtype, as it was when recorded

  // Deterministic JSON (fixed key order, 2-space indent, trailing newline).
  std::string ToJson() const;
  static Result<GoldenRecord> Parse(std::string_view json, const std::string& source);
  // The ids fed at `positions`: prompt_ids then generated_ids, cut to positions.size().
  std::vector<int32_t> InputIds() const;
};

// One forward pass of some implementation (the CPU reference, a GPU twin).
using ForwardFn = std::function<Result<const std::vector<float>*>(int32_t token, int32_t pos)>;

// Runs the CPU reference on `options.prompt` and records it.
Result<GoldenRecord> ComputeGolden(const LlamaModel& model, const GoldenOptions& options);

struct GoldenComparison {
  std::string reference;  // what was compared against, for reports
  Tolerance tolerance;
  int32_t positions = 0;
  double max_abs = 0, max_rel = 0;
  int32_t worst_position = -1;
  int32_t top1_agree = 0;
  double top1_rate = 0;
  std::vector<int32_t> generated_ids;  // the candidate's own greedy ids
  bool tokens_equal = false;
  bool logits_digest_equal = false;
  uint64_t nan_count = 0, inf_count = 0;
  bool passed = false;
  std::vector<std::string> failures;  // one sentence per broken threshold
};

// Feeds `golden`'s inputs through `forward` (teacher-forced) and then greedily generates
// golden.tokens more ids with a fresh `forward_free` pass; judges by `tolerance`.
Result<GoldenComparison> CompareWithGolden(const GoldenRecord& golden, int32_t bos_id,
                                           const ForwardFn& forced, const ForwardFn& free_run,
                                           const Tolerance& tolerance);
// The same with two fresh CPU references of `model`.
Result<GoldenComparison> CompareCpuWithGolden(const LlamaModel& model, const GoldenRecord& golden,
                                              const Tolerance& tolerance);

// Finds the model in a folder about to be packed (or unpacked from a package): a Hugging
// Face folder (config.json with hidden_size), else the one GGUF, else a llama2.c
// checkpoint with its tokenizer (tokenizer.bin or tok*.bin). kUnsupported when none.
Result<LlamaModel> LoadLlamaModelFromFolder(const std::string& dir);

}  // namespace wg
