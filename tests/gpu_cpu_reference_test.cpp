// The CPU reference forward pass against the real stories260K model's published greedy
// output and float64 reference logits, from its llama2.c and GGUF forms.
#include <gtest/gtest.h>

#include <cmath>
#include <fstream>
#include <nlohmann/json.hpp>

#include "support/test_util.h"
#include "weightgate/gpu_check/cpu_reference.h"
#include "weightgate/gpu_check/llama_model.h"

namespace wg {
namespace {

using test::TestData;

nlohmann::json LoadJson(const std::string& rel) {
  std::ifstream in(TestData(rel));
  return nlohmann::json::parse(in);
}

const std::string kLlama2c = "models/stories260K/stories260K.bin";
const std::string kGguf = "models/stories260K-gguf/stories260K.gguf";

LlamaModel Load(const std::string& rel) {
  auto m = LoadLlamaModel(TestData(rel));
  EXPECT_TRUE(m.ok()) << m.error().ToString();
  return std::move(*m);
}

class CpuReferenceOnStories : public ::testing::TestWithParam<std::string> {};

TEST_P(CpuReferenceOnStories, HyperparametersAreTheModelCard) {
  LlamaModel m = Load(GetParam());
  EXPECT_EQ(m.config.dim, 64);
  EXPECT_EQ(m.config.hidden_dim, 172);
  EXPECT_EQ(m.config.n_layers, 5);
  EXPECT_EQ(m.config.n_heads, 8);
  EXPECT_EQ(m.config.n_kv_heads, 4);
  EXPECT_EQ(m.config.vocab_size, 512);
  // The checkpoint shares its classifier; llama.cpp's converter wrote a copy of it as
  // output.weight, so the GGUF form has a separate (identical) head.
  if (m.format == Format::kLlama2c) EXPECT_EQ(m.output, m.token_embd);
  if (m.format == Format::kGguf) EXPECT_NE(m.output, m.token_embd);
  ASSERT_TRUE(m.tokenizer.has_value());
}

TEST_P(CpuReferenceOnStories, LogitsMatchTheFloat64Reference) {
  LlamaModel m = Load(GetParam());
  nlohmann::json ref = LoadJson("models/stories260K/reference_logits.json");
  for (const auto& c : ref["cases"]) {
    CpuReference cpu(m, 64);
    const std::vector<float>* logits = nullptr;
    int pos = 0;
    for (int32_t t : c["tokens_fed"].get<std::vector<int32_t>>()) {
      auto r = cpu.Forward(t, pos++);
      ASSERT_TRUE(r.ok()) << r.error().ToString();
      logits = *r;
    }
    std::vector<double> want = c["logits"].get<std::vector<double>>();
    ASSERT_EQ(logits->size(), want.size());
    double max_err = 0;
    for (size_t i = 0; i < want.size(); ++i)
      max_err = std::max(max_err, std::abs((*logits)[i] - want[i]));
    EXPECT_LT(max_err, 1e-4) << c["name"];
    EXPECT_EQ(Argmax(*logits), c["argmax"].get<int32_t>()) << c["name"];
  }
}

TEST_P(CpuReferenceOnStories, GreedyOutputIsThePublishedStory) {
  LlamaModel m = Load(GetParam());
  nlohmann::json g = LoadJson("models/stories260K/expected_greedy.json");
  for (const auto& c : g["cases"]) {
    std::string prompt = c["prompt"];
    std::vector<int32_t> ids = m.tokenizer->Encode(prompt, /*add_bos=*/true);
    EXPECT_EQ(ids, c["prompt_token_ids"].get<std::vector<int32_t>>()) << prompt;
    CpuReference cpu(m);
    auto out = cpu.Greedy(ids, c["steps"].get<int32_t>());
    ASSERT_TRUE(out.ok()) << out.error().ToString();
    EXPECT_EQ(*out, c["next_token_ids"].get<std::vector<int32_t>>()) << prompt;
    EXPECT_EQ(m.tokenizer->DecodeAll(*out), c["text"].get<std::string>()) << prompt;
  }
}

INSTANTIATE_TEST_SUITE_P(BothForms, CpuReferenceOnStories, ::testing::Values(kLlama2c, kGguf),
                         [](const auto& info) {
                           return info.param == kLlama2c ? std::string("llama2c")
                                                         : std::string("gguf");
                         });

// A planted fault must move the logits well past the tolerance the check uses.
TEST(CpuReferenceFaults, OneFlippedWeightBitIsCaught) {
  test::TempDir dir;
  std::vector<uint8_t> bytes = test::ReadAll(TestData(kLlama2c));
  // Flip the top exponent bit of a weight in layer 0's wq (after the 28-byte header,
  // the embedding table and the attention norms).
  const size_t wq0 = 28 + 4 * (512 * 64 + 5 * 64);
  bytes[wq0 + 4 * 100 + 3] ^= 0x40;
  test::WriteAll(dir / "stories260K.bin", bytes);
  std::vector<uint8_t> tok = test::ReadAll(TestData("models/stories260K/tok512.bin"));
  test::WriteAll(dir / "tok512.bin", tok);

  LlamaModel good = Load(kLlama2c);
  auto bad = LoadLlamaModel(dir / "stories260K.bin");
  ASSERT_TRUE(bad.ok()) << bad.error().ToString();
  CpuReference a(good, 8), b(*bad, 8);
  double max_err = 0;
  for (int pos = 0; pos < 4; ++pos) {
    auto la = a.Forward(pos == 0 ? 1 : 403, pos);
    auto lb = b.Forward(pos == 0 ? 1 : 403, pos);
    ASSERT_TRUE(la.ok() && lb.ok());
    for (size_t i = 0; i < (*la)->size(); ++i)
      max_err = std::max(max_err, std::abs(double((**la)[i]) - (**lb)[i]));
  }
  EXPECT_GT(max_err, 1e-2);
}

TEST(CpuReferenceFaults, WrongRopeLayoutIsCaught) {
  LlamaModel m = Load(kGguf);
  m.config.rope_layout = RopeLayout::kHalves;  // as if Q/K had not been permuted
  CpuReference cpu(m, 64);
  nlohmann::json ref = LoadJson("models/stories260K/reference_logits.json");
  const auto& c = ref["cases"][1];
  const std::vector<float>* logits = nullptr;
  int pos = 0;
  for (int32_t t : c["tokens_fed"].get<std::vector<int32_t>>()) logits = *cpu.Forward(t, pos++);
  std::vector<double> want = c["logits"].get<std::vector<double>>();
  double max_err = 0;
  for (size_t i = 0; i < want.size(); ++i)
    max_err = std::max(max_err, std::abs((*logits)[i] - want[i]));
  EXPECT_GT(max_err, 1e-2);
}

TEST(CpuReferenceErrors, NonLlamaInputIsRefusedWithItsName) {
  auto m = LoadLlamaModel(TestData("third_party/llama.cpp/ggml-vocab-gpt-2.gguf"));
  ASSERT_FALSE(m.ok());
  EXPECT_NE(m.error().ToString().find("ggml-vocab-gpt-2.gguf"), std::string::npos);
}

}  // namespace
}  // namespace wg

