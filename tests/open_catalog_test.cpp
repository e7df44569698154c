// DetectFormat / OpenCatalog: every kind of path a user may name reaches the right reader.
#include <gtest/gtest.h>
#include <sys/wait.h>

#include <cstdio>
#include <cstring>
#include <filesystem>
#include <random>

#include "support/test_util.h"
#include "weightgate/formats/gguf.h"
#include "weightgate/formats/safetensors.h"
#include "weightgate/formats/tensor_catalog.h"

namespace wg {
namespace {

namespace fs = std::filesystem;

const std::string kBin = test::TestData("models/stories260K/stories260K.bin");
const std::string kTok = test::TestData("models/stories260K/tok512.bin");
const std::string kGguf = test::TestData("models/stories260K-gguf/stories260K.gguf");
const std::string kSt = test::TestData("third_party/safetensors/overall.safetensors");

TensorWriteSpec Spec(const std::string& name, std::vector<uint8_t> bytes) {
  TensorWriteSpec s;
  s.name = name;
  s.dtype = DType::kU8;
  s.shape = {bytes.size()};
  s.nbytes = bytes.size();
  s.produce = [bytes](const ByteSink& sink) { return sink(Bytes(bytes.data(), bytes.size())); };
  return s;
}

TEST(DetectFormat, RealFiles) {
  EXPECT_EQ(DetectFormat(kBin), Format::kLlama2c);
  EXPECT_EQ(DetectFormat(kGguf), Format::kGguf);
  EXPECT_EQ(DetectFormat(kSt), Format::kSafetensors);
  EXPECT_EQ(DetectFormat(kTok), std::nullopt) << "a tokenizer is not a model";
  EXPECT_EQ(DetectFormat(test::TestData("models/stories260K/expected_greedy.json")), std::nullopt);
  EXPECT_EQ(DetectFormat(test::TestData("models/stories260K")), Format::kLlama2c);
  EXPECT_EQ(DetectFormat(test::TestData("models/stories260K-gguf")), Format::kGguf);
  EXPECT_EQ(DetectFormat("/nonexistent/file.safetensors"), std::nullopt);
}

TEST(DetectFormat, ByContentNotName) {
  test::TempDir dir;
  fs::copy_file(kGguf, dir / "model.safetensors");
  EXPECT_EQ(DetectFormat(dir / "model.safetensors"), Format::kGguf);
  // Pickles: PROTO 2..5, or an old protocol with a pickle extension. Never executed.
  test::WriteAll(dir / "a.pkl", {0x80, 0x04, 0x95, 0, 0, 0, 0, 0, 0, 0, 0, '.'});
  EXPECT_EQ(DetectFormat(dir / "a.pkl"), Format::kPyTorch);
  test::WriteText(dir / "old.pt", "cos\nsystem\n(S'true'\ntR.");
  EXPECT_EQ(DetectFormat(dir / "old.pt"), Format::kPyTorch);
  test::WriteText(dir / "old.txt", "cos\nsystem\n(S'true'\ntR.");
  EXPECT_EQ(DetectFormat(dir / "old.txt"), std::nullopt);
  test::WriteText(dir / "zip.pt", std::string("PK\x03\x04", 4) + "rest");
  EXPECT_EQ(DetectFormat(dir / "zip.pt"), Format::kPyTorch);
  test::WriteAll(dir / "empty.bin", {});
  EXPECT_EQ(DetectFormat(dir / "empty.bin"), std::nullopt);
}

// dim = 640 makes a legacy llama2.c file begin 80 02 00 00, a pickle's PROTO 2: the
// exact-size test must win.
TEST(DetectFormat, Llama2cThatStartsLikeAPickle) {
  test::TempDir dir;
  const int32_t cfg[7] = {640, 2, 1, 320, 320, 2, 1};
  const uint64_t D = 640, H = 2, V = 2;
  const uint64_t floats = V * D + D + 4 * D * D + D + 3 * H * D + D + 2 * 1 * 1;
  std::vector<uint8_t> b(28 + 4 * floats, 0);
  std::memcpy(b.data(), cfg, sizeof cfg);
  ASSERT_EQ(b[0], 0x80);
  ASSERT_EQ(b[1], 0x02);
  test::WriteAll(dir / "model.bin", b);
  EXPECT_EQ(DetectFormat(dir / "model.bin"), Format::kLlama2c);
  auto cat = OpenCatalog(dir / "model.bin");
  ASSERT_TRUE(cat.ok()) << cat.error().ToString();
  EXPECT_EQ(cat->metadata["dim"], 640);
  b.push_back(0);  // one byte more: no longer llama2.c, so a (broken) pickle
  test::WriteAll(dir / "model.bin", b);
  EXPECT_EQ(DetectFormat(dir / "model.bin"), Format::kPyTorch);
}

TEST(OpenCatalog, EachReader) {
  auto l2c = OpenCatalog(kBin);
  ASSERT_TRUE(l2c.ok()) << l2c.error().ToString();
  EXPECT_EQ(l2c->format, Format::kLlama2c);
  EXPECT_EQ(l2c->tensors.size(), 47u);
  EXPECT_EQ(l2c->files.size(), 2u) << "tokenizer found beside";
  auto no_tok = OpenCatalog(kBin, {.tokenizer = "-"});
  ASSERT_TRUE(no_tok.ok());
  EXPECT_EQ(no_tok->files.size(), 1u);

  auto gguf = OpenCatalog(kGguf);
  ASSERT_TRUE(gguf.ok()) << gguf.error().ToString();
  EXPECT_EQ(gguf->format, Format::kGguf);
  EXPECT_EQ(gguf->tensors.size(), 48u);

  auto st = OpenCatalog(kSt);
  ASSERT_TRUE(st.ok()) << st.error().ToString();
  EXPECT_EQ(st->format, Format::kSafetensors);
  EXPECT_EQ(st->tensors.size(), 9u);
  EXPECT_EQ(st->metadata["__metadata__"]["test"], "a");
}

TEST(OpenCatalog, Folders) {
  // Sharded safetensors: the index in the folder wins.
  test::TempDir dir;
  ASSERT_TRUE(WriteSafetensors(dir / "model-00001-of-00002.safetensors", {},
                               [] {
                                 std::vector<TensorWriteSpec> v;
                                 v.push_back(Spec("a", {1, 2, 3}));
                                 return v;
                               }())
                  .ok());
  ASSERT_TRUE(WriteSafetensors(dir / "model-00002-of-00002.safetensors", {},
                               [] {
                                 std::vector<TensorWriteSpec> v;
                                 v.push_back(Spec("b", {4}));
                                 return v;
                               }())
                  .ok());
  auto several = OpenCatalog(dir.path().string());
  ASSERT_FALSE(several.ok()) << "two shards and no index";
  EXPECT_NE(several.error().message().find("index"), std::string::npos);
  test::WriteText(dir / "model.safetensors.index.json",
                  R"({"metadata": {}, "weight_map": {"a": "model-00001-of-00002.safetensors",
                      "b": "model-00002-of-00002.safetensors"}})");
  EXPECT_EQ(DetectFormat(dir.path().string()), Format::kSafetensors);
  auto cat = OpenCatalog(dir.path().string());
  ASSERT_TRUE(cat.ok()) << cat.error().ToString();
  EXPECT_EQ(cat->tensors.size(), 2u);
  EXPECT_EQ(cat->files.size(), 3u);
  auto by_index = OpenCatalog(dir / "model.safetensors.index.json");
  ASSERT_TRUE(by_index.ok());
  EXPECT_EQ(by_index->tensors.size(), 2u);

