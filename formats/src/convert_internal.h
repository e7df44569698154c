// Pieces shared by the converter's files (convert.cpp dispatches; the others each do one
// job): streaming tensor transforms, the Llama architecture's names and hyper-parameters,
// and tokenizers in GGUF terms.
#pragma once

#include <nlohmann/json.hpp>
#include <optional>
#include <string>
#include <vector>

#include "weightgate/core/dtype.h"
#include "weightgate/core/progress.h"
#include "weightgate/core/thread_pool.h"
#include "weightgate/formats/gguf.h"
#include "weightgate/formats/llama2c.h"
#include "weightgate/formats/tensor_catalog.h"

namespace wg::convert_detail {

// ---- tensor_transform.cpp --------------------------------------------------------------

// How a Q/K projection's rows are reordered on the way through. Hugging Face checkpoints
// keep each head's rotary pairs split in halves (rotate_half); GGUF, Meta and llama2.c
// keep them interleaved. llama.cpp's convert_hf_to_gguf.py `permute` goes HF -> GGUF;
// transformers' convert_llama_weights_to_hf.py `permute` goes back.
enum class RowOrder { kKeep, kHfToGguf, kGgufToHf };

// Output row r of a (rows x cols) projection with `n_head` heads reads source row
// SourceRow(r).
uint64_t SourceRow(RowOrder order, uint64_t rows, uint64_t n_head, uint64_t r);

struct TensorPlan {
  TensorInfo src;
  std::string name;  // output name
  DType dtype;       // output dtype
  RowOrder order = RowOrder::kKeep;
  uint64_t n_head = 0;  // heads of the permutation (n_kv_heads for K)
  // llama2.c version 2: src holds int8 values, scales one F32 per group_size values.
  std::optional<TensorInfo> scales;
  uint64_t group_size = 0;
};

// Plans for a catalogue's tensors as the converter sees them: llama2.c version-2 pairs
// (NAME as I8, NAME.scales as F32) become one tensor read as F32.
struct SourceTensor {
  const TensorInfo* info;
  const TensorInfo* scales = nullptr;  // llama2.c v2
  uint64_t group_size = 0;
  DType dtype() const { return scales ? DType::kF32 : info->dtype; }
};
std::vector<SourceTensor> SourceTensors(const TensorCatalog& catalog);

// A producer that reads the source in bounded chunks (contiguous, strided or row-permuted),
// casts or quantizes each chunk on two threads, hands it to the writer and releases the
// source pages. Checks the plan (dtype support, block alignment) before returning.
Result<TensorWriteSpec> MakeWriteSpec(const TensorPlan& plan);

// Wraps every producer so that the bytes it hands over advance `progress` (which must
// outlive the specs).
void TrackProgress(std::vector<TensorWriteSpec>* specs, Progress* progress);

// Chunk size, in output bytes, that producers aim for. Tests shrink it to exercise
// chunk boundaries on small models.
uint64_t ChunkBytes();
void SetChunkBytesForTesting(uint64_t bytes);  // 0 restores the default

// ---- llama_arch.cpp --------------------------------------------------------------------

// Llama hyper-parameters, whichever file they came from.
struct LlamaParams {
  uint64_t vocab_size = 0, dim = 0, hidden_dim = 0, n_layers = 0, n_heads = 0, n_kv_heads = 0;
  uint64_t context_length = 0;
  uint64_t head_dim = 0;  // = rope.dimension_count
  double rms_eps = 1e-5;
  std::optional<double> rope_theta;
  bool tied = true;  // output projection shares token_embd
  std::optional<uint32_t> bos, eos;
};

Result<LlamaParams> LlamaParamsFromHfConfig(const nlohmann::json& config, const std::string& path);
Result<LlamaParams> LlamaParamsFromGguf(const GgufFile& gguf, const std::string& path);
Result<LlamaParams> LlamaParamsFromLlama2c(const Llama2cConfig& c, const std::string& path);

// LlamaForCausalLM config.json for these parameters.
nlohmann::ordered_json HfConfigJson(const LlamaParams& p, DType weights);

// GGUF key/values for the architecture (general.*, llama.*), without the tokenizer.
std::vector<GgufKV> LlamaGgufKVs(const LlamaParams& p, uint32_t file_type);
// llama.cpp's LLAMA_FTYPE for the dtype most 2-D weights have.
uint32_t GgufFileType(DType weights);

// Tensor names. nullopt: a tensor the Llama architecture does not have.
std::optional<std::string> HfToGgufName(const std::string& hf);
std::optional<std::string> GgufToHfName(const std::string& gguf);
// Heads for a Q/K row permutation of the GGUF-named tensor, 0 for any other tensor.
uint64_t PermutationHeads(const std::string& gguf_name, const LlamaParams& p);

// ---- tokenizer_*.cpp -------------------------------------------------------------------

// llama.cpp token types (llama_token_type / gguf.TokenType).
enum TokenType : int32_t {
  kTokenNormal = 1,
  kTokenUnknown = 2,
  kTokenControl = 3,
  kTokenUserDefined = 4,
  kTokenUnused = 5,
  kTokenByte = 6,
};

// A tokenizer as GGUF stores it.
struct GgufTokenizer {
  std::string model;  // "llama" (SentencePiece) or "gpt2" (byte-level BPE)
  std::vector<std::string> tokens;
  std::vector<float> scores;  // may be empty for gpt2
  std::vector<int32_t> types;
  std::vector<std::string> merges;
  std::optional<uint32_t> bos, eos, unk, pad;
  std::optional<bool> add_bos, add_eos;
};

// tokenizer_llama2c.cpp: llama2.c's tokenizer.bin, spelled the way llama.cpp's
// convert-llama2c-to-ggml spells it.
GgufTokenizer TokenizerFromLlama2c(const Llama2cTokenizer& t);
// tokenizer_spm.cpp: SentencePiece tokenizer.model (a ModelProto), and back.
Result<GgufTokenizer> ReadSentencePieceModel(const std::string& path);
std::string WriteSentencePieceModel(const GgufTokenizer& t);
// tokenizer_hf_json.cpp: Hugging Face tokenizer.json (BPE).
Result<GgufTokenizer> ReadHfTokenizerJson(const std::string& path);
// tokenizer_gguf.cpp: GGUF <-> GgufTokenizer.
void AppendTokenizerKVs(const GgufTokenizer& t, std::vector<GgufKV>* kvs);
std::optional<GgufTokenizer> TokenizerFromGguf(const GgufFile& gguf);
// Special-token ids from a Hugging Face folder's tokenizer_config.json / config.json,
// resolved against the vocabulary; fills what `t` does not already have.
Status ApplyHfSpecialTokens(const std::string& folder, GgufTokenizer* t);

}  // namespace wg::convert_detail

