// weightgate convert: casts checked value by value against the reference conversions in
// core/half.h, strided PyTorch views against torch's own values, llama2.c -> GGUF against
// the GGUF llama.cpp wrote from the same checkpoint, and round trips through every
// Hugging Face form. gguf-py's quantizer is checked in tests/interop/test_convert.py.
#include "weightgate/formats/convert.h"

#include <sys/resource.h>
#include <sys/wait.h>

#include <cmath>
#include <cstring>
#include <filesystem>
#include <fstream>
#include <map>

#include "support/test_util.h"
#include "weightgate/core/half.h"
#include "weightgate/formats/gguf.h"
#include "weightgate/formats/llama2c.h"
#include "weightgate/formats/safetensors.h"

namespace wg::convert_detail {
void SetChunkBytesForTesting(uint64_t bytes);
}

namespace wg {
namespace {

namespace fs = std::filesystem;
using test::TempDir;

const std::string kStories = test::TestData("models/stories260K/stories260K.bin");
const std::string kStoriesGguf = test::TestData("models/stories260K-gguf/stories260K.gguf");

// Tiny chunks, so that every tensor crosses many chunk boundaries.
class ConvertTest : public ::testing::Test {
 protected:
  void SetUp() override { convert_detail::SetChunkBytesForTesting(4096); }
  void TearDown() override { convert_detail::SetChunkBytesForTesting(0); }
};

std::vector<uint8_t> Bytes(const TensorInfo& t) {
  return {t.data().begin(), t.data().end()};
}

std::vector<float> F32s(const TensorInfo& t) {
  std::vector<float> v(t.elements());
  std::memcpy(v.data(), t.data().data(), v.size() * 4);
  return v;
}

TensorWriteSpec SpecFrom(std::string name, std::vector<uint64_t> shape, std::vector<float> values) {
  TensorWriteSpec s;
  s.name = std::move(name);
  s.dtype = DType::kF32;
  s.shape = std::move(shape);
  s.nbytes = values.size() * 4;
  s.produce = [values](const ByteSink& sink) {
    return sink(wg::Bytes(reinterpret_cast<const uint8_t*>(values.data()), values.size() * 4));
  };
  return s;
}

std::vector<float> Ramp(size_t n, float scale) {
  std::vector<float> v(n);
  for (size_t i = 0; i < n; ++i) v[i] = std::sin(static_cast<float>(i) * 0.37f) * scale;
  return v;
}

// ---- 1. any -> safetensors with a cast ------------------------------------------------

TEST_F(ConvertTest, SafetensorsCastsEveryFloatTensorAndKeepsIntegers) {
  TempDir dir;
  const std::string in = dir / "in.safetensors";
  std::vector<float> w = Ramp(3 * 1000, 70000.0f), b = Ramp(1000, 1e-6f);
  w[5] = NAN;
  w[6] = -INFINITY;
  std::vector<TensorWriteSpec> specs = {SpecFrom("w", {3, 1000}, w), SpecFrom("b", {1000}, b)};
  TensorWriteSpec ids;
  std::vector<int64_t> idv = {1, -2, 3};
  ids.name = "ids";
  ids.dtype = DType::kI64;
  ids.shape = {3};
  ids.nbytes = 24;
  ids.produce = [idv](const ByteSink& sink) {
    return sink(wg::Bytes(reinterpret_cast<const uint8_t*>(idv.data()), 24));
  };
  specs.push_back(ids);
  ASSERT_TRUE(WriteSafetensors(in, {}, std::move(specs)).ok());

  for (DType d : {DType::kF16, DType::kBF16}) {
    const std::string out = dir / (std::string(Name(d)) + ".safetensors");
    ConvertOptions o;
    o.dtype = d;
    Result<ConvertReport> r = Convert(in, out, o);
    ASSERT_TRUE(r.ok()) << r.error().ToString();
    EXPECT_EQ(r->tensors, 3u);
    Result<TensorCatalog> c = ReadSafetensors(out);
    ASSERT_TRUE(c.ok()) << c.error().ToString();
    for (const auto& [name, src] :
         std::map<std::string, std::vector<float>*>{{"w", &w}, {"b", &b}}) {
      const TensorInfo* t = c->Find(name);
      ASSERT_NE(t, nullptr);
      ASSERT_EQ(t->dtype, d);
      std::vector<uint16_t> got(t->elements());
      std::memcpy(got.data(), t->data().data(), got.size() * 2);
      for (size_t i = 0; i < got.size(); ++i) {
        const uint16_t want = d == DType::kF16 ? F32ToF16((*src)[i]) : F32ToBF16((*src)[i]);
        ASSERT_EQ(got[i], want) << name << "[" << i << "]";
      }
    }
    const TensorInfo* t = c->Find("ids");
    ASSERT_NE(t, nullptr);
    EXPECT_EQ(t->dtype, DType::kI64);
    EXPECT_EQ(0, std::memcmp(t->data().data(), idv.data(), 24));
  }
  // F16 -> F32 is exact.
  ConvertOptions o;
  o.dtype = DType::kF32;
  ASSERT_TRUE(Convert(dir / "F16.safetensors", dir / "back.safetensors", o).ok());
  Result<TensorCatalog> back = ReadSafetensors(dir / "back.safetensors");
  ASSERT_TRUE(back.ok());
  std::vector<float> got = F32s(*back->Find("b"));
  for (size_t i = 0; i < got.size(); ++i)
    ASSERT_EQ(FloatBits(got[i]), FloatBits(F16ToF32(F32ToF16(b[i]))));
}

TEST_F(ConvertTest, PyTorchStridedViewsAreMaterialized) {
  TempDir dir;
  const std::string pt = dir / "strided.pt";
  const std::string expect = dir / "expect.bin";
  const std::string script =
      "import sys, torch\n"
      "a = torch.arange(6*40, dtype=torch.float32).reshape(6, 40) * 0.5 - 7\n"
      "sd = {'t': a.t(), 'slice': a[1:5, ::3], 'plain': a[2], 'half': a.t().half()}\n"
      "torch.save(sd, sys.argv[1])\n"
      "open(sys.argv[2], 'wb').write(b''.join(sd[k].contiguous().float().numpy().tobytes() "
      "for k in ['t', 'slice', 'plain', 'half']))\n";
  test::WriteText(dir / "make.py", script);
  const int rc = std::system(
      (std::string(WG_PYTHON) + " " + (dir / "make.py") + " " + pt + " " + expect + " 2>/dev/null")
          .c_str());
  if (rc != 0) GTEST_SKIP() << "no torch in " << WG_PYTHON;
  ConvertOptions o;
  o.dtype = DType::kF32;
  const std::string out = dir / "out.safetensors";
  Result<ConvertReport> r = Convert(pt, out, o);
  ASSERT_TRUE(r.ok()) << r.error().ToString();
  Result<TensorCatalog> c = ReadSafetensors(out);
  ASSERT_TRUE(c.ok());
  std::vector<uint8_t> want = test::ReadAll(expect), got;
  for (const char* n : {"t", "slice", "plain", "half"}) {
    const TensorInfo* t = c->Find(n);
    ASSERT_NE(t, nullptr) << n;
    got.insert(got.end(), t->data().begin(), t->data().end());
  }
  EXPECT_EQ(got, want);
  EXPECT_EQ(c->Find("t")->shape, (std::vector<uint64_t>{40, 6}));
}

// Converting a 96 MiB checkpoint stays within a small resident set: chunks are bounded and
// the input's pages are released as they are consumed.
TEST(ConvertMemory, PeakRssDoesNotGrowWithTheModel) {
#if defined(__has_feature)
#if __has_feature(address_sanitizer)
#define WG_TEST_UNDER_ASAN 1
#endif
#endif
#if defined(__SANITIZE_ADDRESS__) || defined(WG_TEST_UNDER_ASAN)
  GTEST_SKIP() << "AddressSanitizer's shadow memory inflates the resident set";
#endif
  TempDir dir;
  const std::string in = dir / "big.safetensors";
  const uint64_t rows = 24, cols = 1 << 20;  // 96 MiB of F32
  TensorWriteSpec s;
  s.name = "w";
  s.dtype = DType::kF32;
  s.shape = {rows, cols};
  s.nbytes = rows * cols * 4;
  s.produce = [&](const ByteSink& sink) -> Status {
    std::vector<float> row(cols);
    for (uint64_t r = 0; r < rows; ++r) {
      for (uint64_t i = 0; i < cols; ++i) row[i] = static_cast<float>(r + i);
      WG_TRY(sink(wg::Bytes(reinterpret_cast<const uint8_t*>(row.data()), cols * 4)));
    }
    return Ok();
  };
  ASSERT_TRUE(WriteSafetensors(in, {}, {s}).ok());
  // Run the CLI and read its own peak RSS (wait4), not that of earlier children.
  std::vector<std::string> args = {WG_BINARY, "-q", "convert", in, dir / "out.safetensors",
                                   "--dtype", "f16"};
  pid_t pid = ::fork();
  if (pid == 0) {
    std::vector<char*> argv;
    for (auto& a : args) argv.push_back(a.data());
    argv.push_back(nullptr);
    ::execv(argv[0], argv.data());
    std::_Exit(127);
  }
  int status = 0;
  struct rusage ru {};
  ASSERT_EQ(::wait4(pid, &status, 0, &ru), pid);
  ASSERT_TRUE(WIFEXITED(status) && WEXITSTATUS(status) == 0);
  EXPECT_LT(ru.ru_maxrss, 48 * 1024) << "KiB peak resident set of weightgate convert";
  Result<TensorCatalog> c = ReadSafetensors(dir / "out.safetensors");
  ASSERT_TRUE(c.ok());
  uint16_t last;
  std::memcpy(&last, c->tensors[0].data().data() + c->tensors[0].nbytes - 2, 2);
  EXPECT_EQ(last, F32ToF16(static_cast<float>(rows - 1 + cols - 1)));
}

// ---- 2. llama2.c -> GGUF against llama.cpp's conversion --------------------------------

TEST_F(ConvertTest, Llama2cToGgufMatchesLlamaCppTensorsAndKeys) {
  TempDir dir;
  const std::string out = dir / "stories.gguf";
  Result<ConvertReport> r = Convert(kStories, out, {});
  ASSERT_TRUE(r.ok()) << r.error().ToString();
  Result<GgufFile> ours = ReadGguf(out), ref = ReadGguf(kStoriesGguf);
  ASSERT_TRUE(ours.ok()) << ours.error().ToString();
  ASSERT_TRUE(ref.ok()) << ref.error().ToString();

  // Every tensor equal byte for byte. The classifier is shared with the embedding, so we
  // write no output.weight (llama.cpp then uses token_embd), where llama.cpp's tool wrote
  // a copy.
  EXPECT_EQ(ours->catalog.tensors.size() + 1, ref->catalog.tensors.size());
  for (const TensorInfo& t : ref->catalog.tensors) {
    const std::string name = t.name == "output.weight" ? "token_embd.weight" : t.name;
    const TensorInfo* o = ours->catalog.Find(name);
    ASSERT_NE(o, nullptr) << name;
    EXPECT_EQ(o->dtype, t.dtype) << name;
    EXPECT_EQ(o->shape, t.shape) << name;
    EXPECT_EQ(Bytes(*o), Bytes(t)) << name;
  }
  EXPECT_EQ(ours->catalog.Find("output.weight"), nullptr);

  // Every key that llama.cpp reads for this model, equal; context_length is the
  // checkpoint's seq_len (512), where llama.cpp's tool writes its default 2048.
  for (const char* key :
       {"general.architecture", "llama.embedding_length", "llama.feed_forward_length",
        "llama.attention.head_count", "llama.attention.head_count_kv", "llama.block_count",
        "llama.rope.dimension_count", "llama.attention.layer_norm_rms_epsilon",
        "tokenizer.ggml.model", "tokenizer.ggml.tokens", "tokenizer.ggml.scores",
        "tokenizer.ggml.token_type", "tokenizer.ggml.bos_token_id", "tokenizer.ggml.eos_token_id",
        "tokenizer.ggml.unknown_token_id"}) {
    const GgufValue* a = ours->Find(key);
    const GgufValue* b = ref->Find(key);
    ASSERT_NE(a, nullptr) << key;
    ASSERT_NE(b, nullptr) << key;
    EXPECT_EQ(a->ToJson(), b->ToJson()) << key;
  }
  EXPECT_EQ(ours->Find("llama.context_length")->AsUint(), 512u);
  EXPECT_EQ(ours->Find("llama.vocab_size")->AsUint(), 512u);
  EXPECT_EQ(ours->Find("general.file_type")->AsUint(), 0u);
}

// ---- 3/4. Hugging Face round trips -----------------------------------------------------

// Compares two GGUFs' tensors (names, dtypes, shapes, bytes) and the keys that matter.
void ExpectSameGguf(const std::string& a_path, const std::string& b_path) {
  Result<GgufFile> a = ReadGguf(a_path), b = ReadGguf(b_path);
  ASSERT_TRUE(a.ok()) << a.error().ToString();
  ASSERT_TRUE(b.ok()) << b.error().ToString();
  ASSERT_EQ(a->catalog.tensors.size(), b->catalog.tensors.size());
  for (const TensorInfo& t : a->catalog.tensors) {
    const TensorInfo* u = b->catalog.Find(t.name);
    ASSERT_NE(u, nullptr) << t.name;
    EXPECT_EQ(t.dtype, u->dtype) << t.name;
    EXPECT_EQ(t.shape, u->shape) << t.name;
    EXPECT_EQ(Bytes(t), Bytes(*u)) << t.name;
  }
  for (const GgufKV& kv : a->kvs) {
    const GgufValue* v = b->Find(kv.key);
    ASSERT_NE(v, nullptr) << kv.key << " missing in " << b_path;
    EXPECT_EQ(kv.value.ToJson(), v->ToJson()) << kv.key;
  }
}

TEST_F(ConvertTest, Llama2cThroughHuggingFaceEqualsDirectGguf) {
  TempDir dir;
  ASSERT_TRUE(Convert(kStories, dir / "direct.gguf", {}).ok());
  ConvertOptions to_st;
  to_st.to = TargetFormat::kSafetensors;
  Result<ConvertReport> hf = Convert(kStories, dir / "hf", to_st);
  ASSERT_TRUE(hf.ok()) << hf.error().ToString();
  EXPECT_TRUE(fs::exists(dir / "hf/model.safetensors"));
  EXPECT_TRUE(fs::exists(dir / "hf/config.json"));
  EXPECT_TRUE(fs::exists(dir / "hf/tokenizer.model"));  // tok512.model copied from beside
  // Q rows are in rotate-half order in the HF folder: not the checkpoint's bytes.
  Result<TensorCatalog> st = ReadSafetensors(dir / "hf/model.safetensors");
  ASSERT_TRUE(st.ok());
  Result<Llama2cModel> l2c = ReadLlama2c(kStories);
  ASSERT_TRUE(l2c.ok());
  EXPECT_NE(Bytes(*st->Find("model.layers.0.self_attn.q_proj.weight")),
            Bytes(*l2c->catalog.Find("blk.0.attn_q.weight")));
  EXPECT_EQ(Bytes(*st->Find("model.layers.0.self_attn.v_proj.weight")),
            Bytes(*l2c->catalog.Find("blk.0.attn_v.weight")));
  EXPECT_EQ(st->Find("lm_head.weight"), nullptr);

  ASSERT_TRUE(Convert(dir / "hf", dir / "via_hf.gguf", {}).ok());
  ExpectSameGguf(dir / "direct.gguf", dir / "via_hf.gguf");
  ExpectSameGguf(dir / "via_hf.gguf", dir / "direct.gguf");
}

TEST_F(ConvertTest, GgufThroughHuggingFaceEqualsItself) {
  TempDir dir;
  ConvertOptions to_st;
  to_st.to = TargetFormat::kSafetensors;
  Result<ConvertReport> hf = Convert(kStoriesGguf, dir / "hf", to_st);
  ASSERT_TRUE(hf.ok()) << hf.error().ToString();
  ASSERT_TRUE(Convert(dir / "hf", dir / "back.gguf", {}).ok());
  Result<GgufFile> a = ReadGguf(kStoriesGguf), b = ReadGguf(dir / "back.gguf");
  ASSERT_TRUE(a.ok());
  ASSERT_TRUE(b.ok()) << b.error().ToString();
  ASSERT_EQ(a->catalog.tensors.size(), b->catalog.tensors.size());
  for (const TensorInfo& t : a->catalog.tensors) {
    const TensorInfo* u = b->catalog.Find(t.name);
    ASSERT_NE(u, nullptr) << t.name;
    EXPECT_EQ(Bytes(t), Bytes(*u)) << t.name;
  }
  for (const char* key :
       {"llama.context_length", "llama.embedding_length", "llama.feed_forward_length",
        "llama.attention.head_count", "llama.attention.head_count_kv", "llama.block_count",
        "llama.rope.dimension_count", "llama.attention.layer_norm_rms_epsilon",
        "tokenizer.ggml.model", "tokenizer.ggml.tokens", "tokenizer.ggml.scores",
        "tokenizer.ggml.token_type", "tokenizer.ggml.bos_token_id", "tokenizer.ggml.eos_token_id",
        "tokenizer.ggml.unknown_token_id"}) {
    ASSERT_NE(b->Find(key), nullptr) << key;
    EXPECT_EQ(a->Find(key)->ToJson(), b->Find(key)->ToJson()) << key;
  }
}

TEST_F(ConvertTest, HuggingFaceFolderWithTokenizerJsonAndUnknownTensors) {
  TempDir dir;
  ConvertOptions to_st;
  to_st.to = TargetFormat::kSafetensors;
  ASSERT_TRUE(Convert(kStories, dir / "hf", to_st).ok());
  // Replace tokenizer.model by a byte-level BPE tokenizer.json.
  fs::remove(dir / "hf/tokenizer.model");
  nlohmann::json tj;
  tj["model"] = {{"type", "BPE"},
                 {"byte_fallback", false},
                 {"vocab", nlohmann::json::object()},
                 {"merges", nlohmann::json::array({"a b", "ab c"})}};
  for (int i = 0; i < 510; ++i) tj["model"]["vocab"]["t" + std::to_string(i)] = i;
  tj["added_tokens"] = {{{"id", 510}, {"content", "<|begin|>"}, {"special", true}},
                        {{"id", 511}, {"content", "<|end|>"}, {"special", true}}};
  test::WriteText(dir / "hf/tokenizer.json", tj.dump());
  test::WriteText(dir / "hf/tokenizer_config.json",
                  R"({"bos_token": "<|begin|>", "eos_token": {"content": "<|end|>"}})");
  Result<ConvertReport> r = Convert(dir / "hf", dir / "bpe.gguf", {});
  ASSERT_TRUE(r.ok()) << r.error().ToString();
  Result<GgufFile> g = ReadGguf(dir / "bpe.gguf");
  ASSERT_TRUE(g.ok());
  EXPECT_EQ(g->Find("tokenizer.ggml.model")->str, "gpt2");
  EXPECT_EQ(g->Find("tokenizer.ggml.merges")->array.size(), 2u);
  EXPECT_EQ(g->Find("tokenizer.ggml.merges")->array[1].str, "ab c");
  EXPECT_EQ(g->Find("tokenizer.ggml.token_type")->array[510].ToJson(), 3);
  EXPECT_EQ(g->Find("tokenizer.ggml.bos_token_id")->AsUint(), 510u);
  // config.json's eos_token_id (2) fills in only what tokenizer_config.json does not say.
  EXPECT_EQ(g->Find("tokenizer.ggml.eos_token_id")->AsUint(), 511u);

  // An extra tensor the architecture lacks is named in the error.
  std::vector<TensorWriteSpec> specs = {SpecFrom("model.layers.0.mystery.weight", {2}, {1, 2})};
  fs::create_directories(dir / "x");
  ASSERT_TRUE(WriteSafetensors(dir / "x/model.safetensors", {}, specs).ok());
  fs::copy_file(dir / "hf/config.json", dir / "x/config.json");
  Result<ConvertReport> bad = Convert(dir / "x", dir / "x.gguf", {});
  ASSERT_FALSE(bad.ok());
  EXPECT_NE(bad.error().ToString().find("model.layers.0.mystery.weight"), std::string::npos)
      << bad.error().ToString();
  EXPECT_FALSE(fs::exists(dir / "x.gguf"));
}

// A BPE tokenizer.json with byte_fallback is a SentencePiece-style "llama" vocabulary:
// byte pieces typed as bytes, unk as unknown, scores minus the rank of the creating merge.
TEST_F(ConvertTest, ByteFallbackTokenizerJsonBecomesLlamaVocabulary) {
  TempDir dir;
  ConvertOptions to_st;
  to_st.to = TargetFormat::kSafetensors;
  ASSERT_TRUE(Convert(kStories, dir / "hf", to_st).ok());
  fs::remove(dir / "hf/tokenizer.model");
  const std::string u = "\xe2\x96\x81";  // U+2581
  nlohmann::json tj;
  tj["model"] = {{"type", "BPE"},
                 {"byte_fallback", true},
                 {"unk_token", "<unk>"},
                 {"vocab",
                  {{"<unk>", 0},
                   {"<s>", 1},
                   {"</s>", 2},
                   {"<0x41>", 3},
                   {u, 4},
                   {"a", 5},
                   {u + "a", 6},
                   {"b", 7},
                   {u + "ab", 8}}},
                 {"merges", {u + " a", u + "a b"}}};
  tj["added_tokens"] = {{{"id", 1}, {"content", "<s>"}, {"special", true}},
                        {{"id", 2}, {"content", "</s>"}, {"special", true}}};
  test::WriteText(dir / "hf/tokenizer.json", tj.dump());
  Result<ConvertReport> r = Convert(dir / "hf", dir / "t.gguf", {});
  ASSERT_TRUE(r.ok()) << r.error().ToString();
  Result<GgufFile> g = ReadGguf(dir / "t.gguf");
  ASSERT_TRUE(g.ok());
  EXPECT_EQ(g->Find("tokenizer.ggml.model")->str, "llama");
  EXPECT_EQ(g->Find("tokenizer.ggml.merges"), nullptr);
  const auto& types = g->Find("tokenizer.ggml.token_type")->array;
  const auto& scores = g->Find("tokenizer.ggml.scores")->array;
  const auto& tokens = g->Find("tokenizer.ggml.tokens")->array;
  ASSERT_EQ(tokens.size(), 512u);  // padded to the model's vocabulary
  EXPECT_EQ(types[0].ToJson(), 2);
  EXPECT_EQ(types[1].ToJson(), 3);
  EXPECT_EQ(types[3].ToJson(), 6);
  EXPECT_EQ(types[8].ToJson(), 1);
  EXPECT_EQ(types[100].ToJson(), 5);  // [PAD100], unused
  EXPECT_EQ(tokens[100].str, "[PAD100]");
  EXPECT_EQ(scores[6].AsFloat(), 0.0);
  EXPECT_EQ(scores[8].AsFloat(), -1.0);
  EXPECT_EQ(g->Find("tokenizer.ggml.unknown_token_id")->AsUint(), 0u);
  EXPECT_EQ(g->Find("tokenizer.ggml.bos_token_id")->AsUint(), 1u);  // config.json
}

// llama2.c version 2 (int8 groups with F32 scales) dequantizes through the same stream;
// the values equal the llama2.c reader's own dequantizer, also after Q/K moves to HF and
// back.
TEST_F(ConvertTest, Llama2cVersion2DequantizesToGguf) {
  TempDir dir;
  const std::string cmd =
      std::string(WG_PYTHON) + " " + test::SourcePath("tests/support/make_llama2c_fixtures.py") +
      " " + kStories + " " + kStoriesGguf + " " + dir.path().string() + " >/dev/null 2>&1";
  if (std::system(cmd.c_str()) != 0) GTEST_SKIP() << "fixtures need numpy and gguf";
  ConvertOptions o;
  o.tokenizer = test::TestData("models/stories260K/tok512.bin");
  ASSERT_TRUE(Convert(dir / "v2.bin", dir / "v2.gguf", o).ok());
  Result<Llama2cModel> m = ReadLlama2c(dir / "v2.bin", "-");
  ASSERT_TRUE(m.ok());
  Result<GgufFile> g = ReadGguf(dir / "v2.gguf");
  ASSERT_TRUE(g.ok()) << g.error().ToString();
  size_t checked = 0;
  for (const TensorInfo& t : m->catalog.tensors) {
    if (t.dtype != DType::kI8) continue;
    const TensorInfo* scales = m->catalog.Find(t.name + kLlama2cScalesSuffix);
    ASSERT_NE(scales, nullptr);
    TensorWriteSpec want = DequantizedLlama2cTensor(t, *scales, m->config.group_size);
    std::vector<uint8_t> bytes;
    ASSERT_TRUE(want.produce([&](wg::Bytes b) {
                      bytes.insert(bytes.end(), b.begin(), b.end());
                      return Ok();
                    })
                    .ok());
    const TensorInfo* o = g->catalog.Find(t.name);
    ASSERT_NE(o, nullptr) << t.name;
    EXPECT_EQ(o->dtype, DType::kF32);
    EXPECT_EQ(Bytes(*o), bytes) << t.name;
    ++checked;
  }
  EXPECT_GE(checked, 36u);
  EXPECT_EQ(g->catalog.Find("token_embd.weight.scales"), nullptr);

  ConvertOptions to_st;
  to_st.to = TargetFormat::kSafetensors;
  to_st.tokenizer = o.tokenizer;
  ASSERT_TRUE(Convert(dir / "v2.bin", dir / "hf", to_st).ok());
  ASSERT_TRUE(Convert(dir / "hf", dir / "v2_via_hf.gguf", {}).ok());
  ExpectSameGguf(dir / "v2.gguf", dir / "v2_via_hf.gguf");
}

// ---- 5. quantized GGUF ------------------------------------------------------------------

TEST_F(ConvertTest, QuantizedGgufKeepsNormsF32AndFallsBackForOddRows) {
  TempDir dir;
  for (const char* q : {"q8_0", "q4_0"}) {
    const std::string out = dir / (std::string(q) + ".gguf");
    test::CliResult r = test::RunCli({"convert", kStories, out, "--dtype", q});
    ASSERT_EQ(r.exit_code, 0) << r.err;
    EXPECT_NE(r.err.find("blk.0.ffn_down.weight"), std::string::npos) << r.err;
    Result<GgufFile> g = ReadGguf(out);
    ASSERT_TRUE(g.ok()) << g.error().ToString();
    const DType want = *DTypeFromName(q);
    EXPECT_EQ(g->catalog.Find("blk.0.attn_norm.weight")->dtype, DType::kF32);
    EXPECT_EQ(g->catalog.Find("output_norm.weight")->dtype, DType::kF32);
    EXPECT_EQ(g->catalog.Find("blk.3.attn_q.weight")->dtype, want);
    EXPECT_EQ(g->catalog.Find("token_embd.weight")->dtype, want);
    EXPECT_EQ(g->catalog.Find("blk.0.ffn_down.weight")->dtype, DType::kF16);  // rows of 172
    EXPECT_EQ(g->Find("general.file_type")->AsUint(), want == DType::kQ8_0 ? 7u : 2u);
  }
}

// ---- 6. errors ----------------------------------------------------------------------------

TEST(ConvertErrors, UsageErrorsLeaveNothingBehind) {
  TempDir dir;
  auto run = [&](std::vector<std::string> args) { return test::RunCli(args); };
  test::CliResult r = run({"convert", kStories, dir / "o.gguf", "--to", "onnx"});
  EXPECT_EQ(r.exit_code, 2);
  EXPECT_NE(r.err.find("--to"), std::string::npos) << r.err;
  r = run({"convert", kStories, dir / "o.gguf", "--dtype", "q5_k"});
  EXPECT_EQ(r.exit_code, 2);
  EXPECT_NE(r.err.find("--dtype"), std::string::npos) << r.err;
  r = run({"convert", kStories, dir / "o.safetensors", "--dtype", "q8_0"});
  EXPECT_EQ(r.exit_code, 2);
  EXPECT_NE(r.err.find("quantized"), std::string::npos) << r.err;
  r = run({"convert", kStories, dir / "o.bin"});
  EXPECT_EQ(r.exit_code, 2);
  EXPECT_NE(r.err.find("--to"), std::string::npos) << r.err;
  EXPECT_TRUE(test::DirIsEmpty(dir.path()));

  fs::create_directory(dir / "taken.gguf");
  r = run({"convert", kStories, dir / "taken.gguf"});
  EXPECT_EQ(r.exit_code, 2);
  EXPECT_NE(r.err.find("folder"), std::string::npos) << r.err;
  EXPECT_TRUE(fs::is_empty(dir / "taken.gguf"));
}

TEST(ConvertErrors, MalformedInputNamesFileAndLeavesNothing) {
  TempDir dir;
  std::vector<uint8_t> bytes = test::ReadAll(kStories);
  bytes.resize(bytes.size() - 100);
  const std::string in = dir / "cut.bin";
  test::WriteAll(in, bytes);
  fs::create_directory(dir / "out");
  for (const std::string out : {dir / "out/x.gguf", dir / "out/hf"}) {
    test::CliResult r =
        test::RunCli({"convert", in, out, "--to",
                      fs::path(out).extension() == ".gguf" ? "gguf" : "safetensors"});
    EXPECT_EQ(r.exit_code, 2) << r.err;
    EXPECT_NE(r.err.find("cut.bin"), std::string::npos) << r.err;
    EXPECT_TRUE(test::DirIsEmpty(dir / "out")) << out;
  }
  // A truncated GGUF: the error names the file and an offset.
  std::vector<uint8_t> g = test::ReadAll(kStoriesGguf);
  g.resize(5000);
  test::WriteAll(dir / "cut.gguf", g);
  test::CliResult r = test::RunCli({"convert", dir / "cut.gguf", dir / "out/y.safetensors"});
  EXPECT_EQ(r.exit_code, 2);
  EXPECT_NE(r.err.find("cut.gguf"), std::string::npos) << r.err;
  EXPECT_TRUE(test::DirIsEmpty(dir / "out"));
}

// A file system that fails once `budget` bytes in all have been appended (disk full).
class FullDisk : public FileSystemWrapper {
 public:
  explicit FullDisk(uint64_t budget) : FileSystemWrapper(FileSystem::Default()), left_(budget) {}
  Result<std::unique_ptr<WritableFile>> NewWritableFile(
      const std::string& path, const WritableFileOptions& options = {}) override {
    WG_ASSIGN_OR_RETURN(auto f, target().NewWritableFile(path, options));
    return std::unique_ptr<WritableFile>(new Failing(std::move(f), &left_));
  }

