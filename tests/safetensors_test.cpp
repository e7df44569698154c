// safetensors reader and writer: round trips, a real third-party file, one corrupt file
// per error class, fuzzed headers, atomic writer failure, sharded checkpoints.
#include "weightgate/formats/safetensors.h"

#include <gtest/gtest.h>

#include <cstring>
#include <filesystem>
#include <map>
#include <random>

#include "support/test_util.h"
#include "weightgate/core/half.h"

namespace wg {
namespace {

using test::TempDir;
using namespace std::string_literals;

std::vector<uint8_t> Bytes8(uint64_t v) {
  std::vector<uint8_t> b(8);
  std::memcpy(b.data(), &v, 8);
  return b;
}

// A safetensors file from raw parts; `header_len` overrides the length field.
std::vector<uint8_t> MakeFile(const std::string& header, const std::vector<uint8_t>& data,
                              std::optional<uint64_t> header_len = std::nullopt) {
  std::vector<uint8_t> f = Bytes8(header_len.value_or(header.size()));
  f.insert(f.end(), header.begin(), header.end());
  f.insert(f.end(), data.begin(), data.end());
  return f;
}

// A spec whose producer hands over `bytes` in pieces of at most 3 bytes, so writers are
// exercised with data arriving in several calls.
TensorWriteSpec Spec(std::string name, DType dtype, std::vector<uint64_t> shape,
                     std::vector<uint8_t> bytes) {
  TensorWriteSpec s;
  s.name = std::move(name);
  s.dtype = dtype;
  s.shape = std::move(shape);
  s.nbytes = bytes.size();
  s.produce = [bytes = std::move(bytes)](const ByteSink& sink) -> Status {
    for (size_t i = 0; i < bytes.size(); i += 3)
      WG_TRY(sink(Bytes(bytes.data() + i, std::min<size_t>(3, bytes.size() - i))));
    return Ok();
  };
  return s;
}

std::vector<uint8_t> Data(const TensorInfo& t) {
  return {t.data().begin(), t.data().end()};
}

template <typename T>
std::vector<T> Values(const TensorInfo& t) {
  std::vector<T> v(t.nbytes / sizeof(T));
  std::memcpy(v.data(), t.data().data(), t.nbytes);
  return v;
}

std::vector<uint8_t> Pattern(size_t n, uint8_t seed) {
  std::vector<uint8_t> b(n);
  for (size_t i = 0; i < n; ++i) b[i] = static_cast<uint8_t>(seed * 31 + i * 7);
  return b;
}

TEST(SafetensorsDType, NamesMapBothWays) {
  const std::vector<std::pair<std::string, DType>> names = {
      {"BOOL", DType::kBool}, {"U8", DType::kU8},          {"I8", DType::kI8},
      {"I16", DType::kI16},   {"U16", DType::kU16},        {"F16", DType::kF16},
      {"BF16", DType::kBF16}, {"I32", DType::kI32},        {"U32", DType::kU32},
      {"F32", DType::kF32},   {"F64", DType::kF64},        {"I64", DType::kI64},
      {"U64", DType::kU64},   {"F8_E4M3", DType::kF8E4M3}, {"F8_E5M2", DType::kF8E5M2}};
  for (const auto& [name, dtype] : names) {
    EXPECT_EQ(SafetensorsDType(name), dtype) << name;
    auto back = SafetensorsDTypeName(dtype);
    ASSERT_TRUE(back.ok());
    EXPECT_EQ(*back, name);
  }
  EXPECT_EQ(SafetensorsDType("f32"), std::nullopt);  // the format's names are case-sensitive
  EXPECT_EQ(SafetensorsDType("F4"), std::nullopt);   // known to the reference, not to us
  EXPECT_EQ(SafetensorsDType("C64"), std::nullopt);
  for (DType q : {DType::kQ8_0, DType::kQ4_0, DType::kQ4K, DType::kQ6K}) {
    auto r = SafetensorsDTypeName(q);
    ASSERT_FALSE(r.ok());
    EXPECT_EQ(r.error().code(), ErrorCode::kUnsupported);
  }
}

TEST(Safetensors, RoundTripsEveryDtypeScalarsEmptyAndMetadata) {
  TempDir dir;
  const std::string path = dir / "all.safetensors";
  std::vector<TensorWriteSpec> specs;
  std::map<std::string, std::vector<uint8_t>> want;
  std::map<std::string, std::vector<uint64_t>> shapes;
  uint8_t seed = 1;
  for (DType t : {DType::kBool, DType::kU8, DType::kI8, DType::kI16, DType::kU16, DType::kF16,
                  DType::kBF16, DType::kI32, DType::kU32, DType::kF32, DType::kF64, DType::kI64,
                  DType::kU64, DType::kF8E4M3, DType::kF8E5M2}) {
    std::string name = "t." + std::string(Name(t));
    std::vector<uint64_t> shape = {2, 3};
    auto bytes = Pattern(6 * Info(t).block_bytes, seed++);
    if (t == DType::kBool)
      for (auto& b : bytes) b &= 1;
    want[name] = bytes;
    shapes[name] = shape;
    specs.push_back(Spec(name, t, shape, bytes));
  }
  specs.push_back(Spec("scalar", DType::kF32, {}, Pattern(4, 99)));
  want["scalar"] = Pattern(4, 99);
  shapes["scalar"] = {};
  specs.push_back(Spec("empty", DType::kF16, {0, 3}, {}));
  want["empty"] = {};
  shapes["empty"] = {0, 3};
  const std::map<std::string, std::string> metadata = {{"format", "pt"}, {"note", "q\"\\\n\x01é"}};
  ASSERT_TRUE(WriteSafetensors(path, metadata, std::move(specs)).ok());

  auto cat = ReadSafetensors(path);
  ASSERT_TRUE(cat.ok()) << cat.error().ToString();
  ASSERT_EQ(cat->tensors.size(), want.size());
  for (const TensorInfo& t : cat->tensors) {
    ASSERT_TRUE(want.count(t.name)) << t.name;
    EXPECT_EQ(Data(t), want[t.name]) << t.name;
    EXPECT_EQ(t.shape, shapes[t.name]) << t.name;
    if (t.name.starts_with("t.")) EXPECT_EQ("t." + std::string(Name(t.dtype)), t.name);
  }
  EXPECT_EQ(cat->metadata["__metadata__"]["format"], "pt");
  EXPECT_EQ(cat->metadata["__metadata__"]["note"], "q\"\\\n\x01é");
  EXPECT_EQ(cat->files, std::vector<std::string>{path});

  // Layout of prepare(): widest dtype first, names ascending within a dtype.
  std::vector<std::string> order;
  for (const TensorInfo& t : cat->tensors) order.push_back(t.name);
  const std::vector<std::string> expected_order = {
      "t.U64", "t.I64", "t.F64", "scalar",    "t.F32",     "t.U32", "t.I32", "t.BF16", "empty",
      "t.F16", "t.U16", "t.I16", "t.F8_E4M3", "t.F8_E5M2", "t.I8",  "t.U8",  "t.BOOL"};
  EXPECT_EQ(order, expected_order);
  auto raw = test::ReadAll(path);
  uint64_t n;
  std::memcpy(&n, raw.data(), 8);
  EXPECT_EQ(n % 8, 0u);
  EXPECT_EQ(cat->tensors.front().offset, 8 + n);
}

TEST(Safetensors, EmptyFileWithoutTensors) {
  TempDir dir;
  ASSERT_TRUE(WriteSafetensors(dir / "e.safetensors", {}, {}).ok());
  EXPECT_EQ(test::ReadAll(dir / "e.safetensors"), MakeFile("{}      ", {}));
  auto cat = ReadSafetensors(dir / "e.safetensors");
  ASSERT_TRUE(cat.ok()) << cat.error().ToString();
  EXPECT_TRUE(cat->tensors.empty());
  EXPECT_FALSE(cat->metadata.contains("__metadata__"));
}

// samples/overall.safetensors from the reference repository (written in 2022, unpadded
// 526-byte header, tensors in name order): range(-3, 3) cast to each of 9 dtypes.
TEST(Safetensors, ReadsReferenceSampleFileAndRewritesIt) {
  const std::string sample = test::TestData("third_party/safetensors/overall.safetensors");
  auto cat = ReadSafetensors(sample);
  ASSERT_TRUE(cat.ok()) << cat.error().ToString();
  ASSERT_EQ(cat->tensors.size(), 9u);
  EXPECT_EQ(cat->metadata["__metadata__"], nlohmann::ordered_json({{"test", "a"}}));
  std::vector<std::string> names;
  for (const auto& t : cat->tensors) names.push_back(t.name);
  EXPECT_EQ(names, (std::vector<std::string>{"B", "H", "I", "b", "d", "e", "f", "h", "i"}));
  EXPECT_EQ(cat->tensors[0].offset, 8u + 526u);

  auto find = [&](const char* n) -> const TensorInfo& { return *cat->Find(n); };
  EXPECT_EQ(find("B").dtype, DType::kU8);
  EXPECT_EQ(Values<uint8_t>(find("B")), (std::vector<uint8_t>{253, 254, 255, 0, 1, 2}));
  EXPECT_EQ(Values<uint16_t>(find("H")), (std::vector<uint16_t>{65533, 65534, 65535, 0, 1, 2}));
  EXPECT_EQ(Values<uint32_t>(find("I")),
            (std::vector<uint32_t>{4294967293u, 4294967294u, 4294967295u, 0, 1, 2}));
  EXPECT_EQ(Values<int8_t>(find("b")), (std::vector<int8_t>{-3, -2, -1, 0, 1, 2}));
  EXPECT_EQ(Values<int16_t>(find("h")), (std::vector<int16_t>{-3, -2, -1, 0, 1, 2}));
  EXPECT_EQ(Values<int32_t>(find("i")), (std::vector<int32_t>{-3, -2, -1, 0, 1, 2}));
  EXPECT_EQ(find("d").dtype, DType::kF64);
  EXPECT_EQ(find("d").offset, 8u + 526u + 48u);  // unaligned: accepted, as by the reference
  EXPECT_EQ(Values<double>(find("d")), (std::vector<double>{-3, -2, -1, 0, 1, 2}));
  EXPECT_EQ(Values<float>(find("f")), (std::vector<float>{-3, -2, -1, 0, 1, 2}));
  std::vector<float> halves;
  for (uint16_t h : Values<uint16_t>(find("e"))) halves.push_back(F16ToF32(h));
  EXPECT_EQ(halves, (std::vector<float>{-3, -2, -1, 0, 1, 2}));
  for (const auto& t : cat->tensors) EXPECT_EQ(t.shape, std::vector<uint64_t>{6}) << t.name;

  TempDir dir;
  std::vector<TensorWriteSpec> specs;
  for (const auto& t : cat->tensors) specs.push_back(CopyTensor(t));
  ASSERT_TRUE(WriteSafetensors(dir / "re.safetensors", {{"test", "a"}}, std::move(specs)).ok());
  auto again = ReadSafetensors(dir / "re.safetensors");
  ASSERT_TRUE(again.ok()) << again.error().ToString();
  ASSERT_EQ(again->tensors.size(), 9u);
  EXPECT_EQ(again->metadata, cat->metadata);
  for (const auto& t : cat->tensors) {
    const TensorInfo* u = again->Find(t.name);
    ASSERT_NE(u, nullptr) << t.name;
    EXPECT_EQ(u->dtype, t.dtype);
    EXPECT_EQ(u->shape, t.shape);
    EXPECT_EQ(Data(*u), Data(t)) << t.name;
    EXPECT_EQ(u->offset % Info(u->dtype).block_bytes, 0u) << "rewritten data is aligned";
  }
}

// One corrupt file per error class, in the spirit of llama.cpp's tests/test-gguf.cpp.
struct CorruptCase {
  const char* label;
  std::vector<uint8_t> bytes;
  ErrorCode code;
  const char* message;  // a substring of the error message
  uint64_t offset;
  const char* field;  // "" when the error names no field
};

std::string Entry(const std::string& dtype, const std::string& shape, uint64_t b, uint64_t e) {
  return "{\"dtype\":\"" + dtype + "\",\"shape\":" + shape + ",\"data_offsets\":[" +
         std::to_string(b) + "," + std::to_string(e) + "]}";
}

std::vector<CorruptCase> CorruptCases() {
  std::vector<CorruptCase> c;
  const std::vector<uint8_t> four(4, 0);
  auto file = [](const std::string& h, std::vector<uint8_t> d) { return MakeFile(h, d); };
  const std::string a4 = "\"a\":" + Entry("F32", "[1]", 0, 4);
  const uint64_t base1 = 8 + ("{" + a4 + "}").size();  // data start with header {a4}

  c.push_back({"too small", {1, 2, 3, 4, 5}, ErrorCode::kMalformed, "too small", 0, ""});
  c.push_back({"header too large", MakeFile("{}", {}, 100'000'001), ErrorCode::kMalformed,
               "header too large", 0, "header length"});
  c.push_back({"header past end of file", MakeFile("{}", {}, 64), ErrorCode::kMalformed,
               "past end of file", 0, "header length"});
  c.push_back({"bad UTF-8", file("{\"a\xff\":{}}", {}), ErrorCode::kMalformed, "UTF-8", 11, ""});
  c.push_back({"surrogate UTF-8", file("{\"\xed\xa0\x80\":{}}", {}), ErrorCode::kMalformed, "UTF-8",
               10, ""});
  c.push_back({"bad JSON", file("{\"a\":", {}), ErrorCode::kMalformed, "invalid JSON", 13, ""});
  c.push_back(
      {"trailing JSON", file("{}\0\0"s, {}), ErrorCode::kMalformed, "invalid JSON", 10, ""});
  c.push_back({"not an object", file("[]", {}), ErrorCode::kMalformed, "JSON object", 8, ""});
  c.push_back({"entry not an object", file("{\"a\":5}", {}), ErrorCode::kMalformed,
               "must be a JSON object", 8, "a"});
  c.push_back({"missing dtype", file("{\"a\":{\"shape\":[],\"data_offsets\":[0,0]}}", {}),
               ErrorCode::kMalformed, "missing 'dtype'", 8, "a"});
  c.push_back({"negative dim", file("{\"a\":" + Entry("U8", "[-1]", 0, 0) + "}", {}),
               ErrorCode::kMalformed, "'shape'", 8, "a"});
  c.push_back({"float dim", file("{\"a\":" + Entry("U8", "[1.0]", 0, 1) + "}", {0}),
               ErrorCode::kMalformed, "'shape'", 8, "a"});
  c.push_back({"three offsets",
               file("{\"a\":{\"dtype\":\"U8\",\"shape\":[1],\"data_offsets\":[0,1,1]}}", {0}),
               ErrorCode::kMalformed, "[begin, end]", 8, "a"});
  c.push_back({"metadata not strings", file("{\"__metadata__\":{\"k\":1}}", {}),
               ErrorCode::kMalformed, "strings to strings", 8, "__metadata__"});
  c.push_back({"tensor named __metadata__",
               file("{\"__metadata__\":" + Entry("U8", "[1]", 0, 1) + "}", {0}),
               ErrorCode::kMalformed, "strings to strings", 8, "__metadata__"});
  c.push_back({"unknown dtype", file("{\"a\":" + Entry("F17", "[1]", 0, 4) + "}", four),
               ErrorCode::kMalformed, "unknown safetensors dtype", 8, "a"});
  c.push_back({"gap", file("{\"a\":" + Entry("F32", "[1]", 4, 8) + "}", std::vector<uint8_t>(8)),
               ErrorCode::kMalformed, "gap", base1, "a"});
  {
    std::string h = "{" + a4 + ",\"b\":" + Entry("F32", "[1]", 2, 6) + "}";
    c.push_back({"overlap", file(h, std::vector<uint8_t>(6)), ErrorCode::kMalformed, "overlaps",
                 8 + h.size() + 4, "b"});
  }
  {
    // Offsets [4, 0]: sorting puts it last; it begins where expected but ends before.
    std::string bad = "{" + a4 + ",\"z\":{\"dtype\":\"U8\",\"shape\":[0],\"data_offsets\":[4,0]}}";
    c.push_back({"end before begin", file(bad, four), ErrorCode::kMalformed, "ends before",
                 8 + bad.size() + 4, "z"});
  }
  c.push_back({"size mismatch", file("{\"a\":" + Entry("F32", "[2]", 0, 4) + "}", four),
               ErrorCode::kMalformed, "does not match its shape", base1, "a"});
  c.push_back({"trailing bytes", file("{" + a4 + "}", std::vector<uint8_t>(5)),
               ErrorCode::kMalformed, "trailing bytes", base1 + 4, ""});
  c.push_back({"data past end", file("{" + a4 + "}", std::vector<uint8_t>(3)),
               ErrorCode::kMalformed, "past end of file", base1 + 3, ""});
  c.push_back({"duplicate name", file("{" + a4 + "," + a4 + "}", four), ErrorCode::kMalformed,
               "duplicate", 8, "a"});
  c.push_back({"duplicate field",
               file("{\"a\":{\"dtype\":\"F32\",\"dtype\":\"F32\",\"shape\":[1],"
                    "\"data_offsets\":[0,4]}}",
                    four),
               ErrorCode::kMalformed, "duplicate", 8, "a.dtype"});
  c.push_back({"duplicate metadata key", file("{\"__metadata__\":{\"k\":\"1\",\"k\":\"2\"}}", {}),
               ErrorCode::kMalformed, "duplicate", 8, "__metadata__.k"});
  {
    std::string h = "{\"a\":" + Entry("U8", "[4294967296,4294967296]", 0, 0) + "}";
    c.push_back({"element count overflow", file(h, {}), ErrorCode::kMalformed, "overflows",
                 8 + h.size(), "a"});
    std::string h2 = "{\"a\":" + Entry("U64", "[4611686018427387904]", 0, 0) + "}";
    c.push_back({"bit size overflow", file(h2, {}), ErrorCode::kMalformed, "overflows",
                 8 + h2.size(), "a"});
    // Eight tensors of 2^61-1 bytes: each size is representable, their sum nearly 2^64, so
    // the last end plus the data start would wrap around.
    const uint64_t big = (uint64_t{1} << 61) - 1;
    std::string h3 = "{";
    for (uint64_t k = 0; k < 8; ++k)
      h3 += (k ? ",\"t" : "\"t") + std::to_string(k) +
            "\":" + Entry("U8", "[" + std::to_string(big) + "]", k * big, (k + 1) * big);
    h3 += "}";
    c.push_back({"offset overflow", file(h3, {}), ErrorCode::kMalformed, "past end of file",
                 8 + h3.size() + 7 * big, "t7"});
  }
  const std::string f4 = "{\"a\":" + Entry("F4", "[3]", 0, 2) + "}";
  c.push_back({"sub-byte misaligned", file(f4, {0, 0}), ErrorCode::kMalformed, "byte boundary",
               8 + f4.size(), "a"});
  c.push_back({"valid F4 is unsupported", file("{\"a\":" + Entry("F4", "[4]", 0, 2) + "}", {0, 0}),
               ErrorCode::kUnsupported, "not supported", 8, "a"});
  c.push_back({"valid C64 is unsupported",
               file("{\"a\":" + Entry("C64", "[1]", 0, 8) + "}", std::vector<uint8_t>(8)),
               ErrorCode::kUnsupported, "not supported", 8, "a"});
  return c;
}

TEST(Safetensors, EachCorruptionHasItsOwnClearError) {
  TempDir dir;
  int i = 0;
  for (const CorruptCase& c : CorruptCases()) {
    SCOPED_TRACE(c.label);
    const std::string path = dir / ("bad" + std::to_string(i++) + ".safetensors");
    test::WriteAll(path, c.bytes);
    auto r = ReadSafetensors(path);
    ASSERT_FALSE(r.ok());
    const Error& e = r.error();
    if (std::getenv("WG_SHOW_ERRORS")) std::printf("%-28s %s\n", c.label, e.ToString().c_str());
    EXPECT_EQ(e.code(), c.code) << e.ToString();
    EXPECT_NE(e.message().find(c.message), std::string::npos) << e.ToString();
    EXPECT_EQ(e.file(), path);
    EXPECT_EQ(e.offset(), c.offset) << e.ToString();
    if (*c.field) EXPECT_EQ(e.field(), c.field) << e.ToString();
  }
}

TEST(Safetensors, AcceptsWhatTheReferenceAccepts) {
  TempDir dir;
  // Any JSON order, surrounding whitespace, unknown members, a null __metadata__, empty
  // tensors sharing an offset.
  const std::string h = " \n{\"__metadata__\":null,\"b\":" + Entry("U8", "[2]", 4, 6) +
                        ",\"z\":" + Entry("BOOL", "[0,5]", 0, 0) + ",\"a\":{\"extra\":[1]," +
                        Entry("F32", "[]", 0, 4).substr(1) + ",\"y\":" + Entry("I8", "[0]", 0, 0) +
                        "} ";
  test::WriteAll(dir / "ok.safetensors", MakeFile(h, Pattern(6, 3)));
  auto cat = ReadSafetensors(dir / "ok.safetensors");
  ASSERT_TRUE(cat.ok()) << cat.error().ToString();
  std::vector<std::string> names;
  for (const auto& t : cat->tensors) names.push_back(t.name);
  EXPECT_EQ(names, (std::vector<std::string>{"z", "y", "a", "b"}));
  EXPECT_EQ(Data(*cat->Find("b")), (std::vector<uint8_t>{Pattern(6, 3)[4], Pattern(6, 3)[5]}));
  EXPECT_TRUE(cat->Find("a")->shape.empty());
  EXPECT_FALSE(cat->metadata.contains("__metadata__"));
}

std::vector<uint8_t> SmallValidFile() {
  TempDir dir;
  std::vector<TensorWriteSpec> specs;
  specs.push_back(Spec("w", DType::kF32, {2, 2}, Pattern(16, 5)));
  specs.push_back(Spec("b", DType::kU8, {3}, Pattern(3, 6)));
  specs.push_back(Spec("s", DType::kBF16, {}, Pattern(2, 7)));
  EXPECT_TRUE(WriteSafetensors(dir / "v.safetensors", {{"k", "v"}}, std::move(specs)).ok());
  return test::ReadAll(dir / "v.safetensors");
}

TEST(Safetensors, EveryTruncationIsAnErrorNeverACrash) {
  TempDir dir;
  const std::vector<uint8_t> full = SmallValidFile();
  ASSERT_GT(full.size(), 100u);
  const std::string path = dir / "t.safetensors";
  for (size_t len = 0; len < full.size(); ++len) {
    test::WriteAll(path, std::vector<uint8_t>(full.begin(), full.begin() + len));
    auto r = ReadSafetensors(path);
    ASSERT_FALSE(r.ok()) << "prefix of " << len << " bytes parsed";
    EXPECT_EQ(r.error().file(), path);
    EXPECT_TRUE(r.error().offset().has_value()) << r.error().ToString();
  }
  test::WriteAll(path, full);
  EXPECT_TRUE(ReadSafetensors(path).ok());
}

TEST(Safetensors, RandomBitFlipsInTheHeaderNeverCrash) {
  TempDir dir;
  const std::vector<uint8_t> full = SmallValidFile();
  uint64_t header_len;
  std::memcpy(&header_len, full.data(), 8);
  const std::string path = dir / "f.safetensors";
  std::mt19937 rng(1234);
  int parsed = 0;
  for (int iter = 0; iter < 3000; ++iter) {
    std::vector<uint8_t> b = full;
    int flips = 1 + static_cast<int>(rng() % 3);
    for (int k = 0; k < flips; ++k) {
      size_t pos = rng() % (8 + header_len);
      b[pos] ^= static_cast<uint8_t>(1u << (rng() % 8));
    }
    test::WriteAll(path, b);
    auto r = ReadSafetensors(path);
    if (r.ok()) {
      ++parsed;
      for (const auto& t : r->tensors) ASSERT_LE(t.offset + t.nbytes, b.size());
    } else {
      EXPECT_EQ(r.error().file(), path);
      EXPECT_FALSE(r.error().message().empty());
    }
  }
  // Flips inside names or metadata values leave a valid file; most flips do not.
  EXPECT_GT(parsed, 0);
  EXPECT_LT(parsed, 3000);
}

// A file system whose files fail once `budget` bytes have been appended, to prove an I/O
// failure mid-write leaves nothing behind.
class FailingFileSystem : public FileSystemWrapper {
 public:
  explicit FailingFileSystem(uint64_t budget)
      : FileSystemWrapper(FileSystem::Default()), budget_(budget) {}
  Result<std::unique_ptr<WritableFile>> NewWritableFile(
      const std::string& path, const WritableFileOptions& options = {}) override {
    WG_ASSIGN_OR_RETURN(auto f, target().NewWritableFile(path, options));
    return std::unique_ptr<WritableFile>(new Failing(std::move(f), budget_));
  }

