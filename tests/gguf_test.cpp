// GGUF reader and writer: real files (stories260K, llama.cpp's vocab files), one crafted
// file per rule the reader enforces, truncation at every structure and random bit flips.
#include "weightgate/formats/gguf.h"

#include <gtest/gtest.h>

#include <cstring>
#include <filesystem>
#include <fstream>
#include <random>

#include "support/test_util.h"

namespace wg {
namespace {

using test::TempDir;

const std::string kStories = "models/stories260K-gguf/stories260K.gguf";
const std::vector<std::string> kVocabFiles = {"third_party/llama.cpp/ggml-vocab-bert-bge.gguf",
                                              "third_party/llama.cpp/ggml-vocab-falcon.gguf",
                                              "third_party/llama.cpp/ggml-vocab-gpt-2.gguf",
                                              "third_party/llama.cpp/ggml-vocab-phi-3.gguf"};

// Builds GGUF bytes field by field, so each test can break exactly one rule.
class Builder {
 public:
  Builder& U8(uint8_t v) { return Raw(&v, 1); }
  Builder& U32(uint32_t v) { return Raw(&v, 4); }
  Builder& I32(int32_t v) { return Raw(&v, 4); }
  Builder& U64(uint64_t v) { return Raw(&v, 8); }
  Builder& F32(float v) { return Raw(&v, 4); }
  Builder& Str(const std::string& s) {
    U64(s.size());
    return Raw(s.data(), s.size());
  }
  Builder& Header(uint64_t tensors, uint64_t kvs, uint32_t version = 3) {
    return Raw("GGUF", 4).U32(version).U64(tensors).U64(kvs);
  }
  Builder& KeyType(const std::string& key, GgufType t) {
    return Str(key).I32(static_cast<int32_t>(t));
  }
  // A tensor info; ne innermost-first, as in the file.
  Builder& Info(const std::string& name, std::vector<uint64_t> ne, int32_t type, uint64_t offset) {
    Str(name).U32(static_cast<uint32_t>(ne.size()));
    for (uint64_t d : ne) U64(d);
    return I32(type).U64(offset);
  }
  Builder& PadTo(size_t alignment) {
    while (b_.size() % alignment) b_.push_back(0);
    return *this;
  }
  Builder& Zeros(size_t n) {
    b_.insert(b_.end(), n, 0);
    return *this;
  }
  Builder& Raw(const void* p, size_t n) {
    const auto* c = static_cast<const uint8_t*>(p);
    b_.insert(b_.end(), c, c + n);
    return *this;
  }
  const std::vector<uint8_t>& bytes() const { return b_; }

