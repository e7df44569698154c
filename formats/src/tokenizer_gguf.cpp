// A tokenizer's GGUF key/values (tokenizer.ggml.*), written and read back.
#include "convert_internal.h"

namespace wg::convert_detail {
namespace {

int64_t SignedOf(const GgufValue& v) {
  switch (v.type) {
    case GgufType::kI8:
    case GgufType::kI16:
    case GgufType::kI32:
    case GgufType::kI64:
      return v.i;
    default:
      return static_cast<int64_t>(v.u);
  }
}

}  // namespace

void AppendTokenizerKVs(const GgufTokenizer& t, std::vector<GgufKV>* kvs) {
  kvs->push_back({"tokenizer.ggml.model", GgufValue::String(t.model)});
  std::vector<GgufValue> tokens, scores, types, merges;
  tokens.reserve(t.tokens.size());
  for (const auto& s : t.tokens) tokens.push_back(GgufValue::String(s));
  kvs->push_back({"tokenizer.ggml.tokens", GgufValue::Array(GgufType::kString, std::move(tokens))});
  if (!t.scores.empty()) {
    for (float s : t.scores) scores.push_back(GgufValue::F32(s));
    kvs->push_back({"tokenizer.ggml.scores", GgufValue::Array(GgufType::kF32, std::move(scores))});
  }
  for (int32_t ty : t.types) types.push_back(GgufValue::I32(ty));
  kvs->push_back({"tokenizer.ggml.token_type", GgufValue::Array(GgufType::kI32, std::move(types))});
  if (!t.merges.empty()) {
    for (const auto& m : t.merges) merges.push_back(GgufValue::String(m));
    kvs->push_back(
        {"tokenizer.ggml.merges", GgufValue::Array(GgufType::kString, std::move(merges))});
  }
  auto id = [&](const char* key, const std::optional<uint32_t>& v) {
    if (v) kvs->push_back({key, GgufValue::U32(*v)});
  };
  id("tokenizer.ggml.bos_token_id", t.bos);
  id("tokenizer.ggml.eos_token_id", t.eos);
  id("tokenizer.ggml.unknown_token_id", t.unk);
  id("tokenizer.ggml.padding_token_id", t.pad);
  if (t.add_bos) kvs->push_back({"tokenizer.ggml.add_bos_token", GgufValue::Bool(*t.add_bos)});
  if (t.add_eos) kvs->push_back({"tokenizer.ggml.add_eos_token", GgufValue::Bool(*t.add_eos)});
}

std::optional<GgufTokenizer> TokenizerFromGguf(const GgufFile& g) {
  const GgufValue* model = g.Find("tokenizer.ggml.model");
  const GgufValue* tokens = g.Find("tokenizer.ggml.tokens");
  if (!model || model->type != GgufType::kString || !tokens || tokens->type != GgufType::kArray)
    return std::nullopt;
  GgufTokenizer t;
  t.model = model->str;
  for (const auto& v : tokens->array) t.tokens.push_back(v.str);
  if (const GgufValue* s = g.Find("tokenizer.ggml.scores"); s && s->type == GgufType::kArray)
    for (const auto& v : s->array) t.scores.push_back(static_cast<float>(v.AsFloat().value_or(0)));
  if (const GgufValue* s = g.Find("tokenizer.ggml.token_type"); s && s->type == GgufType::kArray)
    for (const auto& v : s->array) t.types.push_back(static_cast<int32_t>(SignedOf(v)));
  if (const GgufValue* s = g.Find("tokenizer.ggml.merges"); s && s->type == GgufType::kArray)
    for (const auto& v : s->array) t.merges.push_back(v.str);
  auto id = [&](const char* key) -> std::optional<uint32_t> {
    const GgufValue* v = g.Find(key);
    if (!v || !v->AsUint() || *v->AsUint() >= t.tokens.size()) return std::nullopt;
    return static_cast<uint32_t>(*v->AsUint());
  };
  t.bos = id("tokenizer.ggml.bos_token_id");
  t.eos = id("tokenizer.ggml.eos_token_id");
  t.unk = id("tokenizer.ggml.unknown_token_id");
  t.pad = id("tokenizer.ggml.padding_token_id");
  if (const GgufValue* v = g.Find("tokenizer.ggml.add_bos_token"); v && v->type == GgufType::kBool)
    t.add_bos = v->u != 0;
  if (const GgufValue* v = g.Find("tokenizer.ggml.add_eos_token"); v && v->type == GgufType::kBool)
    t.add_eos = v->u != 0;
  t.types.resize(t.tokens.size(), kTokenNormal);
  if (!t.scores.empty()) t.scores.resize(t.tokens.size(), 0.0f);
  return t;
}

}  // namespace wg::convert_detail