 private:
  struct Failing : WritableFile {
    Failing(std::unique_ptr<WritableFile> f, uint64_t* left) : f(std::move(f)), left(left) {}
    Status Append(wg::Bytes data) override {
      if (data.size() > *left) return Error::Io("No space left on device (injected)");
      *left -= data.size();
      return f->Append(data);
    }
    Status WriteAt(uint64_t at, wg::Bytes data) override {
      if (data.size() > *left) return Error::Io("No space left on device (injected)");
      *left -= data.size();
      return f->WriteAt(at, data);
    }
    Status Truncate(uint64_t size) override { return f->Truncate(size); }
    Result<bool> CloneFrom(const std::string&) override { return false; }
    Status Sync() override { return f->Sync(); }
    Status Close() override { return f->Close(); }
    uint64_t Size() const override { return f->Size(); }
    std::unique_ptr<WritableFile> f;
    uint64_t* left;
  };
  uint64_t left_;
};

TEST(ConvertErrors, DiskFullLeavesNothingAtOut) {
  TempDir ok_dir, dir;
  ConvertOptions to_st;
  to_st.to = TargetFormat::kSafetensors;
  ASSERT_TRUE(Convert(kStories, ok_dir / "hf", to_st).ok());
  const uint64_t weights = fs::file_size(ok_dir / "hf/model.safetensors");
  const uint64_t config = fs::file_size(ok_dir / "hf/config.json");
  // The disk fills in the weights, then in config.json, then in tokenizer.model.
  for (uint64_t budget :
       {uint64_t{100}, weights / 2, weights + config / 2, weights + config + 100}) {
    for (const char* out : {"o.gguf", "o.safetensors", "hf"}) {
      const bool folder = std::string(out) == "hf";
      if (!folder && budget > weights) continue;
      SCOPED_TRACE(std::string(out) + " with " + std::to_string(budget) + " bytes free");
      ConvertOptions o;
      if (folder) o.to = TargetFormat::kSafetensors;
      FullDisk disk(budget);
      FileSystem::SetDefaultForTesting(&disk);
      Result<ConvertReport> r = Convert(kStories, dir / out, o);
      FileSystem::SetDefaultForTesting(nullptr);
      ASSERT_FALSE(r.ok());
      EXPECT_EQ(r.error().code(), ErrorCode::kIo) << r.error().ToString();
      EXPECT_TRUE(test::DirIsEmpty(dir.path()));
    }
  }
}

TEST(ConvertErrors, MalformedTokenizerModelNamesFileAndOffset) {
  TempDir dir;
  ConvertOptions to_st;
  to_st.to = TargetFormat::kSafetensors;
  ASSERT_TRUE(Convert(kStories, dir / "hf", to_st).ok());
  std::vector<uint8_t> spm = test::ReadAll(dir / "hf/tokenizer.model");
  spm.resize(spm.size() / 2);
  test::WriteAll(dir / "hf/tokenizer.model", spm);
  Result<ConvertReport> r = Convert(dir / "hf", dir / "x.gguf", {});
  ASSERT_FALSE(r.ok());
  EXPECT_EQ(r.error().code(), ErrorCode::kMalformed);
  EXPECT_NE(r.error().ToString().find("tokenizer.model"), std::string::npos)
      << r.error().ToString();
  EXPECT_TRUE(r.error().offset().has_value());
  EXPECT_FALSE(fs::exists(dir / "x.gguf"));
}

TEST(ConvertErrors, NonLlamaSourceToGgufIsRefused) {
  TempDir dir;
  ASSERT_TRUE(WriteSafetensors(dir / "m.safetensors", {}, {SpecFrom("w", {2}, {1, 2})}).ok());
  test::CliResult r = test::RunCli({"convert", dir / "m.safetensors", dir / "m.gguf"});
  EXPECT_EQ(r.exit_code, 2);
  EXPECT_NE(r.err.find("config.json"), std::string::npos) << r.err;
  EXPECT_FALSE(fs::exists(dir / "m.gguf"));
}

}  // namespace
}  // namespace wg