 private:
  std::vector<uint8_t> b_;
};

// Parses `bytes` written to a scratch file.
Result<GgufFile> Parse(const TempDir& dir, const std::vector<uint8_t>& bytes) {
  const std::string path = dir / "t.gguf";
  test::WriteAll(path, bytes);
  return ReadGguf(path);
}

// Expects a parse failure of `code` whose message contains `what`.
#define EXPECT_GGUF_ERROR(result, code_, what)                                               \
  do {                                                                                       \
    auto&& r_ = (result);                                                                    \
    ASSERT_FALSE(r_.ok()) << "expected: " << (what);                                         \
    EXPECT_EQ(r_.error().code(), (code_)) << r_.error().ToString();                          \
    EXPECT_NE(r_.error().ToString().find(what), std::string::npos) << r_.error().ToString(); \
    EXPECT_TRUE(r_.error().file().has_value()) << r_.error().ToString();                     \
  } while (0)

TEST(GgufRead, Stories260K) {
  const std::string path = test::TestData(kStories);
  auto g = ReadGguf(path);
  ASSERT_TRUE(g.ok()) << g.error().ToString();
  EXPECT_EQ(g->version, 3u);
  EXPECT_EQ(g->alignment, 32u);
  EXPECT_EQ(g->data_offset, 14176u);  // as gguf-py's GGUFReader reports it
  EXPECT_EQ(g->kvs.size(), 19u);
  ASSERT_EQ(g->catalog.tensors.size(), 48u);
  EXPECT_EQ(g->catalog.format, Format::kGguf);

  // Shapes are outermost-first: GGUF's ne {64, 512} is [512, 64].
  const TensorInfo& emb = g->catalog.tensors[0];
  EXPECT_EQ(emb.name, "token_embd.weight");
  EXPECT_EQ(emb.dtype, DType::kF32);
  EXPECT_EQ(emb.shape, (std::vector<uint64_t>{512, 64}));
  EXPECT_EQ(emb.offset, 14176u);
  EXPECT_EQ(emb.nbytes, 131072u);
  const TensorInfo* down = g->catalog.Find("blk.0.ffn_down.weight");
  ASSERT_NE(down, nullptr);
  EXPECT_EQ(down->shape, (std::vector<uint64_t>{64, 172}));
  EXPECT_EQ(down->offset, 370016u);
  EXPECT_EQ(g->catalog.Find("output_norm.weight")->shape, (std::vector<uint64_t>{64}));
  EXPECT_EQ(g->catalog.ParameterCount(), 292800u);  // as gguf-py counts them

  EXPECT_EQ(g->Find("general.architecture")->str, "llama");
  EXPECT_EQ(g->Find("llama.embedding_length")->AsUint(), 64u);
  EXPECT_EQ(g->Find("llama.block_count")->AsUint(), 5u);
  EXPECT_FLOAT_EQ(*g->Find("llama.attention.layer_norm_rms_epsilon")->AsFloat(), 1e-5f);
  const GgufValue* tokens = g->Find("tokenizer.ggml.tokens");
  ASSERT_NE(tokens, nullptr);
  EXPECT_EQ(tokens->elem_type, GgufType::kString);
  ASSERT_EQ(tokens->array.size(), 512u);
  EXPECT_EQ(tokens->array[0].str, "<unk>");
  EXPECT_EQ(g->Find("tokenizer.ggml.scores")->array.size(), 512u);
  EXPECT_EQ(g->Find("nonexistent"), nullptr);

  // The catalogue's JSON keeps short values and summarizes the 512-entry arrays.
  const auto& md = g->catalog.metadata;
  EXPECT_EQ(md["general.architecture"], "llama");
  EXPECT_EQ(md["llama.context_length"], 2048);
  EXPECT_EQ(md["llama.attention.layer_norm_rms_epsilon"].dump(), "1e-05");
  EXPECT_EQ(md["tokenizer.ggml.tokens"]["array_of"], "STRING");
  EXPECT_EQ(md["tokenizer.ggml.tokens"]["count"], 512);
  EXPECT_EQ(md["tokenizer.ggml.tokens"]["first"][0], "<unk>");
}

TEST(GgufRead, LlamaCppVocabFilesWithoutFinalPadding) {
  struct Want {
    std::string arch;
    size_t kvs;
    size_t vocab;
  };
  const std::vector<Want> want = {
      {"bert", 20, 30522}, {"falcon", 18, 65024}, {"gpt2", 16, 50257}, {"phi3", 26, 32064}};
  for (size_t k = 0; k < kVocabFiles.size(); ++k) {
    const std::string path = test::TestData(kVocabFiles[k]);
    SCOPED_TRACE(path);
    auto g = ReadGguf(path);
    ASSERT_TRUE(g.ok()) << g.error().ToString();
    EXPECT_TRUE(g->catalog.tensors.empty());
    EXPECT_EQ(g->kvs.size(), want[k].kvs);
    EXPECT_EQ(g->Find("general.architecture")->str, want[k].arch);
    EXPECT_EQ(g->Find("tokenizer.ggml.tokens")->array.size(), want[k].vocab);
    EXPECT_EQ(g->Find("tokenizer.ggml.token_type")->elem_type, GgufType::kI32);
    // The file ends at the last key/value: before the aligned data offset.
    EXPECT_LE(std::filesystem::file_size(path), g->data_offset);
    EXPECT_GT(std::filesystem::file_size(path) + 32, g->data_offset);
  }
  auto bert = ReadGguf(test::TestData(kVocabFiles[0]));
  ASSERT_TRUE(bert.ok());
  EXPECT_EQ(bert->Find("bert.attention.causal")->type, GgufType::kBool);
  EXPECT_EQ(bert->Find("bert.attention.causal")->u, 0u);
  EXPECT_NE(bert->Find("tokenizer.ggml.seperator_token_id"), nullptr);
  auto gpt2 = ReadGguf(test::TestData(kVocabFiles[2]));
  ASSERT_TRUE(gpt2.ok());
  EXPECT_EQ(gpt2->Find("tokenizer.ggml.merges")->array.size(), 50000u);
  EXPECT_EQ(gpt2->catalog.metadata["tokenizer.ggml.merges"]["count"], 50000);
  auto phi3 = ReadGguf(test::TestData(kVocabFiles[3]));
  ASSERT_TRUE(phi3.ok());
  EXPECT_NE(phi3->Find("tokenizer.chat_template")->str.find("<|assistant|>"), std::string::npos);
}

TEST(GgufRead, EveryMetadataTypeAndNestedArrays) {
  TempDir dir;
  Builder b;
  b.Header(0, 16);
  b.KeyType("u8", GgufType::kU8).U8(200);
  b.KeyType("i8", GgufType::kI8).U8(0x80);
  b.KeyType("u16", GgufType::kU16).Raw("\xff\xff", 2);
  b.KeyType("i16", GgufType::kI16).Raw("\x00\x80", 2);
  b.KeyType("u32", GgufType::kU32).U32(4000000000u);
  b.KeyType("i32", GgufType::kI32).I32(-7);
  b.KeyType("f32", GgufType::kF32).F32(0.1f);
  b.KeyType("bool", GgufType::kBool).U8(1);
  b.KeyType("str", GgufType::kString).Str("h\xc3\xa9llo");
  b.KeyType("u64", GgufType::kU64).U64(UINT64_MAX);
  b.KeyType("i64", GgufType::kI64).U64(static_cast<uint64_t>(INT64_MIN));
  double d = -2.5;
  b.KeyType("f64", GgufType::kF64).Raw(&d, 8);
  b.KeyType("empty", GgufType::kArray).I32(static_cast<int32_t>(GgufType::kF64)).U64(0);
  // [[1, 2], [], [3]] as u16 arrays, and [["a"], []] as string arrays.
  b.KeyType("nested", GgufType::kArray).I32(static_cast<int32_t>(GgufType::kArray)).U64(3);
  b.I32(static_cast<int32_t>(GgufType::kU16)).U64(2).Raw("\x01\x00\x02\x00", 4);
  b.I32(static_cast<int32_t>(GgufType::kU16)).U64(0);
  b.I32(static_cast<int32_t>(GgufType::kU16)).U64(1).Raw("\x03\x00", 2);
  b.KeyType("nested_str", GgufType::kArray).I32(static_cast<int32_t>(GgufType::kArray)).U64(2);
  b.I32(static_cast<int32_t>(GgufType::kString)).U64(1).Str("a");
  b.I32(static_cast<int32_t>(GgufType::kString)).U64(0);
  b.KeyType("bad_utf8", GgufType::kString)
      .Str(
          "a\xff"
          "b");
  auto g = Parse(dir, b.bytes());
  ASSERT_TRUE(g.ok()) << g.error().ToString();
  ASSERT_EQ(g->kvs.size(), 16u);
  EXPECT_EQ(g->Find("u8")->u, 200u);
  EXPECT_EQ(g->Find("i8")->i, -128);
  EXPECT_EQ(g->Find("u16")->u, 65535u);
  EXPECT_EQ(g->Find("i16")->i, -32768);
  EXPECT_EQ(g->Find("u32")->AsUint(), 4000000000u);
  EXPECT_EQ(g->Find("i32")->i, -7);
  EXPECT_EQ(g->Find("i32")->AsUint(), std::nullopt);
  EXPECT_EQ(g->Find("f32")->f, static_cast<double>(0.1f));
  EXPECT_EQ(g->Find("bool")->u, 1u);
  EXPECT_EQ(g->Find("str")->str, "h\xc3\xa9llo");
  EXPECT_EQ(g->Find("u64")->u, UINT64_MAX);
  EXPECT_EQ(g->Find("i64")->i, INT64_MIN);
  EXPECT_EQ(g->Find("f64")->f, -2.5);
  EXPECT_EQ(g->Find("empty")->elem_type, GgufType::kF64);
  EXPECT_TRUE(g->Find("empty")->array.empty());
  const GgufValue* nested = g->Find("nested");
  ASSERT_EQ(nested->array.size(), 3u);
  EXPECT_EQ(nested->array[0].elem_type, GgufType::kU16);
  EXPECT_EQ(nested->array[0].array[1].u, 2u);
  EXPECT_TRUE(nested->array[1].array.empty());
  EXPECT_EQ(nested->array[2].array[0].u, 3u);

  const auto& md = g->catalog.metadata;
  EXPECT_EQ(md.dump(),
            R"({"u8":200,"i8":-128,"u16":65535,"i16":-32768,"u32":4000000000,"i32":-7,"f32":0.1,)"
            R"("bool":true,"str":"héllo","u64":18446744073709551615,"i64":-9223372036854775808,)"
            R"("f64":-2.5,"empty":[],"nested":[[1,2],[],[3]],"nested_str":[["a"],[]],)"
            R"("bad_utf8":"a�b"})");
}

// A valid file with two tensors that the rule tests below break one field at a time.
struct TwoTensors {
  std::string name0 = "a";
  std::vector<uint64_t> ne0 = {4, 2};
  int32_t type0 = 0;  // F32: 32 bytes, padded to 32
  uint64_t offset0 = 0;
  std::string name1 = "b";
  std::vector<uint64_t> ne1 = {32};
  int32_t type1 = 8;  // Q8_0: 34 bytes, padded to 64
  uint64_t offset1 = 32;
  uint32_t alignment = 32;
  size_t data_bytes = 32 + 64;

