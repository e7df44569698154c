// gpu-check as a user runs it on the real stories260K model: pack records a deterministic
// golden layer; gpu-check judges a package against it; --reference judges our own F16,
// BF16, Q8_0 and Q4_0 conversions against the parent (and fails a flipped weight bit and a
// Q/K permutation applied twice); --plan; --attest and verify, with tampering refused.
#include <gtest/gtest.h>

#include <cstring>
#include <filesystem>
#include <nlohmann/json.hpp>

#include "support/test_util.h"
#include "weightgate/formats/gguf.h"

namespace wg {
namespace {

namespace fs = std::filesystem;
using test::RunCli;
using test::TempDir;

std::string ModelDir(const TempDir& t) {
  fs::path m = t.path() / "model";
  fs::copy(test::SourcePath("examples/models/stories260K"), m, fs::copy_options::recursive);
  return m.string();
}

using test::ReadText;

nlohmann::json Json(const test::CliResult& r) {
  return nlohmann::json::parse(r.out);
}

// The converted GGUF of the llama2.c checkpoint in `dtype`.
std::string Convert(const TempDir& t, const std::string& dtype) {
  std::string out = t / ("stories260K-" + dtype + ".gguf");
  auto r = RunCli(
      {"convert", test::TestData("models/stories260K/stories260K.bin"), out, "--dtype", dtype});
  EXPECT_EQ(r.exit_code, 0) << r.err;
  return out;
}

// Rewrites `count` bytes of tensor `name` in a GGUF file through `edit`.
void EditTensor(const std::string& path, const std::string& name,
                const std::function<void(uint8_t*, uint64_t)>& edit) {
  uint64_t offset = 0, nbytes = 0;
  {
    auto g = ReadGguf(path);
    ASSERT_TRUE(g.ok()) << g.error().ToString();
    const TensorInfo* t = g->catalog.Find(name);
    ASSERT_NE(t, nullptr) << name;
    offset = t->offset;
    nbytes = t->nbytes;
  }
  auto bytes = test::ReadAll(path);
  edit(bytes.data() + offset, nbytes);
  test::WriteAll(path, bytes);
}

TEST(CliGpuCheck, PackRecordsADeterministicGoldenLayerAndGpuCheckPassesAgainstIt) {
  TempDir t;
  std::string model = ModelDir(t);
  auto a = RunCli({"pack", model, "-o", t / "a.tar"});
  ASSERT_EQ(a.exit_code, 0) << a.err;
  EXPECT_NE(a.out.find("golden record"), std::string::npos) << a.out;
  auto b = RunCli({"pack", model, "-o", t / "b.tar"});
  ASSERT_EQ(b.exit_code, 0) << b.err;
  EXPECT_EQ(test::ReadAll(t / "a.tar"), test::ReadAll(t / "b.tar"));

  auto insp = RunCli({"inspect", "--json", t / "a.tar"});
  ASSERT_EQ(insp.exit_code, 0) << insp.err;
  auto ij = Json(insp);
  EXPECT_EQ(ij["golden"], true);
  bool golden_layer = false;
  for (const auto& l : ij["layers"])
    if (l["mediaType"] == "application/vnd.weightgate.golden.v1+json") {
      golden_layer = true;
      EXPECT_EQ(l["path"], "golden.json");
    }
  EXPECT_TRUE(golden_layer);

  auto none = RunCli({"pack", model, "-o", t / "c.tar", "--no-golden", "--json"});
  ASSERT_EQ(none.exit_code, 0) << none.err;
  EXPECT_EQ(Json(none)["golden"], false);

  auto check = RunCli({"gpu-check", t / "a.tar", "--json"});
  EXPECT_EQ(check.exit_code, 3) << check.err << check.out;
  auto j = Json(check);
  const auto& cmp = j["passes"][0]["comparison"];
  EXPECT_EQ(cmp["reference"], "the package's golden record");
  EXPECT_EQ(cmp["passed"], true);
  EXPECT_EQ(cmp["max_abs_error"], 0.0);
  EXPECT_EQ(cmp["logits_digest_equal"], true);
  EXPECT_EQ(cmp["tokens_equal"], true);
  EXPECT_EQ(cmp["top1_agreement"], 1.0);

  // A folder without a model the forward pass knows packs with a note, no golden layer.
  fs::create_directories(t.path() / "docs");
  test::WriteText(t / "docs/README.md", "# nothing to run\n");
  auto docs = RunCli({"pack", t / "docs", "-o", t / "docs.tar", "--json"});
  ASSERT_EQ(docs.exit_code, 0) << docs.err;
  EXPECT_EQ(Json(docs)["golden"], false);
  EXPECT_NE(docs.err.find("no golden record"), std::string::npos) << docs.err;
}

TEST(CliGpuCheck, ConversionsPassAgainstTheParentAndPlantedFaultsFail) {
  TempDir t;
  std::string model = ModelDir(t);
  ASSERT_EQ(RunCli({"pack", model, "-o", t / "parent.tar"}).exit_code, 0);
  for (const char* dtype : {"f32", "f16", "bf16", "q8_0", "q4_0"}) {
    std::string gguf = Convert(t, dtype);
    auto r = RunCli({"gpu-check", gguf, "--reference", t / "parent.tar", "--json"});
    EXPECT_EQ(r.exit_code, 3) << dtype << "\n" << r.out << r.err;
    auto cmp = Json(r)["passes"][0]["comparison"];
    EXPECT_EQ(cmp["reference"], "golden record of " + t / "parent.tar") << dtype;
    EXPECT_EQ(cmp["passed"], true) << dtype << " " << cmp.dump();
    // Against the llama2.c file itself (a fresh CPU reference): the same verdict.
    auto fresh = RunCli({"gpu-check", gguf, "--reference",
                         test::TestData("models/stories260K/stories260K.bin"), "--json"});
    EXPECT_EQ(fresh.exit_code, 3) << dtype << "\n" << fresh.out << fresh.err;
  }

  // One flipped exponent bit in one weight of a Q8_0 conversion's first value block.
  std::string flipped = Convert(t, "q8_0");
  fs::rename(flipped, t / "flipped.gguf");
  EditTensor(t / "flipped.gguf", "blk.0.ffn_up.weight", [](uint8_t* p, uint64_t) {
    p[1] ^= 0x40;  // the block's f16 scale: its exponent's top bit
  });
  auto bad = RunCli({"gpu-check", t / "flipped.gguf", "--reference", t / "parent.tar", "--json"});
  EXPECT_EQ(bad.exit_code, 1) << bad.out << bad.err;
  EXPECT_EQ(Json(bad)["passes"][0]["comparison"]["passed"], false);

  // The Hugging Face Q/K row permutation applied to a GGUF that already has llama2.c's order:
  // RoPE then rotates the wrong pairs. Caught in F32 and in Q4_0, the loosest tolerance.
  for (const char* dtype : {"f32", "q4_0"}) {
    const std::string permuted = t / (std::string("permuted-") + dtype + ".gguf");
    fs::rename(Convert(t, dtype), permuted);
    for (int l = 0; l < 5; ++l)
      for (const char* w : {"attn_q", "attn_k"})
        EditTensor(permuted, "blk." + std::to_string(l) + "." + w + ".weight",
                   [&](uint8_t* p, uint64_t nbytes) {
                     const uint64_t rows = std::string(w) == "attn_q" ? 64 : 32, hs = 8;
                     const uint64_t row = nbytes / rows;
                     std::vector<uint8_t> copy(p, p + nbytes);
                     for (uint64_t r = 0; r < rows; ++r) {
                       const uint64_t head = r / hs, i = r % hs;
                       const uint64_t src = head * hs + (i < hs / 2 ? 2 * i : 2 * (i - hs / 2) + 1);
                       std::memcpy(p + r * row, copy.data() + src * row, row);
                     }
                   });
    auto perm = RunCli({"gpu-check", permuted, "--reference", t / "parent.tar"});
    EXPECT_EQ(perm.exit_code, 1) << dtype << "\n" << perm.out << perm.err;
    EXPECT_NE(perm.out.find("FAILED"), std::string::npos) << perm.out;
  }
}

TEST(CliGpuCheck, PlanPrintsTheMemoryFitAndExitsOneWhenItDoesNotFit) {
  std::string bin = test::TestData("models/stories260K/stories260K.bin");
  auto r = RunCli({"gpu-check", bin, "--plan", "--json"});
  ASSERT_EQ(r.exit_code, 0) << r.err;
  auto j = Json(r);
  EXPECT_EQ(j["context"], 512);
  EXPECT_EQ(j["targets"].size(), 5u);  // the default list
  for (const auto& row : j["targets"]) {
    EXPECT_EQ(row["weights_bytes"], 1040128);
    EXPECT_EQ(row["kv_cache_bytes"], 327680);
    EXPECT_EQ(row["fits"], true);
  }
  auto small = RunCli({"gpu-check", bin, "--plan", "--target", "L4-24GB,Crumb:0.25", "--context",
                       "256", "--batch", "4", "--json"});
  EXPECT_EQ(small.exit_code, 1) << small.err;
  auto s = Json(small);
  EXPECT_EQ(s["targets"][0]["kv_cache_bytes"], 2 * 5 * 4 * 8 * 256 * 4 * 2);
  EXPECT_EQ(s["targets"][0]["fits"], true);
  EXPECT_EQ(s["targets"][1]["fits"], false);
  auto text = RunCli({"gpu-check", bin, "--plan", "--target", "H200-141GB"});
  EXPECT_EQ(text.exit_code, 0);
  EXPECT_NE(text.out.find("H200-141GB"), std::string::npos) << text.out;
  EXPECT_EQ(RunCli({"gpu-check", bin, "--plan", "--target", "H100"}).exit_code, 2);
}

TEST(CliGpuCheck, AttestationRoundTripAndTamperingIsRefused) {
  TempDir t;
  std::string model = ModelDir(t);
  ASSERT_EQ(RunCli({"pack", model, "-o", t / "pkg"}).exit_code, 0);
  ASSERT_EQ(RunCli({"keygen", "--algo", "ecdsa-p256", "-o", t / "ci"}).exit_code, 0);
  ASSERT_EQ(RunCli({"keygen", "--algo", "ecdsa-p256", "-o", t / "other"}).exit_code, 0);
  auto r =
      RunCli({"gpu-check", t / "pkg", "--attest", t / "ci.key", "-o", t / "check.att", "--attach"});
  ASSERT_EQ(r.exit_code, 3) << r.out << r.err;
  auto again = RunCli({"gpu-check", t / "pkg", "--attest", t / "ci.key", "--attach"});
  ASSERT_EQ(again.exit_code, 3) << again.err;

  auto v = RunCli({"verify", t / "pkg", "--pub", t / "ci.pub", "--json"});
  EXPECT_EQ(v.exit_code, 0) << v.out << v.err;
  auto vj = Json(v);
  EXPECT_EQ(vj["attestations"].size(), 2u);  // attestations accumulate
  EXPECT_EQ(vj["attestations"][0]["result"], "cpu-only");
  EXPECT_EQ(vj["attestations"][0]["devices"][0], "cpu");
  auto f = RunCli({"verify", t / "pkg", "--pub", t / "ci.pub", "--attestation", t / "check.att"});
  EXPECT_EQ(f.exit_code, 0) << f.err;

  // Another key did not sign it.
  EXPECT_EQ(RunCli({"verify", t / "pkg", "--pub", t / "other.pub"}).exit_code, 4);
  // The attestation names the package's files: a plain copy of another model fails.
  auto elsewhere = RunCli({"verify", test::TestData("models/stories260K-gguf/stories260K.gguf"),
                           "--pub", t / "ci.pub", "--attestation", t / "check.att"});
  EXPECT_EQ(elsewhere.exit_code, 1) << elsewhere.err;
  // A payload edited after signing.
  auto env = nlohmann::json::parse(ReadText(t / "check.att"));
  env["payload"] = std::string(env["payload"]).replace(10, 4, "AAAA");
  test::WriteText(t / "edited.att", env.dump());
  auto edited =
      RunCli({"verify", t / "pkg", "--pub", t / "ci.pub", "--attestation", t / "edited.att"});
  EXPECT_EQ(edited.exit_code, 4) << edited.err;
  // A signed package: the signature does not cover attestations, so attaching one after
  // signing keeps it valid, and --attestations checks them beside it.
  ASSERT_EQ(RunCli({"sign", t / "pkg", "--key", t / "other.key"}).exit_code, 0);
  ASSERT_EQ(RunCli({"gpu-check", t / "pkg", "--attest", t / "ci.key", "--attach", "--tokens", "4"})
                .exit_code,
            3);
  EXPECT_EQ(RunCli({"verify", t / "pkg", "--pub", t / "other.pub"}).exit_code, 0);
  auto both = RunCli({"verify", t / "pkg", "--pub", t / "ci.pub", "--attestations", "--json"});
  EXPECT_EQ(both.exit_code, 0) << both.out << both.err;
  EXPECT_EQ(Json(both)["attestations"].size(), 3u);
  // Attestations of a file (not a package) work the same way.
  std::string bin = test::TestData("models/stories260K/stories260K.bin");
  ASSERT_EQ(RunCli({"gpu-check", bin, "--attest", t / "ci.key", "-o", t / "bin.att"}).exit_code, 3);
  EXPECT_EQ(
      RunCli({"verify", bin, "--pub", t / "ci.pub", "--attestation", t / "bin.att"}).exit_code, 0);
  EXPECT_EQ(RunCli({"verify", t / "pkg", "--pub", t / "ci.pub", "--attestation", t / "bin.att"})
                .exit_code,
            1);
}

}  // namespace
}  // namespace wg
