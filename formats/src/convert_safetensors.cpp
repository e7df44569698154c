// Any source -> safetensors. Llama models kept under GGUF names (GGUF files, llama2.c
// checkpoints) come out as a Hugging Face LlamaForCausalLM: HF names, Q/K rows back in
// rotate-half order, config.json and tokenizer.model beside when writing a folder. Other
// sources keep their names; --dtype casts their float tensors.
#include <filesystem>
#include <map>

#include "convert_internal.h"
#include "weightgate/formats/safetensors.h"

namespace wg::convert_detail {
namespace {

namespace fs = std::filesystem;

DType DefaultDType(DType from) {
  if (Info(from).is_quantized || from == DType::kF64) return DType::kF32;
  return from;
}

// Small files a Hugging Face folder carries besides weights, copied as they are.
constexpr const char* kFolderFiles[] = {
    "config.json",     "generation_config.json", "tokenizer.json",
    "tokenizer.model", "tokenizer_config.json",  "special_tokens_map.json",
};

}  // namespace

Status WriteSafetensorsTarget(const Source& src, const std::string& out, bool folder,
                              std::optional<DType> dtype,
                              const std::map<std::string, std::string>& metadata,
                              std::vector<std::string>* files, std::vector<std::string>* notes) {
  const bool to_hf = src.gguf_names && src.params.has_value();
  std::vector<TensorPlan> plans;
  std::map<DType, uint64_t> float_dtypes;
  std::vector<std::string> unknown;
  for (const SourceTensor& st : SourceTensors(src.catalog)) {
    const TensorInfo& t = *st.info;
    TensorPlan plan{t, t.name, st.dtype(), RowOrder::kKeep, 0};
    if (st.scales) plan.scales = *st.scales, plan.group_size = st.group_size;
    const DTypeInfo& info = Info(st.dtype());
    // F8 tensors carry through unchanged: there is no arithmetic on them here.
    const bool f8 = st.dtype() == DType::kF8E4M3 || st.dtype() == DType::kF8E5M2;
    if ((info.is_float && !f8) || info.is_quantized)
      plan.dtype = dtype.value_or(DefaultDType(st.dtype()));
    if (to_hf) {
      std::optional<std::string> hf = GgufToHfName(t.name);
      if (!hf) {
        unknown.push_back(t.name);
        continue;
      }
      plan.name = *hf;
      plan.n_head = PermutationHeads(t.name, *src.params);
      if (plan.n_head) plan.order = RowOrder::kGgufToHf;
    }
    if (info.is_float || info.is_quantized) float_dtypes[plan.dtype] += t.elements();
    plans.push_back(std::move(plan));
  }
  if (!unknown.empty()) {
    std::string list;
    for (size_t i = 0; i < unknown.size() && i < 8; ++i) list += (i ? ", " : "") + unknown[i];
    return Error::Unsupported("tensors the Llama architecture does not have: " + list)
        .File(src.path);
  }
  std::vector<TensorWriteSpec> specs;
  for (const TensorPlan& plan : plans) {
    Result<TensorWriteSpec> spec = MakeWriteSpec(plan);
    if (!spec.ok()) return std::move(spec).error().File(src.path);
    specs.push_back(std::move(*spec));
  }

  const fs::path dir(out);
  const std::string weights = folder ? (dir / "model.safetensors").string() : out;
  uint64_t total = 0;
  for (const TensorWriteSpec& s : specs) total += s.nbytes;
  Progress progress("convert", total);
  TrackProgress(&specs, &progress);
  std::map<std::string, std::string> header_metadata = metadata;
  header_metadata.emplace("format", "pt");
  WG_TRY(WriteSafetensors(weights, header_metadata, std::move(specs)));
  files->push_back(weights);
  if (!folder) return Ok();

  if (to_hf) {
    DType main = DType::kF32;
    uint64_t best = 0;
    for (auto [d, n] : float_dtypes)
      if (n > best) best = n, main = d;
    const std::string config = (dir / "config.json").string();
    WG_TRY(WriteFileAtomically(config, HfConfigJson(*src.params, main).dump(2) + "\n"));
    files->push_back(config);
    // The tokenizer: a SentencePiece model beside a llama2.c checkpoint is copied as it
    // is; otherwise one is written from the vocabulary we have.
    std::optional<GgufTokenizer> tok;
    std::string spm_beside;
    if (src.llama2c_tokenizer) {
      tok = TokenizerFromLlama2c(*src.llama2c_tokenizer);
      fs::path bin(src.llama2c_tokenizer_path);
      fs::path model = bin.parent_path() / (bin.stem().string() + ".model");
      if (!src.llama2c_tokenizer_path.empty() && fs::exists(model)) spm_beside = model.string();
    } else if (src.gguf) {
      tok = TokenizerFromGguf(*src.gguf);
    }
    const std::string tok_path = (dir / "tokenizer.model").string();
    if (!spm_beside.empty()) {
      WG_ASSIGN_OR_RETURN(std::string bytes, ReadSmallFile(spm_beside, 256 << 20));
      WG_TRY(WriteFileAtomically(tok_path, bytes));
      files->push_back(tok_path);
    } else if (tok && tok->model == "llama") {
      WG_TRY(WriteFileAtomically(tok_path, WriteSentencePieceModel(*tok)));
      files->push_back(tok_path);
    } else if (tok) {
      notes->push_back("the " + tok->model + " tokenizer is not written to the folder");
    }
    return Ok();
  }
  // Same-model folder: carry the source folder's configuration and tokenizer files.
  if (!src.folder.empty() && src.format != Format::kLlama2c)
    for (const char* name : kFolderFiles) {
      const fs::path from = fs::path(src.folder) / name;
      if (!fs::exists(from)) continue;
      WG_ASSIGN_OR_RETURN(std::string bytes, ReadSmallFile(from.string(), 512 << 20));
      WG_TRY(WriteFileAtomically((dir / name).string(), bytes));
      files->push_back((dir / name).string());
    }
  return Ok();
}

}  // namespace wg::convert_detail