  // One safetensors file, one llama2.c checkpoint (with its tokenizer), nothing at all.
  test::TempDir one;
  fs::copy_file(kSt, one / "model.safetensors");
  auto st = OpenCatalog(one.path().string());
  ASSERT_TRUE(st.ok()) << st.error().ToString();
  EXPECT_EQ(st->format, Format::kSafetensors);

  auto l2c = OpenCatalog(test::TestData("models/stories260K"));
  ASSERT_TRUE(l2c.ok()) << l2c.error().ToString();
  EXPECT_EQ(l2c->format, Format::kLlama2c);
  EXPECT_EQ(l2c->files.size(), 2u);

  test::TempDir empty;
  test::WriteText(empty / "README.md", "hello");
  auto none = OpenCatalog(empty.path().string());
  ASSERT_FALSE(none.ok());
  EXPECT_EQ(none.error().code(), ErrorCode::kUsage);
  EXPECT_EQ(none.error().file().value_or(""), empty.path().string());
}

TEST(OpenCatalog, ErrorsNameTheFile) {
  test::TempDir dir;
  auto missing = OpenCatalog(dir / "absent.gguf");
  ASSERT_FALSE(missing.ok());
  EXPECT_EQ(missing.error().code(), ErrorCode::kIo);

  // A damaged llama2.c checkpoint: the llama2.c reader says what is wrong.
  auto b = test::ReadAll(kBin);
  b.pop_back();
  test::WriteAll(dir / "model.bin", b);
  auto damaged = OpenCatalog(dir / "model.bin");
  ASSERT_FALSE(damaged.ok());
  EXPECT_EQ(damaged.error().code(), ErrorCode::kMalformed);
  EXPECT_EQ(damaged.error().file().value_or(""), dir / "model.bin");
  EXPECT_EQ(damaged.error().field().value_or(""), "file size") << damaged.error().ToString();
  EXPECT_EQ(damaged.error().offset().value_or(0), b.size());

  test::WriteText(dir / "notes.txt", "just text");
  auto text = OpenCatalog(dir / "notes.txt");
  ASSERT_FALSE(text.ok());
  EXPECT_EQ(text.error().code(), ErrorCode::kUnsupported);
  EXPECT_EQ(text.error().file().value_or(""), dir / "notes.txt");

  // A malicious bare pickle is refused by the import it names, never executed.
  test::WriteText(dir / "evil.pkl", "cos\nsystem\n(S'touch " + (dir / "PWNED") + "'\ntR.");
  auto evil = OpenCatalog(dir / "evil.pkl");
  ASSERT_FALSE(evil.ok());
  EXPECT_EQ(evil.error().code(), ErrorCode::kUnsafe) << evil.error().ToString();
  EXPECT_NE(evil.error().message().find("os.system"), std::string::npos);
  EXPECT_FALSE(fs::exists(dir / "PWNED"));
}