  std::vector<uint8_t> Bytes() const {
    Builder b;
    b.Header(2, alignment == 32 ? 1 : 2)
        .KeyType("general.architecture", GgufType::kString)
        .Str("x");
    if (alignment != 32) b.KeyType("general.alignment", GgufType::kU32).U32(alignment);
    b.Info(name0, ne0, type0, offset0).Info(name1, ne1, type1, offset1);
    b.PadTo(alignment ? alignment : 32).Zeros(data_bytes);
    return b.bytes();
  }
};

TEST(GgufRead, CraftedValidFile) {
  TempDir dir;
  auto g = Parse(dir, TwoTensors{}.Bytes());
  ASSERT_TRUE(g.ok()) << g.error().ToString();
  ASSERT_EQ(g->catalog.tensors.size(), 2u);
  EXPECT_EQ(g->catalog.tensors[0].shape, (std::vector<uint64_t>{2, 4}));
  EXPECT_EQ(g->catalog.tensors[1].dtype, DType::kQ8_0);
  EXPECT_EQ(g->catalog.tensors[1].nbytes, 34u);
  EXPECT_EQ(g->catalog.tensors[1].offset, g->data_offset + 32);

  TwoTensors wide;
  wide.alignment = 64;
  wide.offset1 = 64;
  wide.data_bytes = 128;
  g = Parse(dir, wide.Bytes());
  ASSERT_TRUE(g.ok()) << g.error().ToString();
  EXPECT_EQ(g->alignment, 64u);
  EXPECT_EQ(g->data_offset % 64, 0u);

  // The last tensor's padding may be missing, as some writers leave it out.
  TwoTensors short_pad;
  short_pad.data_bytes = 32 + 34;
  EXPECT_TRUE(Parse(dir, short_pad.Bytes()).ok());
}

TEST(GgufRead, RefusesBrokenRules) {
  TempDir dir;
  using EC = ErrorCode;
  auto with = [&](auto edit) {
    TwoTensors t;
    edit(t);
    return Parse(dir, t.Bytes());
  };
  EXPECT_GGUF_ERROR(with([](TwoTensors& t) { t.name1 = "a"; }), EC::kMalformed,
                    "duplicate tensor name");
  EXPECT_GGUF_ERROR(with([](TwoTensors& t) { t.name0 = "a\xff"; }), EC::kMalformed,
                    "tensor name is not valid UTF-8");
  EXPECT_GGUF_ERROR(with([](TwoTensors& t) { t.name0 = std::string(64, 'n'); }), EC::kMalformed,
                    "tensor name too long");
  EXPECT_GGUF_ERROR(with([](TwoTensors& t) {
                      t.ne0 = {1, 1, 1, 1, 8};
                    }),
                    EC::kMalformed, "too many dimensions");
  EXPECT_GGUF_ERROR(with([](TwoTensors& t) { t.ne1 = {48}; }), EC::kMalformed,
                    "innermost dimension is not a whole number of blocks");
  EXPECT_GGUF_ERROR(with([](TwoTensors& t) { t.type0 = 4; }), EC::kMalformed,
                    "unknown ggml tensor type");
  EXPECT_GGUF_ERROR(with([](TwoTensors& t) { t.type0 = 40; }), EC::kMalformed,
                    "unknown ggml tensor type");
  EXPECT_GGUF_ERROR(with([](TwoTensors& t) { t.offset1 = 64; }), EC::kMalformed,
                    "gap before tensor data");
  EXPECT_GGUF_ERROR(with([](TwoTensors& t) { t.offset1 = 0; }), EC::kMalformed,
                    "overlaps the previous tensor");
  EXPECT_GGUF_ERROR(with([](TwoTensors& t) { t.offset0 = 32, t.offset1 = 0; }), EC::kMalformed,
                    "gap before tensor data");
  EXPECT_GGUF_ERROR(with([](TwoTensors& t) { t.data_bytes = 32 + 33; }), EC::kMalformed,
                    "tensor data extends past end of file");
  EXPECT_GGUF_ERROR(with([](TwoTensors& t) { t.data_bytes = 32 + 65; }), EC::kMalformed,
                    "trailing bytes after the last tensor");
  EXPECT_GGUF_ERROR(with([](TwoTensors& t) {
                      t.ne0 = {1ull << 32, 1ull << 32};
                    }),
                    EC::kMalformed, "overflows int64");
  EXPECT_GGUF_ERROR(with([](TwoTensors& t) {
                      t.ne0 = {4, 1ull << 63};
                    }),
                    EC::kMalformed, "overflows int64");
  EXPECT_GGUF_ERROR(with([](TwoTensors& t) { t.alignment = 48; }), EC::kMalformed,
                    "general.alignment must be a power of two");
  EXPECT_GGUF_ERROR(with([](TwoTensors& t) { t.alignment = 0; }), EC::kMalformed,
                    "general.alignment must be a power of two");
  // Valid, but a type weightgate does not handle.
  EXPECT_GGUF_ERROR(with([](TwoTensors& t) {
                      t.type1 = 13; /* Q5_K, 256 x 176 */
                      t.ne1 = {256};
                      t.data_bytes = 32 + 176;
                    }),
                    EC::kUnsupported, "Q5_K");

  // The error names the tensor and where its info starts.
  auto r = with([](TwoTensors& t) { t.offset1 = 64; });
  ASSERT_FALSE(r.ok());
  EXPECT_EQ(r.error().field(), "b");
  EXPECT_TRUE(r.error().offset().has_value());
  EXPECT_EQ(r.error().expected(), "offset 32 (tensors packed in info order, each padded to 32)");
}

TEST(GgufRead, RefusesBrokenMetadata) {
  TempDir dir;
  using EC = ErrorCode;
  auto one_kv = [&](auto fill) {
    Builder b;
    b.Header(0, 1);
    fill(b);
    return Parse(dir, b.bytes());
  };
  EXPECT_GGUF_ERROR(Parse(dir, Builder().Raw("GGUF", 3).bytes()), EC::kMalformed, "too small");
  EXPECT_GGUF_ERROR(Parse(dir, Builder().Raw("GGML", 4).U32(3).U64(0).U64(0).bytes()),
                    EC::kMalformed, "not a GGUF file");
  EXPECT_GGUF_ERROR(Parse(dir, Builder().Header(0, 0, 1).bytes()), EC::kUnsupported,
                    "GGUF version not supported");
  EXPECT_GGUF_ERROR(Parse(dir, Builder().Header(0, 0, 4).bytes()), EC::kUnsupported, "version");
  EXPECT_GGUF_ERROR(Parse(dir, Builder().Header(0, 0, 0x03000000).bytes()), EC::kUnsupported,
                    "big-endian");
  EXPECT_TRUE(Parse(dir, Builder().Header(0, 0, 2).bytes()).ok());
  EXPECT_TRUE(Parse(dir, Builder().Header(0, 0).bytes()).ok());
  EXPECT_GGUF_ERROR(Parse(dir, Builder().Header(0, 1ull << 60).bytes()), EC::kMalformed,
                    "kv_count exceeds");
  EXPECT_GGUF_ERROR(Parse(dir, Builder().Header(1ull << 60, 0).bytes()), EC::kMalformed,
                    "tensor_count exceeds");
  EXPECT_GGUF_ERROR(one_kv([](Builder& b) { b.U64(1ull << 62).Zeros(8); }), EC::kMalformed,
                    "string extends past end of file");
  EXPECT_GGUF_ERROR(one_kv([](Builder& b) { b.Str("k").I32(13).U32(0); }), EC::kMalformed,
                    "unknown metadata value type");
  EXPECT_GGUF_ERROR(one_kv([](Builder& b) { b.Str("k").I32(-1).U32(0); }), EC::kMalformed,
                    "unknown metadata value type");
  EXPECT_GGUF_ERROR(one_kv([](Builder& b) { b.KeyType("k", GgufType::kArray).I32(99).U64(0); }),
                    EC::kMalformed, "unknown array element type");
  EXPECT_GGUF_ERROR(
      one_kv([](Builder& b) { b.KeyType("k", GgufType::kArray).I32(0).U64(1ull << 40).U8(1); }),
      EC::kMalformed, "array length exceeds the bytes left");
  EXPECT_GGUF_ERROR(one_kv([](Builder& b) {
                      b.KeyType("k", GgufType::kArray).I32(8).U64(3).Str("a").Str("b").U64(99);
                    }),
                    EC::kMalformed, "string extends past end of file");
  EXPECT_GGUF_ERROR(
      one_kv([](Builder& b) { b.KeyType("general.alignment", GgufType::kU64).U64(32); }),
      EC::kMalformed, "general.alignment must be a U32");
  EXPECT_GGUF_ERROR(one_kv([](Builder& b) { b.KeyType("k", GgufType::kString).Str("v").Zeros(3); }),
                    EC::kMalformed, "trailing bytes");
  EXPECT_GGUF_ERROR(one_kv([](Builder& b) { b.KeyType("k\xc3", GgufType::kU8).U8(1); }),
                    EC::kMalformed, "metadata key is not valid UTF-8");
  {
    Builder b;
    b.Header(0, 2).KeyType("k", GgufType::kU8).U8(1).KeyType("k", GgufType::kU8).U8(2);
    EXPECT_GGUF_ERROR(Parse(dir, b.bytes()), EC::kMalformed, "duplicate metadata key");
  }
  {
    // 17 levels of arrays: refused before the stack is at risk.
    Builder b;
    b.Header(0, 1).KeyType("deep", GgufType::kArray);
    for (int k = 0; k < 17; ++k) b.I32(static_cast<int32_t>(GgufType::kArray)).U64(1);
    b.I32(0).U64(0);
    EXPECT_GGUF_ERROR(Parse(dir, b.bytes()), EC::kUnsupported, "nested too deeply");
  }
  {
    // 2^22 + 1 one-byte elements: a 4 MiB file that would take ~400 MiB once read.
    Builder b;
    b.Header(0, 1)
        .KeyType("big", GgufType::kArray)
        .I32(0)
        .U64((1u << 22) + 1)
        .Zeros((1u << 22) + 1);
    EXPECT_GGUF_ERROR(Parse(dir, b.bytes()), EC::kUnsupported, "too many array elements");
  }
  // A failing array element is named with its index.
  auto r = one_kv([](Builder& b) {
    b.KeyType("toks", GgufType::kArray).I32(8).U64(3).Str("a").Str("b").U64(99);
  });
  ASSERT_FALSE(r.ok());
  EXPECT_EQ(r.error().field(), "toks[2]");
}

TEST(GgufRead, EveryTruncationIsAnError) {
  TempDir dir;
  for (const std::string& rel : {kStories, kVocabFiles[2]}) {
    const auto bytes = test::ReadAll(test::TestData(rel));
    auto full = Parse(dir, bytes);
    ASSERT_TRUE(full.ok());
    // Every cut inside the header and the first key/values, then about 150 cuts spread
    // over the rest of the metadata, and the boundaries of the data section.
    std::vector<size_t> cuts;
    const size_t meta_end = std::min<size_t>(full->data_offset, bytes.size());
    const size_t step = std::max<size_t>(1, meta_end / 150) | 1;
    for (size_t n = 0; n < meta_end; n += (n < 600 ? 1 : step)) cuts.push_back(n);
    cuts.push_back(meta_end - 1);
    if (bytes.size() > meta_end) {
      for (size_t n : {meta_end, meta_end + 1, bytes.size() - 33, bytes.size() - 1})
        cuts.push_back(n);
    }
    for (size_t n : cuts) {
      std::vector<uint8_t> cut(bytes.begin(), bytes.begin() + n);
      auto r = Parse(dir, cut);
      ASSERT_FALSE(r.ok()) << rel << " cut at " << n;
      EXPECT_EQ(r.error().code(), ErrorCode::kMalformed) << r.error().ToString();
      EXPECT_TRUE(r.error().file().has_value() && r.error().offset().has_value())
          << r.error().ToString();
    }
  }
}

TEST(GgufRead, RandomBitFlipsGiveErrorsNotCrashes) {
  TempDir dir;
  const std::string path = dir / "flipped.gguf";
  const auto bytes = test::ReadAll(test::TestData(kStories));
  test::WriteAll(path, bytes);
  std::mt19937_64 rng(2024);
  int failures = 0;
  for (int k = 0; k < 1500; ++k) {
    // Mostly the header and tensor infos, where a flip changes structure.
    size_t pos = k % 3 ? rng() % 24 + (rng() % 2) * (11000 + rng() % 3176) : rng() % 14176;
    const auto flip = [&](uint8_t v) {
      std::fstream f(path, std::ios::in | std::ios::out | std::ios::binary);
      f.seekp(static_cast<std::streamoff>(pos));
      f.put(static_cast<char>(v));
    };
    flip(bytes[pos] ^ static_cast<uint8_t>(1u << (rng() % 8)));
    auto r = ReadGguf(path);
    flip(bytes[pos]);
    if (r.ok()) continue;  // a flip inside a token's text, say
    ++failures;
    EXPECT_TRUE(r.error().file().has_value()) << r.error().ToString();
    EXPECT_TRUE(r.error().offset().has_value()) << r.error().ToString();
  }
  EXPECT_GT(failures, 300);
}

TEST(GgufRead, MissingFileIsIoError) {
  auto r = ReadGguf("/nonexistent/model.gguf");
  ASSERT_FALSE(r.ok());
  EXPECT_EQ(r.error().code(), ErrorCode::kIo);
}

TEST(GgufTypes, GgmlIdsMapBothWays) {
  const std::vector<std::pair<int32_t, DType>> ids = {
      {0, DType::kF32},  {1, DType::kF16},  {2, DType::kQ4_0}, {8, DType::kQ8_0},
      {12, DType::kQ4K}, {14, DType::kQ6K}, {24, DType::kI8},  {25, DType::kI16},
      {26, DType::kI32}, {27, DType::kI64}, {28, DType::kF64}, {30, DType::kBF16}};
  for (const auto& [id, dtype] : ids) {
    EXPECT_EQ(DTypeFromGgml(id), dtype) << id;
    auto back = GgmlTypeFromDType(dtype);
    ASSERT_TRUE(back.ok());
    EXPECT_EQ(*back, id);
  }
  EXPECT_EQ(DTypeFromGgml(13), std::nullopt);
  EXPECT_EQ(DTypeFromGgml(-1), std::nullopt);
  EXPECT_FALSE(GgmlTypeFromDType(DType::kU8).ok());
  EXPECT_FALSE(GgmlTypeFromDType(DType::kBool).ok());
}

}  // namespace
}  // namespace wg

