// The Llama architecture as the converter sees it: Hugging Face <-> GGUF tensor names,
// hyper-parameters from config.json / GGUF key-values / a llama2.c header, and the
// key-values and config.json written for them. Names and keys follow llama.cpp's
// convert_hf_to_gguf.py (LlamaModel) and gguf-py's constants.
#include <charconv>
#include <regex>

#include "convert_internal.h"
#include "weightgate/formats/llama_names.h"

namespace wg::convert_detail {
namespace {

struct NamePair {
  const char* hf;    // after "model.layers.N."
  const char* gguf;  // after "blk.N."
};
constexpr NamePair kLayerNames[] = {
    {"self_attn.q_proj", "attn_q"},
    {"self_attn.k_proj", "attn_k"},
    {"self_attn.v_proj", "attn_v"},
    {"self_attn.o_proj", "attn_output"},
    {"mlp.gate_proj", "ffn_gate"},
    {"mlp.up_proj", "ffn_up"},
    {"mlp.down_proj", "ffn_down"},
    {"input_layernorm", "attn_norm"},
    {"post_attention_layernorm", "ffn_norm"},
};
constexpr NamePair kGlobalNames[] = {
    {"model.embed_tokens", "token_embd"},
    {"model.norm", "output_norm"},
    {"lm_head", "output"},
};

// Splits "stem.weight" / "stem.bias".
bool SplitSuffix(const std::string& name, std::string* stem, std::string* suffix) {
  for (const char* s : {".weight", ".bias"}) {
    const std::string sfx = s;
    if (name.size() > sfx.size() && name.compare(name.size() - sfx.size(), sfx.size(), sfx) == 0) {
      *stem = name.substr(0, name.size() - sfx.size());
      *suffix = sfx;
      return true;
    }
  }
  return false;
}

Result<uint64_t> PositiveInt(const nlohmann::json& cfg, const char* key, const std::string& path) {
  auto it = cfg.find(key);
  if (it == cfg.end() || !it->is_number_integer() || it->get<int64_t>() <= 0)
    return Error::Malformed("config.json lacks a positive integer").File(path).Field(key);
  return it->get<uint64_t>();
}

Result<uint64_t> GgufUint(const GgufFile& g, const std::string& key, const std::string& path) {
  const GgufValue* v = g.Find(key);
  std::optional<uint64_t> u = v ? v->AsUint() : std::nullopt;
  if (!u || *u == 0)
    return Error::Malformed("missing or invalid key")
        .File(path)
        .Field(key)
        .Expected("a positive integer");
  return *u;
}

// A float32 value as the shortest decimal that reads back to it (1e-05, not
// 9.999999747378752e-06), so config.json says what the model author wrote.
double ShortestF32(double v) {
  char buf[32];
  auto [end, ec] = std::to_chars(buf, buf + sizeof buf, static_cast<float>(v));
  double d = v;
  std::from_chars(buf, end, d);
  return d;
}

GgufKV U32(const std::string& key, uint64_t v) {
  return {key, GgufValue::U32(static_cast<uint32_t>(v))};
}

}  // namespace

std::optional<std::string> HfToGgufName(const std::string& hf) {
  std::string stem, suffix;
  if (!SplitSuffix(hf, &stem, &suffix)) return std::nullopt;
  for (const NamePair& p : kGlobalNames)
    if (stem == p.hf) return std::string(p.gguf) + suffix;
  static const std::regex layer(R"(model\.layers\.(\d+)\.(.+))");
  std::smatch m;
  if (!std::regex_match(stem, m, layer)) return std::nullopt;
  for (const NamePair& p : kLayerNames)
    if (m[2] == p.hf) return "blk." + m[1].str() + "." + p.gguf + suffix;
  return std::nullopt;
}

std::optional<std::string> GgufToHfName(const std::string& gguf) {
  std::string stem, suffix;
  if (!SplitSuffix(gguf, &stem, &suffix)) return std::nullopt;
  for (const NamePair& p : kGlobalNames)
    if (stem == p.gguf) return std::string(p.hf) + suffix;
  static const std::regex layer(R"(blk\.(\d+)\.(.+))");
  std::smatch m;
  if (!std::regex_match(stem, m, layer)) return std::nullopt;
  for (const NamePair& p : kLayerNames)
    if (m[2] == p.gguf) return "model.layers." + m[1].str() + "." + p.hf + suffix;
  return std::nullopt;
}

uint64_t PermutationHeads(const std::string& gguf_name, const LlamaParams& p) {
  static const std::regex qk(R"(blk\.\d+\.attn_([qk])\.(weight|bias))");
  std::smatch m;
  if (!std::regex_match(gguf_name, m, qk)) return 0;
  return m[1] == "q" ? p.n_heads : p.n_kv_heads;
}

Result<LlamaParams> LlamaParamsFromHfConfig(const nlohmann::json& cfg, const std::string& path) {
  if (!cfg.is_object()) return Error::Malformed("config.json is not a JSON object").File(path);
  std::string model_type = cfg.value("model_type", "");
  bool llama = model_type == "llama";
  if (auto a = cfg.find("architectures"); a != cfg.end() && a->is_array())
    for (const auto& arch : *a)
      if (arch == "LlamaForCausalLM") llama = true;
  if (!llama)
    return Error::Unsupported("only Llama-family models (LlamaForCausalLM) convert to GGUF")
        .File(path)
        .Field("model_type")
        .Found(model_type.empty() ? "none" : model_type);
  if (auto rs = cfg.find("rope_scaling"); rs != cfg.end() && !rs->is_null())
    return Error::Unsupported("rope_scaling is not supported by this converter")
        .File(path)
        .Field("rope_scaling")
        .Found(rs->dump());
  LlamaParams p;
  WG_ASSIGN_OR_RETURN(p.dim, PositiveInt(cfg, "hidden_size", path));
  WG_ASSIGN_OR_RETURN(p.hidden_dim, PositiveInt(cfg, "intermediate_size", path));
  WG_ASSIGN_OR_RETURN(p.n_layers, PositiveInt(cfg, "num_hidden_layers", path));
  WG_ASSIGN_OR_RETURN(p.n_heads, PositiveInt(cfg, "num_attention_heads", path));
  WG_ASSIGN_OR_RETURN(p.vocab_size, PositiveInt(cfg, "vocab_size", path));
  p.n_kv_heads = p.n_heads;
  if (cfg.contains("num_key_value_heads") && !cfg["num_key_value_heads"].is_null()) {
    WG_ASSIGN_OR_RETURN(p.n_kv_heads, PositiveInt(cfg, "num_key_value_heads", path));
  }
  p.context_length = 2048;
  if (cfg.contains("max_position_embeddings")) {
    WG_ASSIGN_OR_RETURN(p.context_length, PositiveInt(cfg, "max_position_embeddings", path));
  }
  p.head_dim = p.dim / p.n_heads;
  if (cfg.contains("head_dim") && !cfg["head_dim"].is_null()) {
    WG_ASSIGN_OR_RETURN(p.head_dim, PositiveInt(cfg, "head_dim", path));
  }
  if (p.n_heads % p.n_kv_heads != 0)
    return Error::Malformed("num_attention_heads is not a multiple of num_key_value_heads")
        .File(path)
        .Field("num_key_value_heads");
  p.rms_eps = cfg.value("rms_norm_eps", 1e-6);
  if (auto t = cfg.find("rope_theta"); t != cfg.end() && t->is_number())
    p.rope_theta = t->get<double>();
  p.tied = cfg.value("tie_word_embeddings", false);
  if (auto b = cfg.find("bos_token_id"); b != cfg.end() && b->is_number_unsigned())
    p.bos = b->get<uint32_t>();
  if (auto e = cfg.find("eos_token_id"); e != cfg.end() && e->is_number_unsigned())
    p.eos = e->get<uint32_t>();
  return p;
}

Result<LlamaParams> LlamaParamsFromGguf(const GgufFile& g, const std::string& path) {
  const GgufValue* arch = g.Find("general.architecture");
  if (!arch || arch->type != GgufType::kString || arch->str != "llama")
    return Error::Unsupported("only GGUF files of the llama architecture convert to Hugging Face")
        .File(path)
        .Field("general.architecture")
        .Found(arch && arch->type == GgufType::kString ? arch->str : "none");
  LlamaParams p;
  WG_ASSIGN_OR_RETURN(p.dim, GgufUint(g, "llama.embedding_length", path));
  WG_ASSIGN_OR_RETURN(p.hidden_dim, GgufUint(g, "llama.feed_forward_length", path));
  WG_ASSIGN_OR_RETURN(p.n_layers, GgufUint(g, "llama.block_count", path));
  WG_ASSIGN_OR_RETURN(p.n_heads, GgufUint(g, "llama.attention.head_count", path));
  p.n_kv_heads = p.n_heads;
  if (g.Find("llama.attention.head_count_kv")) {
    WG_ASSIGN_OR_RETURN(p.n_kv_heads, GgufUint(g, "llama.attention.head_count_kv", path));
  }
  WG_ASSIGN_OR_RETURN(p.context_length, GgufUint(g, "llama.context_length", path));
  p.head_dim = p.dim / p.n_heads;
  if (g.Find("llama.attention.key_length")) {
    WG_ASSIGN_OR_RETURN(p.head_dim, GgufUint(g, "llama.attention.key_length", path));
  }
  if (const GgufValue* v = g.Find("llama.attention.layer_norm_rms_epsilon"); v && v->AsFloat())
    p.rms_eps = ShortestF32(*v->AsFloat());
  if (const GgufValue* v = g.Find("llama.rope.freq_base"); v && v->AsFloat())
    p.rope_theta = ShortestF32(*v->AsFloat());
  const TensorInfo* embd = g.catalog.Find("token_embd.weight");
  if (!embd || embd->shape.size() != 2)
    return Error::Malformed("no 2-D token_embd.weight").File(path).Field("token_embd.weight");
  p.vocab_size = embd->shape[0];
  p.tied = g.catalog.Find("output.weight") == nullptr;
  if (const GgufValue* v = g.Find("tokenizer.ggml.bos_token_id"); v && v->AsUint())
    p.bos = static_cast<uint32_t>(*v->AsUint());
  if (const GgufValue* v = g.Find("tokenizer.ggml.eos_token_id"); v && v->AsUint())
    p.eos = static_cast<uint32_t>(*v->AsUint());
  if (p.n_heads % p.n_kv_heads != 0)
    return Error::Malformed("head_count is not a multiple of head_count_kv")
        .File(path)
        .Field("llama.attention.head_count_kv");
  return p;
}

Result<LlamaParams> LlamaParamsFromLlama2c(const Llama2cConfig& c, const std::string& path) {
  if (c.dim <= 0 || c.n_heads <= 0 || c.n_kv_heads <= 0 || c.n_layers <= 0 || c.vocab_size <= 0 ||
      c.hidden_dim <= 0 || c.seq_len <= 0 || c.dim % c.n_heads != 0)
    return Error::Malformed("llama2.c header dimensions are inconsistent").File(path).Offset(0);
  LlamaParams p;
  p.dim = c.dim;
  p.hidden_dim = c.hidden_dim;
  p.n_layers = c.n_layers;
  p.n_heads = c.n_heads;
  p.n_kv_heads = c.n_kv_heads;
  p.vocab_size = c.vocab_size;
  p.context_length = c.seq_len;
  p.head_dim = c.dim / c.n_heads;
  p.rms_eps = 1e-5;        // llama2.c's model.py and run.c
  p.rope_theta = 10000.0;  // run.c's RoPE base
  p.tied = c.shared_classifier;
  p.bos = 1;
  p.eos = 2;
  return p;
}

nlohmann::ordered_json HfConfigJson(const LlamaParams& p, DType weights) {
  nlohmann::ordered_json j;
  j["architectures"] = {"LlamaForCausalLM"};
  j["model_type"] = "llama";
  j["hidden_size"] = p.dim;
  j["intermediate_size"] = p.hidden_dim;
  j["num_hidden_layers"] = p.n_layers;
  j["num_attention_heads"] = p.n_heads;
  j["num_key_value_heads"] = p.n_kv_heads;
  j["head_dim"] = p.head_dim;
  j["max_position_embeddings"] = p.context_length;
  j["rms_norm_eps"] = p.rms_eps;
  j["rope_theta"] = p.rope_theta.value_or(10000.0);
  j["vocab_size"] = p.vocab_size;
  j["tie_word_embeddings"] = p.tied;
  j["hidden_act"] = "silu";
  j["attention_bias"] = false;
  if (p.bos) j["bos_token_id"] = *p.bos;
  if (p.eos) j["eos_token_id"] = *p.eos;
  j["torch_dtype"] = weights == DType::kF16    ? "float16"
                     : weights == DType::kBF16 ? "bfloat16"
                                               : "float32";
  return j;
}

uint32_t GgufFileType(DType weights) {
  switch (weights) {
    case DType::kF16:
      return 1;
    case DType::kQ4_0:
      return 2;
    case DType::kQ8_0:
      return 7;
    case DType::kBF16:
      return 32;
    default:
      return 0;
  }
}

std::vector<GgufKV> LlamaGgufKVs(const LlamaParams& p, uint32_t file_type) {
  std::vector<GgufKV> kvs;
  kvs.push_back({"general.architecture", GgufValue::String("llama")});
  kvs.push_back(U32("llama.block_count", p.n_layers));
  kvs.push_back(U32("llama.context_length", p.context_length));
  kvs.push_back(U32("llama.embedding_length", p.dim));
  kvs.push_back(U32("llama.feed_forward_length", p.hidden_dim));
  kvs.push_back(U32("llama.attention.head_count", p.n_heads));
  kvs.push_back(U32("llama.attention.head_count_kv", p.n_kv_heads));
  if (p.rope_theta)
    kvs.push_back({"llama.rope.freq_base", GgufValue::F32(static_cast<float>(*p.rope_theta))});
  kvs.push_back(
      {"llama.attention.layer_norm_rms_epsilon", GgufValue::F32(static_cast<float>(p.rms_eps))});
  if (p.head_dim != p.dim / p.n_heads) {
    kvs.push_back(U32("llama.attention.key_length", p.head_dim));
    kvs.push_back(U32("llama.attention.value_length", p.head_dim));
  }
  kvs.push_back(U32("general.file_type", file_type));
  kvs.push_back(U32("llama.vocab_size", p.vocab_size));
  kvs.push_back(U32("llama.rope.dimension_count", p.head_dim));
  return kvs;
}

}  // namespace wg::convert_detail

namespace wg {

std::optional<std::string> LlamaGgufNameOf(const std::string& hf_name) {
  return convert_detail::HfToGgufName(hf_name);
}

}  // namespace wg
