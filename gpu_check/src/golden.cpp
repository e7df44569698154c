#include "weightgate/gpu_check/golden.h"

#include <algorithm>
#include <cmath>
#include <cstring>
#include <nlohmann/json.hpp>
#include <numeric>

#include "weightgate/core/hash.h"
#include "weightgate/gpu_check/cpu_reference.h"

namespace wg {
namespace {

using ojson = nlohmann::ordered_json;

// The top `k` ids by logit, largest first, lower id first on ties.
std::vector<int32_t> TopK(const std::vector<float>& logits, int32_t k) {
  std::vector<int32_t> ids(logits.size());
  std::iota(ids.begin(), ids.end(), 0);
  k = std::min<int32_t>(k, static_cast<int32_t>(ids.size()));
  std::partial_sort(ids.begin(), ids.begin() + k, ids.end(), [&](int32_t a, int32_t b) {
    return logits[a] != logits[b] ? logits[a] > logits[b] : a < b;
  });
  ids.resize(k);
  return ids;
}

// Appends logits as float32 little-endian, whatever the host's byte order.
void HashLogits(Hasher& h, const std::vector<float>& logits) {
  std::vector<uint8_t> buf(logits.size() * 4);
  for (size_t i = 0; i < logits.size(); ++i) {
    uint32_t u;
    std::memcpy(&u, &logits[i], 4);
    for (int b = 0; b < 4; ++b) buf[i * 4 + b] = static_cast<uint8_t>(u >> (8 * b));
  }
  h.Update(Bytes(buf.data(), buf.size()));
}

// The prompt and the generated tokens must fit the model's context (its KV cache).
Status CheckContext(const LlamaModel& model, int32_t steps) {
  if (steps <= model.config.seq_len) return Ok();
  return Error::Usage("prompt and generated tokens exceed the model's context")
      .File(model.source)
      .Expected("<= " + std::to_string(model.config.seq_len) + " positions")
      .Found(std::to_string(steps));
}

int Rank(DType t) {
  switch (t) {
    case DType::kF64:
    case DType::kF32:
      return 0;
    case DType::kF16:
    case DType::kBF16:
      return 1;
    case DType::kQ8_0:
      return 2;
    case DType::kQ4_0:
      return 3;
    default:
      return 4;
  }
}

}  // namespace

Tolerance ToleranceFor(DType weights) {
  // Measured on stories260K against the llama2.c F32 parent, four prompts x 64 tokens
  // (docs/gpu_check.md): worst max abs / max rel / top-1 were F16 0.0102 / 0.0012 / 1.0,
  // BF16 0.117 / 0.0116 / 1.0, Q8_0 0.253 / 0.023 / 1.0, Q4_0 3.16 / 0.45 / 0.81. The
  // thresholds give about 3x (2.5x, and top-1 0.7, for Q4_0) of margin, so a correct conversion
  // passes and a broken one does not.
  switch (Rank(weights)) {
    case 0:
      return {"F32", 1e-3, 1e-4, 1.0, true};
    case 1:
      if (weights == DType::kBF16) return {"BF16", 0.4, 0.04, 0.9, false};
      return {"F16", 0.05, 0.005, 0.95, false};
    case 2:
      return {"Q8_0", 0.75, 0.07, 0.9, false};
    case 3:
      return {"Q4_0", 8.0, 1.0, 0.7, false};
    default:  // other block quantizations: judged like the coarsest we measured
      return {std::string(Name(weights)), 8.0, 1.0, 0.7, false};
  }
}

DType WeightsDType(const LlamaModel& model) {
  DType worst = model.output->dtype;
  auto consider = [&](const TensorInfo* t) {
    if (t && Rank(t->dtype) > Rank(worst)) worst = t->dtype;
  };
  consider(model.token_embd);
  for (const auto& l : model.layers)
    for (const TensorInfo* t : {l.wq, l.wk, l.wv, l.wo, l.w_gate, l.w_down, l.w_up}) consider(t);
  return worst;
}

std::vector<int32_t> GoldenRecord::InputIds() const {
  std::vector<int32_t> in = prompt_ids;
  in.insert(in.end(), generated_ids.begin(), generated_ids.end());
  // The last generated id is fed only when generation stopped at BOS after it.
  if (in.size() > positions.size()) in.resize(positions.size());
  return in;
}

Result<GoldenRecord> ComputeGolden(const LlamaModel& model, const GoldenOptions& options) {
  if (!model.tokenizer) return Error::Usage("the model has no tokenizer").File(model.source);
  if (options.tokens < 1 || options.top_k < 1)
    return Error::Usage("golden record: tokens and top_k must be >= 1");
  GoldenRecord g;
  g.prompt = options.prompt;
  g.prompt_ids = model.tokenizer->Encode(options.prompt, /*add_bos=*/true);
  g.tokens = options.tokens;
  g.top_k = std::min(options.top_k, model.config.vocab_size);
  g.vocab_size = model.config.vocab_size;
  const DType dtype = WeightsDType(model);
  g.weights_dtype = std::string(Name(dtype));
  g.tolerance = ToleranceFor(dtype);
  const int32_t steps = static_cast<int32_t>(g.prompt_ids.size()) + options.tokens;
  WG_TRY(CheckContext(model, steps));
  CpuReference cpu(model, steps);
  auto hasher = Hasher::Create(HashAlgo::kSha256);
  int32_t token = g.prompt_ids[0];
  for (int32_t pos = 0; pos + 1 < steps; ++pos) {
    WG_ASSIGN_OR_RETURN(const std::vector<float>* logits, cpu.Forward(token, pos));
    HashLogits(*hasher, *logits);
    GoldenPosition p;
    p.input_id = token;
    p.top_ids = TopK(*logits, g.top_k);
    for (int32_t id : p.top_ids) p.top_logits.push_back((*logits)[id]);
    const bool in_prompt = pos + 1 < static_cast<int32_t>(g.prompt_ids.size());
    const int32_t next = in_prompt ? g.prompt_ids[pos + 1] : p.top_ids[0];
    g.positions.push_back(std::move(p));
    if (next == model.tokenizer->bos_id()) break;  // run.c ends a story at BOS
    if (!in_prompt) g.generated_ids.push_back(next);
    token = next;
  }
  g.logits_sha256 = hasher->Finish().Hex();
  std::vector<int32_t> echo(g.prompt_ids.begin() + 1, g.prompt_ids.end());
  echo.insert(echo.end(), g.generated_ids.begin(), g.generated_ids.end());
  g.text = model.tokenizer->DecodeAll(echo);
  return g;
}

std::string GoldenRecord::ToJson() const {
  ojson j = ojson::object();
  j["schema"] = kGoldenSchema;
  j["prompt"] = prompt;
  j["prompt_ids"] = prompt_ids;
  j["tokens"] = tokens;
  j["top_k"] = top_k;
  j["vocab_size"] = vocab_size;
  j["weights_dtype"] = weights_dtype;
  j["tolerance"] = {{"dtype", tolerance.dtype},
                    {"max_abs", tolerance.max_abs},
                    {"max_rel", tolerance.max_rel},
                    {"min_top1", tolerance.min_top1},
                    {"tokens_equal", tolerance.tokens_equal}};
  j["generated_ids"] = generated_ids;
  j["text"] = text;
  j["logits_encoding"] = "float32-le, positions in order, vocab_size values each";
  j["logits_sha256"] = logits_sha256;
  ojson ps = ojson::array();
  for (const auto& p : positions) {
    ojson logits = ojson::array();
    for (float v : p.top_logits) logits.push_back(static_cast<double>(v));
    ps.push_back({{"input_id", p.input_id}, {"top_ids", p.top_ids}, {"top_logits", logits}});
  }
  j["positions"] = ps;
  return j.dump(2, ' ', false, nlohmann::json::error_handler_t::replace) + "\n";
}

Result<GoldenRecord> GoldenRecord::Parse(std::string_view text, const std::string& source) {
  ojson j = ojson::parse(text, nullptr, false);
  auto bad = [&](const std::string& field) {
    return Error::Malformed("golden record field missing or of the wrong type")
        .File(source)
        .Field(field);
  };
  if (j.is_discarded() || !j.is_object()) return bad("(document)");
  if (j.value("schema", "") != kGoldenSchema)
    return Error::Unsupported("unknown golden record schema")
        .File(source)
        .Field("schema")
        .Expected(std::string(kGoldenSchema))
        .Found(j.value("schema", std::string("(missing)")));
  GoldenRecord g;
  try {
    g.prompt = j.at("prompt").get<std::string>();
    g.prompt_ids = j.at("prompt_ids").get<std::vector<int32_t>>();
    g.tokens = j.at("tokens").get<int32_t>();
    g.top_k = j.at("top_k").get<int32_t>();
    g.vocab_size = j.at("vocab_size").get<int32_t>();
    g.weights_dtype = j.at("weights_dtype").get<std::string>();
    const auto& t = j.at("tolerance");
    g.tolerance = {t.at("dtype").get<std::string>(), t.at("max_abs").get<double>(),
                   t.at("max_rel").get<double>(), t.at("min_top1").get<double>(),
                   t.at("tokens_equal").get<bool>()};
    g.generated_ids = j.at("generated_ids").get<std::vector<int32_t>>();
    g.text = j.at("text").get<std::string>();
    g.logits_sha256 = j.at("logits_sha256").get<std::string>();
    for (const auto& p : j.at("positions")) {
      GoldenPosition gp;
      gp.input_id = p.at("input_id").get<int32_t>();
      gp.top_ids = p.at("top_ids").get<std::vector<int32_t>>();
      gp.top_logits = p.at("top_logits").get<std::vector<float>>();
      if (gp.top_ids.size() != gp.top_logits.size() || gp.top_ids.empty())
        return bad("positions[].top_ids/top_logits");
      for (int32_t id : gp.top_ids)
        if (id < 0 || id >= g.vocab_size) return bad("positions[].top_ids");
      g.positions.push_back(std::move(gp));
    }
  } catch (const nlohmann::json::exception& e) {
    return bad(e.what());
  }
  if (g.prompt_ids.empty()) return bad("prompt_ids");
  std::vector<int32_t> in = g.InputIds();
  if (in.size() != g.positions.size() ||
      in.size() + 1 < g.prompt_ids.size() + g.generated_ids.size())
    return bad("positions (count)");
  for (size_t i = 0; i < in.size(); ++i)
    if (in[i] != g.positions[i].input_id) return bad("positions[].input_id");
  return g;
}

Result<GoldenComparison> CompareWithGolden(const GoldenRecord& golden, int32_t bos_id,
                                           const ForwardFn& forced, const ForwardFn& free_run,
                                           const Tolerance& tolerance) {
  GoldenComparison c;
  c.tolerance = tolerance;
  auto hasher = Hasher::Create(HashAlgo::kSha256);
  const std::vector<int32_t> inputs = golden.InputIds();
  for (size_t pos = 0; pos < inputs.size(); ++pos) {
    WG_ASSIGN_OR_RETURN(const std::vector<float>* logits,
                        forced(inputs[pos], static_cast<int32_t>(pos)));
    if (static_cast<int32_t>(logits->size()) != golden.vocab_size)
      return Error::Mismatch("vocabulary size differs from the golden record")
          .Expected(std::to_string(golden.vocab_size))
          .Found(std::to_string(logits->size()));
    HashLogits(*hasher, *logits);
    for (float v : *logits) {
      c.nan_count += std::isnan(v);
      c.inf_count += std::isinf(v);
    }
    const GoldenPosition& g = golden.positions[pos];
    for (size_t i = 0; i < g.top_ids.size(); ++i) {
      const double want = g.top_logits[i], got = (*logits)[g.top_ids[i]];
      const double abs = std::isfinite(got) ? std::abs(got - want) : INFINITY;
      const double rel = abs / std::max(std::abs(want), 1.0);
      if (abs > c.max_abs) c.worst_position = static_cast<int32_t>(pos);
      c.max_abs = std::max(c.max_abs, abs);
      c.max_rel = std::max(c.max_rel, rel);
    }
    c.top1_agree += Argmax(*logits) == g.top_ids[0];
  }
  c.positions = static_cast<int32_t>(inputs.size());
  c.top1_rate = c.positions ? double(c.top1_agree) / c.positions : 0;
  c.logits_digest_equal = hasher->Finish().Hex() == golden.logits_sha256;

  // Free-running greedy generation, as a user would see it.
  int32_t token = golden.prompt_ids[0];
  const int32_t steps = static_cast<int32_t>(golden.prompt_ids.size()) + golden.tokens;
  for (int32_t pos = 0; pos + 1 < steps; ++pos) {
    WG_ASSIGN_OR_RETURN(const std::vector<float>* logits, free_run(token, pos));
    const bool in_prompt = pos + 1 < static_cast<int32_t>(golden.prompt_ids.size());
    const int32_t next = in_prompt ? golden.prompt_ids[pos + 1] : Argmax(*logits);
    if (next == bos_id) break;
    if (!in_prompt) c.generated_ids.push_back(next);
    token = next;
  }
  c.tokens_equal = c.generated_ids == golden.generated_ids;

  char buf[160];
  if (c.nan_count || c.inf_count) c.failures.push_back("NaN or Inf in the logits");
  if (c.max_abs > tolerance.max_abs) {
    std::snprintf(buf, sizeof buf, "max abs logit error %.3g > %.3g (position %d)", c.max_abs,
                  tolerance.max_abs, c.worst_position);
    c.failures.push_back(buf);
  }
  if (c.max_rel > tolerance.max_rel) {
    std::snprintf(buf, sizeof buf, "max rel logit error %.3g > %.3g", c.max_rel, tolerance.max_rel);
    c.failures.push_back(buf);
  }
  if (c.top1_rate < tolerance.min_top1) {
    std::snprintf(buf, sizeof buf, "top-1 agreement %d/%d below %.2f", c.top1_agree, c.positions,
                  tolerance.min_top1);
    c.failures.push_back(buf);
  }
  if (tolerance.tokens_equal && !c.tokens_equal)
    c.failures.push_back("generated tokens differ from the golden record");
  c.passed = c.failures.empty();
  return c;
}

Result<GoldenComparison> CompareCpuWithGolden(const LlamaModel& model, const GoldenRecord& golden,
                                              const Tolerance& tolerance) {
  if (model.config.vocab_size != golden.vocab_size)
    return Error::Mismatch("vocabulary size differs from the golden record")
        .File(model.source)
        .Expected(std::to_string(golden.vocab_size))
        .Found(std::to_string(model.config.vocab_size));
  const int32_t steps = static_cast<int32_t>(golden.prompt_ids.size()) + golden.tokens;
  WG_TRY(CheckContext(model, steps));
  CpuReference forced(model, steps), free_run(model, steps);
  const int32_t bos = model.tokenizer ? model.tokenizer->bos_id() : 1;
  return CompareWithGolden(
      golden, bos, [&](int32_t t, int32_t p) { return forced.Forward(t, p); },
      [&](int32_t t, int32_t p) { return free_run.Forward(t, p); }, tolerance);
}

}  // namespace wg