namespace wg {
namespace {

// Specs that copy every tensor of a file read by ReadGguf.
std::vector<TensorWriteSpec> CopyAll(const GgufFile& g) {
  std::vector<TensorWriteSpec> specs;
  for (const TensorInfo& t : g.catalog.tensors) specs.push_back(CopyTensor(t));
  return specs;
}

TensorWriteSpec Spec(std::string name, DType dtype, std::vector<uint64_t> shape,
                     std::vector<uint8_t> bytes) {
  TensorWriteSpec s;
  s.name = std::move(name);
  s.dtype = dtype;
  s.shape = std::move(shape);
  s.nbytes = bytes.size();
  // Hands the bytes over in pieces of at most 5, so the writer sees several calls.
  s.produce = [bytes = std::move(bytes)](const ByteSink& sink) -> Status {
    for (size_t i = 0; i < bytes.size(); i += 5)
      WG_TRY(sink(Bytes(bytes.data() + i, std::min<size_t>(5, bytes.size() - i))));
    return Ok();
  };
  return s;
}

TEST(GgufWrite, RewritingEveryTestFileIsByteIdentical) {
  TempDir dir;
  std::vector<std::string> files = kVocabFiles;
  files.push_back(kStories);
  for (const std::string& rel : files) {
    const std::string path = test::TestData(rel);
    SCOPED_TRACE(path);
    auto g = ReadGguf(path);
    ASSERT_TRUE(g.ok()) << g.error().ToString();
    const std::string out = dir / std::filesystem::path(rel).filename().string();
    Status s = WriteGguf(out, g->kvs, CopyAll(*g), g->alignment);
    ASSERT_TRUE(s.ok()) << s.error().ToString();
    EXPECT_TRUE(test::ReadAll(out) == test::ReadAll(path)) << "differs from the original";
  }
}

TEST(GgufWrite, RoundTripOfEveryTypeAndCustomAlignment) {
  TempDir dir;
  std::vector<GgufKV> kvs = {
      {"general.architecture", GgufValue::String("llama")},
      {"general.alignment", GgufValue::U32(64)},
      {"u32", GgufValue::U32(7)},
      {"i32", GgufValue::I32(-7)},
      {"u64", GgufValue::U64(1ull << 40)},
      {"f32", GgufValue::F32(0.25f)},
      {"b", GgufValue::Bool(true)},
      {"nested",
       GgufValue::Array(GgufType::kArray, {GgufValue::Array(GgufType::kU32, {GgufValue::U32(1)}),
                                           GgufValue::Array(GgufType::kString, {})})},
  };
  GgufValue i8;
  i8.type = GgufType::kI8;
  i8.i = -128;
  kvs.push_back({"i8", i8});
  GgufValue f64;
  f64.type = GgufType::kF64;
  f64.f = 1.0 / 3;
  kvs.push_back({"f64", f64});
  std::vector<TensorWriteSpec> specs;
  specs.push_back(Spec("q8", DType::kQ8_0, {2, 32}, std::vector<uint8_t>(68, 0x11)));
  specs.push_back(Spec("bf16", DType::kBF16, {3}, {1, 2, 3, 4, 5, 6}));
  specs.push_back(Spec("scalar", DType::kF32, {}, {0, 0, 128, 63}));
  const std::string path = dir / "all.gguf";
  Status s = WriteGguf(path, kvs, std::move(specs), 64);
  ASSERT_TRUE(s.ok()) << s.error().ToString();

  auto g = ReadGguf(path);
  ASSERT_TRUE(g.ok()) << g.error().ToString();
  EXPECT_EQ(g->alignment, 64u);
  EXPECT_EQ(g->data_offset % 64, 0u);
  ASSERT_EQ(g->kvs.size(), kvs.size());
  for (size_t k = 0; k < kvs.size(); ++k) {
    EXPECT_EQ(g->kvs[k].key, kvs[k].key);
    EXPECT_EQ(g->kvs[k].value.ToJson(), kvs[k].value.ToJson()) << kvs[k].key;
  }
  EXPECT_EQ(g->Find("f64")->f, 1.0 / 3);
  EXPECT_EQ(g->Find("nested")->array[1].elem_type, GgufType::kString);
  const auto& t = g->catalog.tensors;
  ASSERT_EQ(t.size(), 3u);
  EXPECT_EQ(t[0].shape, (std::vector<uint64_t>{2, 32}));
  EXPECT_EQ(t[0].dtype, DType::kQ8_0);
  EXPECT_EQ(t[1].offset - t[0].offset, 128u);  // 68 bytes padded to 64
  EXPECT_EQ(std::vector<uint8_t>(t[1].data().begin(), t[1].data().end()),
            (std::vector<uint8_t>{1, 2, 3, 4, 5, 6}));
  EXPECT_TRUE(t[2].shape.empty());
  EXPECT_EQ(std::filesystem::file_size(path), t[2].offset + 64);  // the last tensor padded too
}

TEST(GgufWrite, RefusesBadInputAndLeavesNothingBehind) {
  TempDir dir;
  const std::string path = dir / "bad.gguf";
  auto write = [&](std::vector<GgufKV> kvs, std::vector<TensorWriteSpec> specs,
                   uint32_t alignment = 32) {
    return WriteGguf(path, kvs, std::move(specs), alignment);
  };
  auto f32 = [](std::string name, std::vector<uint64_t> shape, size_t bytes) {
    return Spec(std::move(name), DType::kF32, std::move(shape), std::vector<uint8_t>(bytes));
  };
  struct Case {
    std::string what;
    Status status;
  };
  GgufValue big_u8;
  big_u8.type = GgufType::kU8;
  big_u8.u = 256;
  GgufValue small_i16;
  small_i16.type = GgufType::kI16;
  small_i16.i = -40000;
  std::vector<Case> cases;
  cases.push_back(
      {"duplicate metadata key", write({{"a", GgufValue::U32(1)}, {"a", GgufValue::U32(2)}}, {})});
  cases.push_back({"does not fit its type", write({{"a", big_u8}}, {})});
  cases.push_back({"key is not valid UTF-8", write({{"a\x80", GgufValue::U32(1)}}, {})});
  cases.push_back({"does not fit its type", write({{"a", small_i16}}, {})});
  cases.push_back({"different type than the array",
                   write({{"a", GgufValue::Array(GgufType::kU32, {GgufValue::I32(1)})}}, {})});
  cases.push_back({"power of two", write({}, {}, 48)});
  cases.push_back({"must be stated in general.alignment", write({}, {}, 64)});
  cases.push_back({"disagrees", write({{"general.alignment", GgufValue::U32(16)}}, {}, 32)});
  cases.push_back({"duplicate tensor name", write({}, [&] {
                     std::vector<TensorWriteSpec> v;
                     v.push_back(f32("x", {1}, 4));
                     v.push_back(f32("x", {1}, 4));
                     return v;
                   }())});
  cases.push_back({"tensor name too long", write({}, [&] {
                     std::vector<TensorWriteSpec> v;
                     v.push_back(f32(std::string(64, 'n'), {1}, 4));
                     return v;
                   }())});
  cases.push_back({"at most 4 dimensions", write({}, [&] {
                     std::vector<TensorWriteSpec> v;
                     v.push_back(f32("x", {1, 1, 1, 1, 1}, 4));
                     return v;
                   }())});
  cases.push_back({"does not match its shape", write({}, [&] {
                     std::vector<TensorWriteSpec> v;
                     v.push_back(f32("x", {2}, 4));
                     return v;
                   }())});
  cases.push_back({"whole number of blocks", write({}, [&] {
                     std::vector<TensorWriteSpec> v;
                     v.push_back(Spec("q", DType::kQ8_0, {32, 2}, std::vector<uint8_t>(68)));
                     return v;
                   }())});
  cases.push_back({"GGUF cannot store", write({}, [&] {
                     std::vector<TensorWriteSpec> v;
                     v.push_back(Spec("u", DType::kU16, {2}, std::vector<uint8_t>(4)));
                     return v;
                   }())});
  cases.push_back({"more bytes than declared", write({}, [&] {
                     std::vector<TensorWriteSpec> v;
                     v.push_back(f32("x", {1}, 4));
                     v[0].produce = [](const ByteSink& sink) {
                       std::vector<uint8_t> b(8);
                       return sink(Bytes(b));
                     };
                     return v;
                   }())});
  cases.push_back({"fewer bytes than declared", write({}, [&] {
                     std::vector<TensorWriteSpec> v;
                     v.push_back(f32("x", {1}, 4));
                     v[0].produce = [](const ByteSink&) { return Ok(); };
                     return v;
                   }())});
  cases.push_back({"disk on fire", write({}, [&] {
                     std::vector<TensorWriteSpec> v;
                     v.push_back(f32("x", {1}, 4));
                     v.push_back(f32("y", {1}, 4));
                     v[1].produce = [](const ByteSink&) -> Status {
                       return Error::Io("disk on fire");
                     };
                     return v;
                   }())});
  for (const Case& c : cases) {
    ASSERT_FALSE(c.status.ok()) << c.what;
    EXPECT_NE(c.status.error().ToString().find(c.what), std::string::npos)
        << c.status.error().ToString();
    EXPECT_EQ(c.status.error().file(), path) << c.status.error().ToString();
  }
  EXPECT_TRUE(test::DirIsEmpty(dir.path()));
}

}  // namespace
}  // namespace wg