namespace wg {
namespace {

// The verb a CI job calls: the CPU pass reproduces the published story's continuation and
// the exit code says "CPU reference only" (3), never success, when no GPU was exercised.
TEST(GpuCheckCli, CpuPassReproducesThePublishedContinuation) {
  auto r = test::RunCli({"gpu-check", TestData(kLlama2c), "--prompt", "Once upon a time",
                         "--tokens", "16", "--json"});
  ASSERT_EQ(r.exit_code, 3) << r.err;
  auto j = nlohmann::json::parse(r.out);
  nlohmann::json g = LoadJson("models/stories260K/expected_greedy.json");
  std::vector<int32_t> want = g["cases"][1]["next_token_ids"].get<std::vector<int32_t>>();
  want.resize(4 + 16);  // prompt echo (4) + 16 generated
  EXPECT_EQ(j["passes"][0]["token_ids"].get<std::vector<int32_t>>(), want);
  EXPECT_EQ(j["passes"][0]["nan"], 0);
  EXPECT_EQ(j["result"], "cpu-only");
}

// (A model file of another architecture gets the generic tensor pass: gpu_cuda_test.)
TEST(GpuCheckCli, NonModelInputIsAUsageError) {
  auto r = test::RunCli({"gpu-check", TestData("third_party/safetensors/SOURCES.md")});
  EXPECT_EQ(r.exit_code, 2) << r.err;
  EXPECT_NE(r.err.find("weightgate: error:"), std::string::npos);
}

}  // namespace
}  // namespace wg

namespace wg {
namespace {

// Our own llama2.c -> Hugging Face conversion, read back through the HF names and the
// rotate-halves RoPE layout, computes the same logits as the original checkpoint.
TEST(CpuReferenceHuggingFace, ConvertedFolderMatchesTheFloat64Reference) {
  test::TempDir dir;
  auto conv =
      test::RunCli({"-q", "convert", TestData(kLlama2c), dir / "hf", "--to", "safetensors"});
  ASSERT_EQ(conv.exit_code, 0) << conv.err;
  auto m = LoadLlamaModel(dir / "hf");
  ASSERT_TRUE(m.ok()) << m.error().ToString();
  EXPECT_EQ(m->config.rope_layout, RopeLayout::kHalves);
  nlohmann::json ref = LoadJson("models/stories260K/reference_logits.json");
  const auto& c = ref["cases"][1];
  CpuReference cpu(*m, 64);
  const std::vector<float>* logits = nullptr;
  int pos = 0;
  for (int32_t t : c["tokens_fed"].get<std::vector<int32_t>>()) {
    auto r = cpu.Forward(t, pos++);
    ASSERT_TRUE(r.ok()) << r.error().ToString();
    logits = *r;
  }
  std::vector<double> want = c["logits"].get<std::vector<double>>();
  double max_err = 0;
  for (size_t i = 0; i < want.size(); ++i)
    max_err = std::max(max_err, std::abs((*logits)[i] - want[i]));
  EXPECT_LT(max_err, 1e-4);
}

}  // namespace
}  // namespace wg
