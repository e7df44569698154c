// `weightgate inspect` and `weightgate scan`, run as a user runs them (the built binary),
// on the real stories260K checkpoint and GGUF, the reference safetensors sample, and
// malicious pickles (hand-written, and the PyTorch fixtures when torch is there). The
// JSON output is parsed and asserted; nothing a pickle names is ever run.
#include <gtest/gtest.h>
#include <sys/wait.h>

#include <cstdio>
#include <filesystem>
#include <nlohmann/json.hpp>

#include "support/test_util.h"
#include "weightgate/formats/gguf.h"
#include "weightgate/formats/safetensors.h"

namespace wg {
namespace {

using nlohmann::json;
namespace fs = std::filesystem;
using test::RunCli;

const std::string kBin = test::TestData("models/stories260K/stories260K.bin");
const std::string kTok = test::TestData("models/stories260K/tok512.bin");
const std::string kGguf = test::TestData("models/stories260K-gguf/stories260K.gguf");
const std::string kSt = test::TestData("third_party/safetensors/overall.safetensors");

// Runs the binary and parses stdout as exactly one JSON document.
json RunJson(const std::vector<std::string>& args, int expected_exit) {
  test::CliResult r = RunCli(args);
  EXPECT_EQ(r.exit_code, expected_exit) << r.err << r.out;
  json j = json::parse(r.out, nullptr, false);
  EXPECT_FALSE(j.is_discarded()) << "stdout is not one JSON document:\n" << r.out;
  return j;
}

TensorWriteSpec U8Tensor(const std::string& name, std::vector<uint8_t> bytes) {
  TensorWriteSpec s;
  s.name = name;
  s.dtype = DType::kU8;
  s.shape = {bytes.size()};
  s.nbytes = bytes.size();
  s.produce = [bytes](const ByteSink& sink) { return sink(Bytes(bytes.data(), bytes.size())); };
  return s;
}

TEST(CliInspect, Llama2cJson) {
  json j = RunJson({"inspect", kBin, "--json"}, 0);
  EXPECT_EQ(j["format"], "llama2c");
  EXPECT_EQ(j["tensor_count"], 47);
  EXPECT_EQ(j["parameters"], 260032);
  EXPECT_EQ(j["total_bytes"], 260032 * 4);
  ASSERT_EQ(j["files"].size(), 2u);
  EXPECT_EQ(j["files"][0]["bytes"], 1056540);
  EXPECT_EQ(fs::path(j["files"][1]["path"].get<std::string>()).filename(), "tok512.bin");
  EXPECT_EQ(j["files"][1]["bytes"], 6227);
  EXPECT_EQ(j["dtypes"]["F32"], 47);
  const json& m = j["metadata"];
  EXPECT_EQ(m["dim"], 64);
  EXPECT_EQ(m["hidden_dim"], 172);
  EXPECT_EQ(m["n_layers"], 5);
  EXPECT_EQ(m["n_heads"], 8);
  EXPECT_EQ(m["n_kv_heads"], 4);
  EXPECT_EQ(m["vocab_size"], 512);
  EXPECT_EQ(m["seq_len"], 512);
  EXPECT_EQ(m["tokenizer"]["entries"], 512);
  EXPECT_EQ(m["tokenizer"]["max_token_length"], 7);
  ASSERT_EQ(j["tensors"].size(), 47u);
  const json& t0 = j["tensors"][0];
  EXPECT_EQ(t0["name"], "token_embd.weight");
  EXPECT_EQ(t0["dtype"], "F32");
  EXPECT_EQ(t0["shape"], json::array({512, 64}));
  EXPECT_EQ(t0["offset"], 28);
  EXPECT_EQ(t0["bytes"], 131072);
  EXPECT_EQ(t0["file"], 0);
  EXPECT_EQ(j["tensors"][46]["name"], "output_norm.weight");
  EXPECT_TRUE(j["licence"]["fields"].empty());
  EXPECT_FALSE(j["licence"].contains("files"));

  // --tokenizer - : the checkpoint alone.
  json alone = RunJson({"inspect", kBin, "--json", "--tokenizer", "-"}, 0);
  EXPECT_EQ(alone["files"].size(), 1u);
}

TEST(CliInspect, Llama2cHumanTable) {
  test::CliResult r = RunCli({"inspect", kBin});
  ASSERT_EQ(r.exit_code, 0) << r.err;
  EXPECT_NE(r.out.find("llama2c, 47 tensors, 260,032 parameters"), std::string::npos) << r.out;
  EXPECT_NE(r.out.find("blk.{0-4}.attn_q.weight"), std::string::npos) << r.out;
  EXPECT_NE(r.out.find("[172, 64]  x5"), std::string::npos) << r.out;
  EXPECT_NE(r.out.find("licence: none found"), std::string::npos) << r.out;
  EXPECT_EQ(r.out.find("blk.3.attn_q.weight"), std::string::npos) << "layers are folded";
}

TEST(CliInspect, GgufJsonAndLicence) {
  json j = RunJson({"inspect", kGguf, "--json"}, 0);
  EXPECT_EQ(j["format"], "gguf");
  EXPECT_EQ(j["tensor_count"], 48);
  EXPECT_EQ(j["parameters"], 260032 + 512 * 64) << "plus output.weight";
  EXPECT_EQ(j["metadata"]["general.architecture"], "llama");
  EXPECT_EQ(j["metadata"]["llama.block_count"], 5);
  // 512 tokens: summarized, not listed.
  EXPECT_EQ(j["metadata"]["tokenizer.ggml.tokens"]["count"], 512);
  bool found = false;
  for (const json& t : j["tensors"])
    if (t["name"] == "blk.0.ffn_down.weight") {
      found = true;
      EXPECT_EQ(t["shape"], json::array({64, 172}));
    }
  EXPECT_TRUE(found);

  test::TempDir dir;
  std::vector<TensorWriteSpec> specs;
  specs.push_back(U8Tensor("x", {0, 0, 128, 63}));  // one F32 1.0
  specs.back().dtype = DType::kF32;
  specs.back().shape = {1};
  Status written = WriteGguf(dir / "lic.gguf",
                             {{"general.architecture", GgufValue::String("llama")},
                              {"general.license", GgufValue::String("mit")},
                              {"general.license.link", GgufValue::String("https://example.org/l")}},
                             std::move(specs));
  ASSERT_TRUE(written.ok()) << written.error().ToString();
  json lic = RunJson({"inspect", dir / "lic.gguf", "--json"}, 0)["licence"];
  EXPECT_EQ(lic["fields"]["general.license"], "mit");
  EXPECT_EQ(lic["fields"]["general.license.link"], "https://example.org/l");
  test::CliResult human = RunCli({"inspect", dir / "lic.gguf"});
  EXPECT_NE(human.out.find("general.license: mit"), std::string::npos) << human.out;
}

TEST(CliInspect, SafetensorsMetadataAndLicenceBeside) {
  json j = RunJson({"inspect", kSt, "--json"}, 0);
  EXPECT_EQ(j["format"], "safetensors");
  EXPECT_EQ(j["tensor_count"], 9);
  EXPECT_EQ(j["parameters"], 54);
  EXPECT_EQ(j["metadata"]["__metadata__"]["test"], "a");
  EXPECT_EQ(j["dtypes"]["F64"], 1);

  test::TempDir dir;
  std::vector<TensorWriteSpec> specs;
  specs.push_back(U8Tensor("w", {9, 9}));
  ASSERT_TRUE(WriteSafetensors(dir / "model.safetensors",
                               {{"format", "pt"}, {"license", "apache-2.0"}}, std::move(specs))
                  .ok());
  test::WriteText(dir / "LICENSE", "\n   MIT License\n\nCopyright (c) 2026 someone\n");
  test::WriteText(dir / "README.md",
                  "---\nlanguage: en\nlicense: other\nlicense_name: \"acme-1.0\"\n"
                  "license_link: LICENSE\n---\n# Model\nlicense: not front matter\n");
  // By file and by folder: the same licence information.
  for (const std::string& path : {dir / "model.safetensors", dir.path().string()}) {
    json lic = RunJson({"inspect", path, "--json"}, 0)["licence"];
    EXPECT_EQ(lic["fields"]["__metadata__.license"], "apache-2.0") << lic.dump();
    ASSERT_EQ(lic["files"].size(), 1u) << lic.dump();
    EXPECT_EQ(lic["files"][0]["first_line"], "MIT License");
    EXPECT_EQ(
        lic["model_card"],
        json({{"license", "other"}, {"license_name", "acme-1.0"}, {"license_link", "LICENSE"}}));
  }
}

TEST(CliInspect, ErrorsAndHelp) {
  test::TempDir dir;
  auto b = test::ReadAll(kGguf);
  b.resize(b.size() / 2);
  test::WriteAll(dir / "half.gguf", b);
  test::CliResult r = RunCli({"inspect", dir / "half.gguf", "--json"});
  EXPECT_EQ(r.exit_code, 2) << r.err;
  EXPECT_EQ(r.err.rfind("weightgate: error: " + (dir / "half.gguf"), 0), 0u) << r.err;
  EXPECT_TRUE(r.out.empty()) << "no JSON on failure";

  r = RunCli({"inspect", dir / "absent.bin"});
  EXPECT_EQ(r.exit_code, 8) << r.err;

  for (const char* verb : {"inspect", "scan"}) {
    r = RunCli({verb, "--help"});
    EXPECT_EQ(r.exit_code, 0);
    EXPECT_NE(r.out.find("Example"), std::string::npos) << verb << ":\n" << r.out;
    EXPECT_NE(r.out.find(std::string("weightgate ") + verb + " "), std::string::npos) << r.out;
  }
  r = RunCli({"inspect"});
  EXPECT_EQ(r.exit_code, 2);
}

// --- scan ---

TEST(CliScan, CleanFiles) {
  for (const std::string& path : {kBin, kGguf, kSt}) {
    json j = RunJson({"scan", path, "--json"}, 0);
    EXPECT_TRUE(j["clean"]) << j.dump(1);
    ASSERT_EQ(j["files"].size(), 1u);
    EXPECT_EQ(j["files"][0]["status"], "ok");
    EXPECT_TRUE(j["files"][0]["problems"].empty());
    EXPECT_FALSE(j["files"][0].contains("pickle"));
  }
  json l2c = RunJson({"scan", kBin, "--json"}, 0);
  EXPECT_EQ(l2c["files"][0]["format"], "llama2c");
  EXPECT_EQ(l2c["files"][0]["tensors"], 47);
  // A folder: the checkpoint is scanned, the tokenizer and JSON files skipped.
  json folder = RunJson({"scan", test::TestData("models/stories260K"), "--json"}, 0);
  size_t ok = 0, skipped = 0;
  for (const json& f : folder["files"]) {
    ok += f["status"] == "ok";
    skipped += f["status"] == "skipped";
  }
  EXPECT_EQ(ok, 1u);
  EXPECT_EQ(skipped, folder["files"].size() - 1);
  test::CliResult human = RunCli({"scan", kBin});
  EXPECT_EQ(human.exit_code, 0);
  EXPECT_NE(human.out.find("OK (47 tensors"), std::string::npos) << human.out;
  EXPECT_NE(human.out.find("result: clean"), std::string::npos) << human.out;
}

TEST(CliScan, MalformedFilesExit2) {
  test::TempDir dir;
  auto bin = test::ReadAll(kBin);
  bin.resize(bin.size() - 4);
  test::WriteAll(dir / "short.bin", bin);
  json j = RunJson({"scan", dir / "short.bin", "--json"}, 2);
  EXPECT_FALSE(j["clean"]);
  EXPECT_TRUE(j["malformed"]);
  const json& f = j["files"][0];
  EXPECT_EQ(f["status"], "malformed");
  ASSERT_EQ(f["problems"].size(), 1u);
  EXPECT_EQ(f["problems"][0]["file"], dir / "short.bin");
  EXPECT_EQ(f["problems"][0]["offset"], bin.size());

  auto gguf = test::ReadAll(kGguf);
  gguf[100] ^= 0xff;  // inside the metadata
  test::WriteAll(dir / "flipped.gguf", gguf);
  j = RunJson({"scan", dir / "flipped.gguf", "--json"}, 2);
  EXPECT_EQ(j["files"][0]["status"], "malformed") << j.dump(1);
  EXPECT_EQ(j["files"][0]["problems"][0]["file"], dir / "flipped.gguf");
  EXPECT_TRUE(j["files"][0]["problems"][0].contains("offset"));

  test::WriteText(dir / "notes.txt", "not a model");
  j = RunJson({"scan", dir / "notes.txt", "--json"}, 2);
  EXPECT_EQ(j["files"][0]["format"], nullptr);
  test::CliResult r = RunCli({"scan", dir / "absent.safetensors"});
  EXPECT_EQ(r.exit_code, 8);
}

TEST(CliScan, BarePickleGlobalsNeverExecuted) {
  test::TempDir dir;
  const std::string sentinel = dir / "PWNED";
  // Protocol 0 text: cos\nsystem -> os.system("touch PWNED").
  test::WriteText(dir / "evil.pkl", "cos\nsystem\n(S'touch " + sentinel + "'\ntR.");
  json j = RunJson({"scan", dir / "evil.pkl", "--json"}, 1);
  EXPECT_TRUE(j["unsafe"]);
  const json& f = j["files"][0];
  EXPECT_EQ(f["format"], "pytorch");
  EXPECT_EQ(f["status"], "unsafe");
  EXPECT_TRUE(f["pickle"]["legacy"]);
  ASSERT_EQ(f["pickle"]["globals"].size(), 1u);
  const json& g = f["pickle"]["globals"][0];
  EXPECT_EQ(g["global"], "os.system");
  EXPECT_EQ(g["safe"], false);
  EXPECT_EQ(g["severity"], "dangerous");
  EXPECT_EQ(g["offset"], 0);
  EXPECT_EQ(f["pickle"]["unsafe_globals"], 1);

  test::CliResult human = RunCli({"scan", dir / "evil.pkl"});
  EXPECT_EQ(human.exit_code, 1);
  EXPECT_NE(human.out.find("UNSAFE os.system (dangerous)"), std::string::npos) << human.out;
  EXPECT_NE(human.out.find("result: UNSAFE"), std::string::npos) << human.out;

  // inspect refuses it by the import it names.
  test::CliResult inspect = RunCli({"inspect", dir / "evil.pkl"});
  EXPECT_EQ(inspect.exit_code, 1) << inspect.err;
  EXPECT_NE(inspect.err.find("os.system"), std::string::npos) << inspect.err;

  // Beside a clean model in a folder: the folder is unsafe.
  fs::copy_file(kSt, dir / "model.safetensors");
  j = RunJson({"scan", dir.path().string(), "--json"}, 1);
  EXPECT_TRUE(j["unsafe"]);
  EXPECT_FALSE(fs::exists(sentinel)) << "a pickle was executed";
}

// --- PyTorch fixtures (torch.save checkpoints and malicious pickles of every family) ---

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

class CliPyTorch : public ::testing::Test {
 protected:
  static void SetUpTestSuite() {
    dir_ = new test::TempDir();
    int status = 0;
    log_ = RunCommand(std::string(WG_PYTHON) + " " +
                          test::SourcePath("tests/support/make_pytorch_fixtures.py") + " " +
                          dir_->path().string(),
                      &status);
    const int rc = WIFEXITED(status) ? WEXITSTATUS(status) : -1;
    have_torch_ = rc != 127 && rc != 77;
    generated_ = rc == 0;
    if (generated_) {
      auto bytes = test::ReadAll(*dir_ / "manifest.json");
      manifest_ = json::parse(bytes.begin(), bytes.end());
    }
  }
  static void TearDownTestSuite() {
    delete dir_;
    dir_ = nullptr;
  }
  void SetUp() override {
    if (!have_torch_) GTEST_SKIP() << WG_PYTHON << " has no torch: " << log_;
    ASSERT_TRUE(generated_) << "fixture generation failed:\n" << log_;
  }
  static std::string Path(const std::string& name) { return *dir_ / name; }

