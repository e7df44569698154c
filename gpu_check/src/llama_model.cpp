#include "weightgate/gpu_check/llama_model.h"

#include <filesystem>
#include <nlohmann/json.hpp>

#include "weightgate/formats/folder_vocabulary.h"
#include "weightgate/formats/gguf.h"
#include "weightgate/formats/llama2c.h"
#include "weightgate/formats/llama_names.h"

namespace wg {
namespace fs = std::filesystem;

Status LlamaConfig::Validate(const std::string& source) const {
  auto bad = [&](const char* field, const std::string& expected, int64_t found) {
    return Error::Malformed("model hyperparameters do not describe a Llama decoder")
        .File(source)
        .Field(field)
        .Expected(expected)
        .Found(std::to_string(found));
  };
  if (dim <= 0) return bad("dim", "> 0", dim);
  if (hidden_dim <= 0) return bad("hidden_dim", "> 0", hidden_dim);
  if (n_layers <= 0) return bad("n_layers", "> 0", n_layers);
  if (n_heads <= 0 || dim % n_heads != 0) return bad("n_heads", "a divisor of dim", n_heads);
  if (head_size() % 2 != 0) return bad("head_size", "even", head_size());
  if (n_kv_heads <= 0 || n_heads % n_kv_heads != 0)
    return bad("n_kv_heads", "a divisor of n_heads", n_kv_heads);
  if (vocab_size <= 0) return bad("vocab_size", "> 0", vocab_size);
  if (seq_len <= 0) return bad("seq_len", "> 0", seq_len);
  return Ok();
}

Status LlamaModel::Bind() {
  const LlamaConfig& c = config;
  WG_TRY(c.Validate(source));
  auto need = [&](const std::string& name, std::vector<uint64_t> shape,
                  const TensorInfo** out) -> Status {
    const TensorInfo* t = catalog.Find(name);
    if (!t) return Error::Malformed("tensor missing").File(source).Field(name);
    if (t->shape != shape) {
      auto str = [](const std::vector<uint64_t>& s) {
        std::string r = "[";
        for (size_t i = 0; i < s.size(); ++i) r += (i ? ", " : "") + std::to_string(s[i]);
        return r + "]";
      };
      return Error::Malformed("tensor shape does not fit the hyperparameters")
          .File(source)
          .Field(name)
          .Expected(str(shape))
          .Found(str(t->shape));
    }
    if (!t->contiguous())
      return Error::Unsupported("strided tensor views are not supported by the forward pass")
          .File(source)
          .Field(name);
    *out = t;
    return Ok();
  };
  const uint64_t dim = c.dim, hid = c.hidden_dim, kv = c.kv_dim(), vocab = c.vocab_size;
  WG_TRY(need("token_embd.weight", {vocab, dim}, &token_embd));
  WG_TRY(need("output_norm.weight", {dim}, &output_norm));
  if (catalog.Find("output.weight")) {
    WG_TRY(need("output.weight", {vocab, dim}, &output));
  } else {
    output = token_embd;
  }
  if (catalog.Find("rope_freqs.weight")) {
    WG_TRY(need("rope_freqs.weight", {static_cast<uint64_t>(c.head_size() / 2)}, &rope_freqs));
  }
  layers.assign(c.n_layers, {});
  for (int32_t l = 0; l < c.n_layers; ++l) {
    const std::string p = "blk." + std::to_string(l) + ".";
    LlamaLayerWeights& w = layers[l];
    WG_TRY(need(p + "attn_norm.weight", {dim}, &w.attn_norm));
    WG_TRY(need(p + "attn_q.weight", {dim, dim}, &w.wq));
    WG_TRY(need(p + "attn_k.weight", {kv, dim}, &w.wk));
    WG_TRY(need(p + "attn_v.weight", {kv, dim}, &w.wv));
    WG_TRY(need(p + "attn_output.weight", {dim, dim}, &w.wo));
    WG_TRY(need(p + "ffn_norm.weight", {dim}, &w.ffn_norm));
    WG_TRY(need(p + "ffn_gate.weight", {hid, dim}, &w.w_gate));
    WG_TRY(need(p + "ffn_down.weight", {dim, hid}, &w.w_down));
    WG_TRY(need(p + "ffn_up.weight", {hid, dim}, &w.w_up));
  }
  return Ok();
}

namespace {

Result<LlamaModel> FromLlama2c(const std::string& path, const std::string& tokenizer) {
  WG_ASSIGN_OR_RETURN(Llama2cModel m, ReadLlama2c(path, tokenizer));
  LlamaModel model;
  model.source = path;
  model.format = Format::kLlama2c;
  model.config.dim = m.config.dim;
  model.config.hidden_dim = m.config.hidden_dim;
  model.config.n_layers = m.config.n_layers;
  model.config.n_heads = m.config.n_heads;
  model.config.n_kv_heads = m.config.n_kv_heads;
  model.config.vocab_size = m.config.vocab_size;
  model.config.seq_len = m.config.seq_len;
  model.catalog = std::move(m.catalog);
  if (m.tokenizer) model.tokenizer.emplace(m.tokenizer->pieces, m.tokenizer->scores);
  return model;
}

Result<int32_t> GgufInt(const GgufFile& f, const std::string& path, const std::string& key) {
  const GgufValue* v = f.Find(key);
  std::optional<uint64_t> u = v ? v->AsUint() : std::nullopt;
  if (!u || *u > INT32_MAX)
    return Error::Malformed("GGUF key missing or not a non-negative integer").File(path).Field(key);
  return static_cast<int32_t>(*u);
}

Result<LlamaModel> FromGguf(const std::string& path) {
  WG_ASSIGN_OR_RETURN(GgufFile f, ReadGguf(path));
  const GgufValue* arch = f.Find("general.architecture");
  if (!arch || arch->str != "llama")
    return Error::Unsupported("no forward pass for this architecture (only llama)")
        .File(path)
        .Field("general.architecture")
        .Expected("llama")
        .Found(arch ? arch->str : "(missing)");
  LlamaModel model;
  model.source = path;
  model.format = Format::kGguf;
  LlamaConfig& c = model.config;
  WG_ASSIGN_OR_RETURN(c.dim, GgufInt(f, path, "llama.embedding_length"));
  WG_ASSIGN_OR_RETURN(c.hidden_dim, GgufInt(f, path, "llama.feed_forward_length"));
  WG_ASSIGN_OR_RETURN(c.n_layers, GgufInt(f, path, "llama.block_count"));
  WG_ASSIGN_OR_RETURN(c.n_heads, GgufInt(f, path, "llama.attention.head_count"));
  c.n_kv_heads = c.n_heads;
  if (f.Find("llama.attention.head_count_kv")) {
    WG_ASSIGN_OR_RETURN(c.n_kv_heads, GgufInt(f, path, "llama.attention.head_count_kv"));
  }
  WG_ASSIGN_OR_RETURN(c.seq_len, GgufInt(f, path, "llama.context_length"));
  if (const GgufValue* v = f.Find("llama.attention.layer_norm_rms_epsilon"))
    if (auto x = v->AsFloat()) c.rms_eps = *x;
  if (const GgufValue* v = f.Find("llama.rope.freq_base"))
    if (auto x = v->AsFloat()) c.rope_theta = *x;
  const GgufValue* tokens = f.Find("tokenizer.ggml.tokens");
  if (const TensorInfo* e = f.catalog.Find("token_embd.weight"); e && e->shape.size() == 2)
    c.vocab_size = static_cast<int32_t>(e->shape[0]);
  if (tokens && tokens->type == GgufType::kArray) {
    std::vector<std::string> pieces;
    std::vector<float> scores;
    for (const auto& t : tokens->array) pieces.push_back(t.str);
    if (const GgufValue* s = f.Find("tokenizer.ggml.scores"))
      for (const auto& x : s->array) scores.push_back(static_cast<float>(x.AsFloat().value_or(0)));
    int32_t bos = 1, eos = 2;
    if (const GgufValue* v = f.Find("tokenizer.ggml.bos_token_id")) bos = v->AsUint().value_or(1);
    if (const GgufValue* v = f.Find("tokenizer.ggml.eos_token_id")) eos = v->AsUint().value_or(2);
    model.tokenizer.emplace(std::move(pieces), std::move(scores), bos, eos);
  }
  model.catalog = std::move(f.catalog);
  return model;
}

Result<LlamaModel> FromHuggingFace(const std::string& dir) {
  const std::string config_path = (fs::path(dir) / "config.json").string();
  WG_ASSIGN_OR_RETURN(std::string text, ReadSmallFile(config_path, 1 << 20));
  nlohmann::json j = nlohmann::json::parse(text, nullptr, false);
  if (j.is_discarded() || !j.is_object())
    return Error::Malformed("config.json is not a JSON object").File(config_path);
  LlamaModel model;
  model.source = dir;
  model.format = Format::kSafetensors;
  LlamaConfig& c = model.config;
  auto get_int = [&](const char* key, int32_t* out) -> Status {
    if (!j.contains(key) || !j[key].is_number_integer())
      return Error::Malformed("config.json field missing or not an integer")
          .File(config_path)
          .Field(key);
    *out = j[key].get<int32_t>();
    return Ok();
  };
  WG_TRY(get_int("hidden_size", &c.dim));
  WG_TRY(get_int("intermediate_size", &c.hidden_dim));
  WG_TRY(get_int("num_hidden_layers", &c.n_layers));
  WG_TRY(get_int("num_attention_heads", &c.n_heads));
  c.n_kv_heads = c.n_heads;
  if (j.contains("num_key_value_heads")) {
    WG_TRY(get_int("num_key_value_heads", &c.n_kv_heads));
  }
  WG_TRY(get_int("vocab_size", &c.vocab_size));
  WG_TRY(get_int("max_position_embeddings", &c.seq_len));
  c.rms_eps = j.value("rms_norm_eps", 1e-6);
  c.rope_theta = j.value("rope_theta", 10000.0);
  if (j.contains("rope_scaling") && j["rope_scaling"].is_object()) {
    const auto& s = j["rope_scaling"];
    std::string type = s.value("rope_type", s.value("type", ""));
    if (type == "llama3") {
      Llama3RopeScaling r;
      r.factor = s.value("factor", r.factor);
      r.low_freq_factor = s.value("low_freq_factor", r.low_freq_factor);
      r.high_freq_factor = s.value("high_freq_factor", r.high_freq_factor);
      r.original_max_position_embeddings =
          s.value("original_max_position_embeddings", r.original_max_position_embeddings);
      c.rope_scaling = r;
    } else if (!type.empty() && type != "default") {
      return Error::Unsupported("rope_scaling type has no forward pass")
          .File(config_path)
          .Field("rope_scaling.rope_type")
          .Expected("llama3 or default")
          .Found(type);
    }
  }
  c.rope_layout = RopeLayout::kHalves;
  WG_ASSIGN_OR_RETURN(TensorCatalog cat, OpenCatalog(dir));
  for (TensorInfo& t : cat.tensors) {
    if (std::optional<std::string> g = LlamaGgufNameOf(t.name)) t.name = *g;
  }
  model.catalog = std::move(cat);
  WG_ASSIGN_OR_RETURN(std::optional<ScoredVocabulary> vocab, ReadFolderVocabulary(dir));
  if (vocab)
    model.tokenizer.emplace(std::move(vocab->pieces), std::move(vocab->scores), vocab->bos_id,
                            vocab->eos_id);
  return model;
}

}  // namespace

Result<LlamaModel> LoadLlamaModel(const std::string& path, const std::string& tokenizer) {
  Result<LlamaModel> model = Error::Usage("unreachable");
  std::error_code ec;
  if (fs::is_directory(path, ec)) {
    model = FromHuggingFace(path);
  } else {
    std::optional<Format> f = DetectFormat(path);
    if (f == Format::kGguf) {
      model = FromGguf(path);
    } else if (f == Format::kLlama2c) {
      model = FromLlama2c(path, tokenizer);
    } else {
      return Error::Unsupported(
                 "no forward pass for this file: expected a llama2.c checkpoint, a GGUF "
                 "or a Hugging Face folder")
          .File(path);
    }
  }
  if (!model.ok()) return model;
  WG_TRY(model->Bind());
  return model;
}

}  // namespace wg