// Truncations and bit flips of every real file: detection and opening return a value
// (a catalogue or an error naming the file), never crash, never hang.
TEST(OpenCatalog, DamagedFilesNeverCrash) {
  test::TempDir dir;
  std::mt19937 rng(7);
  for (const std::string& src : {kBin, kGguf, kSt, kTok}) {
    const auto good = test::ReadAll(src);
    const std::string name = fs::path(src).filename().string();
    const std::string path = dir / name;
    std::vector<std::vector<uint8_t>> variants;
    for (uint64_t cut :
         {uint64_t(0), uint64_t(1), uint64_t(8), uint64_t(9), uint64_t(27), uint64_t(28),
          uint64_t(64), uint64_t(300), good.size() / 2, good.size() - 1})
      if (cut < good.size()) variants.emplace_back(good.begin(), good.begin() + cut);
    for (int i = 0; i < 40; ++i) {
      auto b = good;
      const uint64_t at = rng() % std::min<uint64_t>(b.size(), 4096);  // headers live early
      b[at] ^= uint8_t(1u << (rng() % 8));
      variants.push_back(std::move(b));
    }
    for (const auto& v : variants) {
      test::WriteAll(path, v);
      (void)DetectFormat(path);
      auto cat = OpenCatalog(path, {.tokenizer = "-"});
      if (!cat.ok()) {
        EXPECT_EQ(cat.error().file().value_or(""), path) << cat.error().ToString();
        continue;
      }
      for (const TensorInfo& t : cat->tensors)
        ASSERT_LE(t.offset + t.nbytes, t.file->size()) << name << " " << t.name;
    }
  }
}

std::string RunCommand(const std::string& cmd, int* status) {
  std::string out;
  FILE* p = ::popen((cmd + " 2>&1").c_str(), "r");
  if (!p) return *status = -1, out;
  char buf[4096];
  size_t n;
  while ((n = std::fread(buf, 1, sizeof buf, p)) > 0) out.append(buf, n);
  *status = ::pclose(p);
  return out;
}

// pytorch_model-0000N-of-0000M.bin shards, as transformers writes them, read as one.
TEST(OpenCatalog, PyTorchShards) {
  test::TempDir dir;
  int status = 0;
  std::string log = RunCommand(std::string(WG_PYTHON) +
                                   " -c \"import sys\ntry:\n import torch\nexcept ImportError:\n "
                                   "sys.exit(77)\nd=sys.argv[1]\n"
                                   "torch.save({'a': torch.arange(4, dtype=torch.float32)}, "
                                   "d+'/pytorch_model-00001-of-00002.bin')\n"
                                   "torch.save({'b': torch.ones(2, 3, dtype=torch.float16)}, "
                                   "d+'/pytorch_model-00002-of-00002.bin')\" " +
                                   dir.path().string(),
                               &status);
  const int rc = WIFEXITED(status) ? WEXITSTATUS(status) : -1;
  if (rc == 77 || rc == 127) GTEST_SKIP() << "no torch: " << log;
  ASSERT_EQ(rc, 0) << log;
  EXPECT_EQ(DetectFormat(dir.path().string()), Format::kPyTorch);
  auto cat = OpenCatalog(dir.path().string());
  ASSERT_TRUE(cat.ok()) << cat.error().ToString();
  ASSERT_EQ(cat->tensors.size(), 2u);
  EXPECT_EQ(cat->tensors[0].name, "a");
  EXPECT_EQ(cat->tensors[1].shape, (std::vector<uint64_t>{2, 3}));
  EXPECT_EQ(cat->files.size(), 2u);

  test::WriteText(dir / "pytorch_model.bin.index.json",
                  R"({"weight_map": {"a": "pytorch_model-00001-of-00002.bin",
                                     "b": "pytorch_model-00002-of-00002.bin"}})");
  auto by_index = OpenCatalog(dir / "pytorch_model.bin.index.json");
  ASSERT_TRUE(by_index.ok()) << by_index.error().ToString();
  EXPECT_EQ(by_index->tensors.size(), 2u);
  EXPECT_EQ(by_index->files.size(), 3u);
  test::WriteText(dir / "pytorch_model.bin.index.json",
                  R"({"weight_map": {"a": "../elsewhere.bin"}})");
  auto escape = OpenCatalog(dir / "pytorch_model.bin.index.json");
  ASSERT_FALSE(escape.ok());
  EXPECT_EQ(escape.error().code(), ErrorCode::kMalformed);
}

}  // namespace
}  // namespace wg