namespace wg::convert_detail {

// ---- convert_source.cpp ----------------------------------------------------------------

// An input, read once: its catalogue and, for Llama-family models, what a target format
// needs besides tensors.
struct Source {
  Format format = Format::kSafetensors;
  std::string path;
  TensorCatalog catalog;
  std::optional<GgufFile> gguf;
  // Tensor names are GGUF names with Q/K rows interleaved (llama2.c, GGUF); otherwise
  // Hugging Face names with Q/K rows in rotate-half order.
  bool gguf_names = false;
  std::optional<LlamaParams> params;
  std::optional<Error> params_error;  // why params is empty, when there was a reason
  std::string folder;                 // the Hugging Face folder (or the file's folder)
  std::optional<Llama2cTokenizer> llama2c_tokenizer;
  std::string llama2c_tokenizer_path;
};

Result<Source> OpenSource(const std::string& in, const std::string& tokenizer);
// The Hugging Face folder's tokenizer (tokenizer.model, else tokenizer.json) with its
// special tokens; nullopt when there is none.
Result<std::optional<GgufTokenizer>> LoadFolderTokenizer(const std::string& folder);

// ---- convert_gguf.cpp / convert_safetensors.cpp ----------------------------------------

// Writes `out` (a .gguf file).
Status WriteGgufTarget(const Source& src, const std::string& out, std::optional<DType> dtype,
                       const std::map<std::string, std::string>& metadata,
                       std::vector<std::string>* notes);
// Writes `out`: a .safetensors file, or (folder = true) a Hugging Face folder built in
// `out`, which the caller created empty and renames into place.
Status WriteSafetensorsTarget(const Source& src, const std::string& out, bool folder,
                              std::optional<DType> dtype,
                              const std::map<std::string, std::string>& metadata,
                              std::vector<std::string>* files, std::vector<std::string>* notes);

}  // namespace wg::convert_detail
