// ReadLlama2c: the checkpoint's layout (llama2c_layout.cpp) turned into a catalogue of
// views into its map, plus the tokenizer named or found beside it.
#include <algorithm>
#include <cstring>
#include <filesystem>

#include "llama2c_layout.h"
#include "llama2c_tokenizer.h"
#include "weightgate/formats/llama2c.h"

namespace wg {
namespace {

namespace fs = std::filesystem;
using llama2c_detail::Llama2cLayout;

nlohmann::ordered_json ConfigJson(const Llama2cConfig& c) {
  nlohmann::ordered_json j;
  j["version"] = c.version;
  j["dim"] = c.dim;
  j["hidden_dim"] = c.hidden_dim;
  j["n_layers"] = c.n_layers;
  j["n_heads"] = c.n_heads;
  j["n_kv_heads"] = c.n_kv_heads;
  j["vocab_size"] = c.vocab_size;
  j["seq_len"] = c.seq_len;
  j["shared_classifier"] = c.shared_classifier;
  if (c.version == 0) j["rope_tables"] = c.rope_tables;
  if (c.version == 2) j["group_size"] = c.group_size;
  return j;
}

// Tokenizers beside `checkpoint` in the order they are tried: tok<vocab>.bin,
// tokenizer.bin, then any other tok*.bin by name.
std::vector<std::string> TokenizerCandidates(const std::string& checkpoint, int32_t vocab) {
  fs::path dir = fs::path(checkpoint).parent_path();
  if (dir.empty()) dir = ".";
  std::vector<std::string> out;
  for (std::string name : {"tok" + std::to_string(vocab) + ".bin", std::string("tokenizer.bin")})
    out.push_back((dir / name).string());
  std::vector<std::string> others;
  std::error_code ec;
  for (const auto& entry : fs::directory_iterator(dir, ec)) {
    std::string name = entry.path().filename().string();
    if (name.size() > 7 && name.starts_with("tok") && name.ends_with(".bin") &&
        std::find(out.begin(), out.end(), entry.path().string()) == out.end())
      others.push_back(entry.path().string());
  }
  std::sort(others.begin(), others.end());
  out.insert(out.end(), others.begin(), others.end());
  std::error_code eq;
  std::erase_if(out, [&](const std::string& p) {
    return !fs::is_regular_file(p, ec) || fs::equivalent(p, checkpoint, eq);
  });
  return out;
}

// The tokenizer beside the checkpoint with exactly `vocab` entries, or "" if none.
Result<std::string> FindTokenizer(const std::string& checkpoint, int32_t vocab) {
  for (const std::string& candidate : TokenizerCandidates(checkpoint, vocab)) {
    auto count = llama2c_detail::CountTokenizerEntries(candidate);
    if (!count.ok()) {
      const Error& e = count.error();
      Error out(e.code(), e.message() +
                              " (in a tokenizer found beside the checkpoint; pass "
                              "another tokenizer, or \"-\" for none)");
      out.File(candidate);
      if (e.offset()) out.Offset(*e.offset());
      if (e.field()) out.Field(*e.field());
      if (e.expected()) out.Expected(*e.expected());
      if (e.found()) out.Found(*e.found());
      return out;
    }
    if (*count == uint64_t(vocab)) return candidate;  // others belong to other models
  }
  return std::string();
}

}  // namespace

Result<Llama2cConfig> ReadLlama2cConfig(const std::string& path) {
  WG_ASSIGN_OR_RETURN(std::shared_ptr<MappedFile> file, MappedFile::Open(path));
  WG_ASSIGN_OR_RETURN(Llama2cLayout layout, llama2c_detail::PlanLlama2c(file->bytes(), path));
  return layout.config;
}

Result<Llama2cModel> ReadLlama2c(const std::string& path, const std::string& tokenizer_path) {
  WG_ASSIGN_OR_RETURN(std::shared_ptr<MappedFile> file, MappedFile::Open(path));
  WG_ASSIGN_OR_RETURN(Llama2cLayout layout, llama2c_detail::PlanLlama2c(file->bytes(), path));

  Llama2cModel model;
  model.config = layout.config;
  TensorCatalog& catalog = model.catalog;
  catalog.format = Format::kLlama2c;
  catalog.files = {path};
  catalog.metadata = ConfigJson(layout.config);
  catalog.tensors.reserve(layout.arrays.size());
  for (auto& a : layout.arrays) {
    TensorInfo t;
    t.name = std::move(a.name);
    t.dtype = a.dtype;
    t.shape = std::move(a.shape);
    t.file = file;
    t.offset = a.offset;
    t.nbytes = a.nbytes;
    catalog.tensors.push_back(std::move(t));
  }

  std::string tok_path = tokenizer_path;
  if (tok_path.empty()) {
    WG_ASSIGN_OR_RETURN(tok_path, FindTokenizer(path, model.config.vocab_size));
  } else if (tok_path == "-") {
    tok_path.clear();
  }
  if (!tok_path.empty()) {
    WG_ASSIGN_OR_RETURN(Llama2cTokenizer tok,
                        ReadLlama2cTokenizer(tok_path, model.config.vocab_size));
    catalog.files.push_back(tok_path);
    catalog.metadata["tokenizer"] = {{"file", fs::path(tok_path).filename().string()},
                                     {"entries", tok.pieces.size()},
                                     {"max_token_length", tok.max_token_length}};
    model.tokenizer = std::move(tok);
    model.tokenizer_path = tok_path;
  }
  return model;
}

TensorWriteSpec DequantizedLlama2cTensor(const TensorInfo& values, const TensorInfo& scales,
                                         int32_t group_size) {
  TensorWriteSpec s;
  s.name = values.name;
  s.dtype = DType::kF32;
  s.shape = values.shape;
  s.nbytes = values.nbytes * 4;  // one float per int8
  const uint64_t gs = group_size > 0 ? uint64_t(group_size) : 1;
  s.produce = [values, scales, gs](const ByteSink& sink) -> Status {
    const uint64_t n = values.nbytes;
    if (n % gs != 0 || scales.nbytes != n / gs * 4)
      return Error::Mismatch("quantized values and scales do not match the group size")
          .File(values.file->path())
          .Offset(values.offset)
          .Field(values.name)
          .Expected(std::to_string(n / gs * 4) + " bytes of scales")
          .Found(std::to_string(scales.nbytes));
    const int8_t* q = reinterpret_cast<const int8_t*>(values.file->bytes().data() + values.offset);
    const uint8_t* sc = scales.file->bytes().data() + scales.offset;
    // Whole groups per chunk, about 1M values at a time, as runq.c dequantizes: q * s.
    const uint64_t chunk = std::max<uint64_t>(1, (1u << 20) / gs) * gs;
    std::vector<float> out;
    for (uint64_t begin = 0; begin < n; begin += chunk) {
      const uint64_t count = std::min(chunk, n - begin);
      out.resize(count);
      for (uint64_t i = 0; i < count; ++i) {
        float scale;
        std::memcpy(&scale, sc + (begin + i) / gs * 4, 4);
        out[i] = float(q[begin + i]) * scale;
      }
      WG_TRY(sink(Bytes(reinterpret_cast<const uint8_t*>(out.data()), count * 4)));
      values.file->Release(values.offset + begin, count);
    }
    return Ok();
  };
  return s;
}

}  // namespace wg
