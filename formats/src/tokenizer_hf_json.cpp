// Hugging Face tokenizer.json (the `tokenizers` library's format) -> GGUF vocabulary, and
// the special-token ids of a Hugging Face folder.
//
// Only BPE models convert. A BPE with byte_fallback (Llama/Mistral SentencePiece
// vocabularies exported to tokenizers, pieces spelled with U+2581) becomes a "llama"
// vocabulary; a byte-level BPE (GPT-2 style, Llama 3) becomes "gpt2" with its merges.
// Scores for "llama": gguf-py's LlamaHfVocab writes a placeholder -1000 for every token,
// which leaves llama.cpp's SentencePiece tokenizer no merge priorities; we give each token
// minus the rank of the merge that creates it (0 for tokens no merge creates), which is
// what SentencePiece BPE models carry.
#include <filesystem>
#include <set>
#include <unordered_map>

#include "convert_internal.h"

namespace wg::convert_detail {
namespace {

std::string MergeText(const nlohmann::json& m) {
  if (m.is_string()) return m.get<std::string>();
  if (m.is_array() && m.size() == 2 && m[0].is_string() && m[1].is_string())
    return m[0].get<std::string>() + " " + m[1].get<std::string>();
  return {};
}

bool IsByteToken(const std::string& s) {
  auto hex = [](char c) { return std::isxdigit(static_cast<unsigned char>(c)) != 0; };
  return s.size() == 6 && s.compare(0, 3, "<0x") == 0 && hex(s[3]) && hex(s[4]) && s[5] == '>';
}

Result<nlohmann::json> ReadJson(const std::string& path) {
  WG_ASSIGN_OR_RETURN(std::string text, ReadSmallFile(path, 512 << 20));
  nlohmann::json j = nlohmann::json::parse(text, nullptr, /*allow_exceptions=*/false);
  if (j.is_discarded() || !j.is_object())
    return Error::Malformed("not a JSON object").File(path).Expected("JSON");
  return j;
}

std::optional<uint32_t> FindToken(const GgufTokenizer& t, const std::string& text) {
  for (size_t i = 0; i < t.tokens.size(); ++i)
    if (t.tokens[i] == text) return static_cast<uint32_t>(i);
  return std::nullopt;
}

}  // namespace

Result<GgufTokenizer> ReadHfTokenizerJson(const std::string& path) {
  WG_ASSIGN_OR_RETURN(nlohmann::json j, ReadJson(path));
  const nlohmann::json model = j.value("model", nlohmann::json::object());
  const std::string type = model.is_object() ? model.value("type", "") : "";
  if (type != "BPE")
    return Error::Unsupported("only BPE tokenizers convert to GGUF")
        .File(path)
        .Field("model.type")
        .Found(type.empty() ? "none" : type);
  const auto vocab = model.find("vocab");
  if (vocab == model.end() || !vocab->is_object())
    return Error::Malformed("tokenizer.json has no vocab object").File(path).Field("model.vocab");
  const bool byte_fallback = model.value("byte_fallback", false);

  // Ids from the vocab and added_tokens; the array has no holes once both are in.
  std::vector<std::string> by_id;
  std::vector<bool> have, special, added;
  auto put = [&](uint64_t id, const std::string& text) -> Status {
    if (id > (1u << 24))
      return Error::Malformed("token id out of range")
          .File(path)
          .Field(text)
          .Found(std::to_string(id));
    if (by_id.size() <= id) {
      by_id.resize(id + 1);
      have.resize(id + 1);
      special.resize(id + 1);
      added.resize(id + 1);
    }
    by_id[id] = text;
    have[id] = true;
    return Ok();
  };
  for (auto it = vocab->begin(); it != vocab->end(); ++it) {
    if (!it.value().is_number_unsigned())
      return Error::Malformed("vocab id is not a non-negative integer").File(path).Field(it.key());
    WG_TRY(put(it.value().get<uint64_t>(), it.key()));
  }
  if (auto at = j.find("added_tokens"); at != j.end() && at->is_array()) {
    for (const auto& a : *at) {
      if (!a.is_object() || !a.contains("id") || !a["id"].is_number_unsigned() ||
          !a.contains("content") || !a["content"].is_string())
        return Error::Malformed("added_tokens entry lacks id/content")
            .File(path)
            .Field("added_tokens");
      const uint64_t id = a["id"].get<uint64_t>();
      WG_TRY(put(id, a["content"].get<std::string>()));
      added[id] = true;
      special[id] = a.value("special", false);
    }
  }
  for (size_t i = 0; i < by_id.size(); ++i)
    if (!have[i]) by_id[i] = "[PAD" + std::to_string(i) + "]";

  GgufTokenizer t;
  t.model = byte_fallback ? "llama" : "gpt2";
  t.tokens = by_id;
  std::vector<std::string> merges;
  if (auto m = model.find("merges"); m != model.end() && m->is_array())
    for (const auto& e : *m) {
      std::string s = MergeText(e);
      if (s.empty())
        return Error::Malformed("merge is not 'a b' or [a, b]").File(path).Field("model.merges");
      merges.push_back(std::move(s));
    }
  for (size_t i = 0; i < by_id.size(); ++i) {
    int32_t ty = kTokenNormal;
    if (!have[i])
      ty = kTokenUnused;
    else if (added[i])
      ty = special[i] ? kTokenControl : kTokenUserDefined;
    else if (byte_fallback && IsByteToken(by_id[i]))
      ty = kTokenByte;
    t.types.push_back(ty);
  }
  if (byte_fallback) {
    std::unordered_map<std::string, size_t> rank;
    for (size_t r = 0; r < merges.size(); ++r) {
      const std::string& m = merges[r];
      const size_t sp = m.find(' ');
      if (sp == std::string::npos) continue;
      rank.emplace(m.substr(0, sp) + m.substr(sp + 1), r);
    }
    for (const std::string& tok : t.tokens) {
      auto it = rank.find(tok);
      t.scores.push_back(it == rank.end() ? 0.0f : -static_cast<float>(it->second));
    }
    const std::string unk = model.value("unk_token", "");
    if (!unk.empty())
      if (auto id = FindToken(t, unk)) {
        t.unk = *id;
        t.types[*id] = kTokenUnknown;
      }
  } else {
    t.merges = std::move(merges);
  }
  return t;
}

Status ApplyHfSpecialTokens(const std::string& folder, GgufTokenizer* t) {
  namespace fs = std::filesystem;
  const fs::path dir(folder);
  // tokenizer_config.json names special tokens by text; config.json by id. As in gguf-py's
  // SpecialVocab, config.json fills what tokenizer_config.json does not name (and wins
  // over a tokenizer.model's trainer defaults).
  std::set<const std::optional<uint32_t>*> named;
  if (fs::exists(dir / "tokenizer_config.json")) {
    WG_ASSIGN_OR_RETURN(nlohmann::json tc, ReadJson((dir / "tokenizer_config.json").string()));
    auto text_of = [&](const char* key) -> std::optional<std::string> {
      auto it = tc.find(key);
      if (it == tc.end()) return std::nullopt;
      if (it->is_string()) return it->get<std::string>();
      if (it->is_object() && it->contains("content") && (*it)["content"].is_string())
        return (*it)["content"].get<std::string>();
      return std::nullopt;
    };
    auto set = [&](const char* key, std::optional<uint32_t>* slot) {
      if (auto text = text_of(key))
        if (auto id = FindToken(*t, *text)) {
          *slot = *id;
          named.insert(slot);
        }
    };
    set("bos_token", &t->bos);
    set("eos_token", &t->eos);
    set("unk_token", &t->unk);
    set("pad_token", &t->pad);
    if (auto b = tc.find("add_bos_token"); b != tc.end() && b->is_boolean())
      t->add_bos = b->get<bool>();
    if (auto e = tc.find("add_eos_token"); e != tc.end() && e->is_boolean())
      t->add_eos = e->get<bool>();
  }
  if (fs::exists(dir / "config.json")) {
    WG_ASSIGN_OR_RETURN(nlohmann::json c, ReadJson((dir / "config.json").string()));
    auto set = [&](const char* key, std::optional<uint32_t>* slot) {
      auto it = c.find(key);
      if (!named.count(slot) && it != c.end() && it->is_number_unsigned() &&
          it->get<uint64_t>() < t->tokens.size())
        *slot = it->get<uint32_t>();
    };
    set("bos_token_id", &t->bos);
    set("eos_token_id", &t->eos);
    set("pad_token_id", &t->pad);
  }
  return Ok();
}

}  // namespace wg::convert_detail
