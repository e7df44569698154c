// Any Llama-family source -> GGUF: tensor names, Q/K permutation, per-tensor dtype as
// llama.cpp's convert_hf_to_gguf.py chooses it, architecture and tokenizer key/values.
#include <algorithm>
#include <map>

#include "convert_internal.h"

namespace wg::convert_detail {
namespace {

bool EndsWith(const std::string& s, const std::string& suffix) {
  return s.size() >= suffix.size() &&
         s.compare(s.size() - suffix.size(), suffix.size(), suffix) == 0;
}

// convert_hf_to_gguf.py: 1-D tensors and norms stay F32 ("most of the codebase that
// takes in 1D tensors or norms only handles F32"); a row that is not a whole number of
// quantization blocks falls back to F16.
DType ChooseDType(const TensorInfo& t, DType stored, const std::string& name,
                  std::optional<DType> want, std::vector<std::string>* notes) {
  if (t.shape.size() <= 1 || EndsWith(name, "_norm.weight")) return DType::kF32;
  if (!want) {
    if (stored == DType::kF64) return DType::kF32;
    return stored;  // F32/F16/BF16 kept; quantized GGUF tensors copied
  }
  const DTypeInfo& wi = Info(*want);
  if (wi.is_quantized && t.shape.back() % wi.block_elems != 0) {
    notes->push_back(name + ": row length " + std::to_string(t.shape.back()) +
                     " is not a multiple of " + std::to_string(wi.block_elems) +
                     "; written as F16");
    return DType::kF16;
  }
  return *want;
}

}  // namespace

Status WriteGgufTarget(const Source& src, const std::string& out, std::optional<DType> dtype,
                       const std::map<std::string, std::string>& metadata,
                       std::vector<std::string>* notes) {
  if (!src.params) {
    Error e = Error::Unsupported("GGUF output needs a Llama-family model with its configuration")
                  .File(src.path);
    if (src.params_error) e = *src.params_error;
    return e;
  }
  const LlamaParams& p = *src.params;

  std::vector<std::string> unknown;
  std::vector<TensorPlan> plans;
  std::map<DType, uint64_t> weight_dtypes;  // 2-D weights' output dtypes, by element count
  for (const SourceTensor& st : SourceTensors(src.catalog)) {
    const TensorInfo& t = *st.info;
    std::string name = t.name;
    RowOrder order = RowOrder::kKeep;
    if (!src.gguf_names) {
      if (EndsWith(t.name, "rotary_emb.inv_freq")) continue;  // recomputed by llama.cpp
      std::optional<std::string> g = HfToGgufName(t.name);
      if (!g) {
        unknown.push_back(t.name);
        continue;
      }
      name = *g;
    } else if (!GgufToHfName(t.name)) {
      unknown.push_back(t.name);
      continue;
    }
    const uint64_t heads = PermutationHeads(name, p);
    if (heads && !src.gguf_names) order = RowOrder::kHfToGguf;
    if (!Info(st.dtype()).is_float && !Info(st.dtype()).is_quantized)
      return Error::Unsupported("a Llama weight must be a float tensor")
          .File(src.path)
          .Field(t.name)
          .Found(std::string(Name(t.dtype)));
    TensorPlan plan{t, name, ChooseDType(t, st.dtype(), name, dtype, notes), order, heads};
    if (st.scales) plan.scales = *st.scales, plan.group_size = st.group_size;
    if (t.shape.size() >= 2) weight_dtypes[plan.dtype] += t.elements();
    plans.push_back(std::move(plan));
  }
  if (!unknown.empty()) {
    std::string list;
    for (size_t i = 0; i < unknown.size() && i < 8; ++i) list += (i ? ", " : "") + unknown[i];
    if (unknown.size() > 8) list += ", ... (" + std::to_string(unknown.size()) + " in all)";
    return Error::Unsupported("tensors the Llama architecture does not have: " + list)
        .File(src.path)
        .Expected("Llama tensor names");
  }

  DType main = dtype.value_or(DType::kF32);
  if (!dtype) {
    uint64_t best = 0;
    for (auto [d, n] : weight_dtypes)
      if (n > best) best = n, main = d;
  }

  std::vector<GgufKV> kvs;
  if (src.gguf) {
    // GGUF -> GGUF: every key/value carries over except the file type.
    for (const GgufKV& kv : src.gguf->kvs)
      if (kv.key != "general.file_type" && kv.key != "general.alignment") kvs.push_back(kv);
    kvs.push_back({"general.file_type", GgufValue::U32(GgufFileType(main))});
  } else {
    kvs = LlamaGgufKVs(p, GgufFileType(main));
    std::optional<GgufTokenizer> tok;
    if (src.llama2c_tokenizer) {
      tok = TokenizerFromLlama2c(*src.llama2c_tokenizer);
    } else if (!src.folder.empty() && src.format != Format::kLlama2c) {
      WG_ASSIGN_OR_RETURN(tok, LoadFolderTokenizer(src.folder));
    }
    if (tok) {
      if (tok->tokens.size() > p.vocab_size)
        return Error::Mismatch("tokenizer has more tokens than the model's vocabulary")
            .File(src.path)
            .Expected(std::to_string(p.vocab_size))
            .Found(std::to_string(tok->tokens.size()));
      // convert_hf_to_gguf.py pads a short vocabulary with unused [PADn] tokens.
      for (uint64_t i = tok->tokens.size(); i < p.vocab_size; ++i) {
        tok->tokens.push_back("[PAD" + std::to_string(i) + "]");
        if (!tok->scores.empty()) tok->scores.push_back(-1000.0f);
        tok->types.push_back(kTokenUnused);
      }
      if (!tok->bos && p.bos) tok->bos = p.bos;
      if (!tok->eos && p.eos) tok->eos = p.eos;
      AppendTokenizerKVs(*tok, &kvs);
    } else {
      notes->push_back("no tokenizer found; the GGUF has no tokenizer.ggml.* keys");
    }
  }

  // Caller-given strings (general.name, weightgate.*) replace keys of the same name.
  for (const auto& entry : metadata) {
    const std::string& key = entry.first;  // a plain name: clang 14 cannot capture a binding
    auto same = [&key](const GgufKV& kv) { return kv.key == key; };
    kvs.erase(std::remove_if(kvs.begin(), kvs.end(), same), kvs.end());
    kvs.push_back({key, GgufValue::String(entry.second)});
  }

  std::vector<TensorWriteSpec> specs;
  for (const TensorPlan& plan : plans) {
    Result<TensorWriteSpec> spec = MakeWriteSpec(plan);
    if (!spec.ok()) return std::move(spec).error().File(src.path);
    specs.push_back(std::move(*spec));
  }
  uint64_t total = 0;
  for (const TensorWriteSpec& s : specs) total += s.nbytes;
  Progress progress("convert", total);
  TrackProgress(&specs, &progress);
  return WriteGguf(out, kvs, std::move(specs));
}

}  // namespace wg::convert_detail