  static inline test::TempDir* dir_ = nullptr;
  static inline bool have_torch_ = false;
  static inline bool generated_ = false;
  static inline std::string log_;
  static inline json manifest_;
};

TEST_F(CliPyTorch, CleanCheckpoint) {
  const json& c = manifest_["checkpoints"][0];
  json j = RunJson({"scan", Path(c["file"]), "--json"}, 0);
  const json& f = j["files"][0];
  EXPECT_EQ(f["status"], "ok") << j.dump(1);
  EXPECT_EQ(f["tensors"], c["tensors"].size());
  EXPECT_FALSE(f["pickle"]["legacy"]);
  EXPECT_FALSE(f["pickle"]["globals"].empty());
  for (const json& g : f["pickle"]["globals"]) EXPECT_TRUE(g["safe"]) << g.dump();

  json i = RunJson({"inspect", Path(c["file"]), "--json"}, 0);
  EXPECT_EQ(i["format"], "pytorch");
  EXPECT_EQ(i["tensor_count"], c["tensors"].size());
}

TEST_F(CliPyTorch, EveryMaliciousPickle) {
  ASSERT_FALSE(manifest_["malicious"].empty());
  for (const json& m : manifest_["malicious"]) {
    const std::string name = m["name"], expect = m["global"];
    for (const std::string& file : {Path(name + ".pkl"), Path(name + ".pt")}) {
      SCOPED_TRACE(file);
      json j = RunJson({"scan", file, "--json"}, 1);
      const json& f = j["files"][0];
      EXPECT_EQ(f["status"], "unsafe") << j.dump(1);
      bool named = false;
      for (const json& g : f["pickle"]["globals"])
        if (g["global"] == expect) {
          named = true;
          EXPECT_FALSE(g["safe"]);
        }
      EXPECT_TRUE(named) << expect << " not listed: " << f.dump(1);
      test::CliResult inspect = RunCli({"inspect", file});
      EXPECT_EQ(inspect.exit_code, 1) << inspect.err;
    }
  }
  EXPECT_FALSE(fs::exists(manifest_["sentinel"].get<std::string>())) << "a pickle was executed";
}

TEST_F(CliPyTorch, LegacyCheckpointGlobalsListed) {
  json j = RunJson({"scan", Path("legacy.pt"), "--json"}, 0);
  const json& f = j["files"][0];
  EXPECT_EQ(f["status"], "ok") << j.dump(1);
  EXPECT_TRUE(f["pickle"]["legacy"]);
  EXPECT_FALSE(f["pickle"]["globals"].empty());
}

}  // namespace
}  // namespace wg