 private:
  struct Failing : WritableFile {
    Failing(std::unique_ptr<WritableFile> f, uint64_t budget) : f(std::move(f)), budget(budget) {}
    Status Append(Bytes data) override {
      if (f->Size() + data.size() > budget) return Error::Io("No space left on device (injected)");
      return f->Append(data);
    }
    Status WriteAt(uint64_t at, wg::Bytes data) override {
      if (at + data.size() > budget) return Error::Io("No space left on device (injected)");
      return f->WriteAt(at, data);
    }
    Status Truncate(uint64_t size) override { return f->Truncate(size); }
    Result<bool> CloneFrom(const std::string&) override { return false; }
    Status Sync() override { return f->Sync(); }
    Status Close() override { return f->Close(); }
    uint64_t Size() const override { return f->Size(); }
    std::unique_ptr<WritableFile> f;
    uint64_t budget;
  };
  uint64_t budget_;
};

TEST(Safetensors, WriterFailuresLeaveNoFile) {
  TempDir dir;
  const std::string path = dir / "out.safetensors";
  auto write = [&](std::vector<TensorWriteSpec> specs) {
    return WriteSafetensors(path, {}, std::move(specs));
  };
  auto one = [](TensorWriteSpec s) {
    std::vector<TensorWriteSpec> v;
    v.push_back(std::move(s));
    return v;
  };

  TensorWriteSpec failing = Spec("x", DType::kF32, {4}, Pattern(16, 1));
  failing.produce = [](const ByteSink& sink) -> Status {
    uint8_t b[8] = {};
    WG_TRY(sink(Bytes(b, 8)));
    return Error::Io("source vanished");
  };
  TensorWriteSpec short_spec = Spec("x", DType::kF32, {4}, Pattern(16, 1));
  short_spec.produce = [](const ByteSink& sink) { return sink(Bytes(Pattern(12, 1))); };
  TensorWriteSpec long_spec = Spec("x", DType::kF32, {4}, Pattern(16, 1));
  long_spec.produce = [](const ByteSink& sink) { return sink(Bytes(Pattern(20, 1))); };
  TensorWriteSpec wrong_nbytes = Spec("x", DType::kF32, {5}, Pattern(16, 1));
  TensorWriteSpec quantized = Spec("x", DType::kQ8_0, {32}, Pattern(34, 1));
  TensorWriteSpec reserved = Spec("__metadata__", DType::kU8, {1}, {0});
  std::vector<TensorWriteSpec> dup;
  dup.push_back(Spec("same", DType::kU8, {1}, {0}));
  dup.push_back(Spec("same", DType::kF32, {1}, Pattern(4, 2)));

  struct Case {
    const char* label;
    Status status;
    ErrorCode code;
  };
  std::vector<Case> cases;
  cases.push_back({"producer error", write(one(failing)), ErrorCode::kIo});
  cases.push_back({"too few bytes", write(one(short_spec)), ErrorCode::kMismatch});
  cases.push_back({"too many bytes", write(one(long_spec)), ErrorCode::kMismatch});
  cases.push_back({"nbytes mismatch", write(one(wrong_nbytes)), ErrorCode::kUsage});
  cases.push_back({"quantized dtype", write(one(quantized)), ErrorCode::kUnsupported});
  cases.push_back({"__metadata__ name", write(one(reserved)), ErrorCode::kUsage});
  cases.push_back({"duplicate names", write(std::move(dup)), ErrorCode::kUsage});
  cases.push_back(
      {"invalid UTF-8 name", write(one(Spec("\xc3", DType::kU8, {1}, {0}))), ErrorCode::kUsage});
  {
    FailingFileSystem full_disk(100);
    FileSystem::SetDefaultForTesting(&full_disk);
    cases.push_back(
        {"disk full", write(one(Spec("x", DType::kF32, {64}, Pattern(256, 1)))), ErrorCode::kIo});
    FileSystem::SetDefaultForTesting(nullptr);
  }
  for (const Case& c : cases) {
    SCOPED_TRACE(c.label);
    ASSERT_FALSE(c.status.ok());
    EXPECT_EQ(c.status.error().code(), c.code) << c.status.error().ToString();
    EXPECT_EQ(c.status.error().file(), path) << c.status.error().ToString();
    EXPECT_TRUE(test::DirIsEmpty(dir.path())) << "output left behind";
  }
}

// Two shards and an index as transformers' save_pretrained lays them out.
struct ShardedModel {
  TempDir dir;
  std::string index;
  ShardedModel() : index(dir / "model.safetensors.index.json") {
    std::vector<TensorWriteSpec> one, two;
    one.push_back(Spec("embed", DType::kF32, {2, 2}, Pattern(16, 1)));
    one.push_back(Spec("layer.0", DType::kF16, {4}, Pattern(8, 2)));
    two.push_back(Spec("layer.1", DType::kF16, {4}, Pattern(8, 3)));
    two.push_back(Spec("lm_head", DType::kBF16, {2}, Pattern(4, 4)));
    EXPECT_TRUE(WriteSafetensors(dir / "model-00001-of-00002.safetensors", {{"format", "pt"}},
                                 std::move(one))
                    .ok());
    EXPECT_TRUE(WriteSafetensors(dir / "model-00002-of-00002.safetensors", {{"format", "pt"}},
                                 std::move(two))
                    .ok());
  }
  void WriteIndex(const std::map<std::string, std::string>& weight_map) {
    nlohmann::ordered_json j = {{"metadata", {{"total_size", 36}}}, {"weight_map", weight_map}};
    test::WriteText(index, j.dump(2));
  }
  std::map<std::string, std::string> GoodMap() const {
    return {{"embed", "model-00001-of-00002.safetensors"},
            {"layer.0", "model-00001-of-00002.safetensors"},
            {"layer.1", "model-00002-of-00002.safetensors"},
            {"lm_head", "model-00002-of-00002.safetensors"}};
  }
};

TEST(SafetensorsIndex, ReadsShardsAsOneCatalogue) {
  ShardedModel m;
  m.WriteIndex(m.GoodMap());
  auto cat = ReadSafetensorsIndex(m.index);
  ASSERT_TRUE(cat.ok()) << cat.error().ToString();
  std::vector<std::string> names;
  for (const auto& t : cat->tensors) names.push_back(t.name);
  EXPECT_EQ(names, (std::vector<std::string>{"embed", "layer.0", "lm_head", "layer.1"}));
  EXPECT_EQ(cat->files,
            (std::vector<std::string>{m.index, m.dir / "model-00001-of-00002.safetensors",
                                      m.dir / "model-00002-of-00002.safetensors"}));
  EXPECT_EQ(cat->metadata["metadata"]["total_size"], 36);
  EXPECT_EQ(cat->metadata["__metadata__"]["format"], "pt");
  EXPECT_EQ(Data(*cat->Find("lm_head")), Pattern(4, 4));
  EXPECT_EQ(cat->Find("layer.1")->file->path(), m.dir / "model-00002-of-00002.safetensors");
  EXPECT_EQ(cat->TotalBytes(), 36u);
}

TEST(SafetensorsIndex, RefusesIndexesThatDisagreeWithTheirShards) {
  ShardedModel m;
  struct Case {
    const char* label;
    std::map<std::string, std::string> map;
    ErrorCode code;
    const char* message;
  };
  auto with = [&](const std::string& tensor, const std::string& shard) {
    auto map = m.GoodMap();
    map[tensor] = shard;
    return map;
  };
  auto without = [&](const std::string& tensor) {
    auto map = m.GoodMap();
    map.erase(tensor);
    return map;
  };
  const std::vector<Case> cases = {
      {"missing shard", with("ghost", "model-00003-of-00002.safetensors"), ErrorCode::kIo,
       "cannot open"},
      {"wrong shard", with("embed", "model-00002-of-00002.safetensors"), ErrorCode::kMismatch,
       "different shard"},
      {"tensor absent from its shard", with("lm_head", "model-00001-of-00002.safetensors"),
       ErrorCode::kMismatch, "does not hold"},
      {"tensor not in index", without("layer.1"), ErrorCode::kMismatch, "does not list"},
      {"tensor not in shard", with("ghost", "model-00002-of-00002.safetensors"),
       ErrorCode::kMismatch, "does not hold"},
      {"parent traversal", with("lm_head", "../model-00002-of-00002.safetensors"),
       ErrorCode::kUnsafe, "leave the index's folder"},
      {"inner traversal", with("lm_head", "sub/../../x.safetensors"), ErrorCode::kUnsafe,
       "leave the index's folder"},
      {"absolute path", with("lm_head", "/etc/passwd"), ErrorCode::kUnsafe,
       "leave the index's folder"},
      {"backslash", with("lm_head", "..\\x.safetensors"), ErrorCode::kUnsafe,
       "leave the index's folder"},
  };
  for (const Case& c : cases) {
    SCOPED_TRACE(c.label);
    m.WriteIndex(c.map);
    auto r = ReadSafetensorsIndex(m.index);
    ASSERT_FALSE(r.ok());
    EXPECT_EQ(r.error().code(), c.code) << r.error().ToString();
    EXPECT_NE(r.error().message().find(c.message), std::string::npos) << r.error().ToString();
    EXPECT_TRUE(r.error().file().has_value());
    EXPECT_TRUE(r.error().field().has_value() || c.code == ErrorCode::kIo) << r.error().ToString();
  }

  test::WriteText(m.index, "{\"weight_map\":{\"a\":\"x\",\"a\":\"y\"}}");
  auto dup = ReadSafetensorsIndex(m.index);
  ASSERT_FALSE(dup.ok());
  EXPECT_NE(dup.error().message().find("duplicate"), std::string::npos);
  test::WriteText(m.index, "{\"metadata\":{}}");
  EXPECT_FALSE(ReadSafetensorsIndex(m.index).ok());
}

}  // namespace
}  // namespace wg
