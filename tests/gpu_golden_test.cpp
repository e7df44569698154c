// Golden records, memory plans and attestations as a library: the real stories260K model's
// golden record is deterministic and survives its JSON; a model compared with its own
// record is exact; the memory plan matches a hand computation; attestations round-trip and
// refuse tampering.
#include <gtest/gtest.h>

#include "support/test_util.h"
#include "weightgate/gpu_check/golden.h"
#include "weightgate/gpu_check/memory_plan.h"
#include "weightgate/signing/bundle.h"
#include "weightgate/signing/keys.h"
#include "weightgate/verify/attestation.h"

namespace wg {
namespace {

using test::TestData;

const std::string kLlama2c = "models/stories260K/stories260K.bin";

LlamaModel Load(const std::string& path) {
  auto m = LoadLlamaModel(path);
  EXPECT_TRUE(m.ok()) << m.error().ToString();
  return std::move(*m);
}

TEST(Golden, IsDeterministicAndRoundTripsThroughJson) {
  LlamaModel m = Load(TestData(kLlama2c));
  auto a = ComputeGolden(m, GoldenOptions{});
  ASSERT_TRUE(a.ok()) << a.error().ToString();
  auto b = ComputeGolden(m, GoldenOptions{});
  ASSERT_TRUE(b.ok());
  EXPECT_EQ(a->ToJson(), b->ToJson());
  EXPECT_EQ(a->prompt, "Once upon a time");
  EXPECT_EQ(a->weights_dtype, "F32");
  EXPECT_EQ(a->generated_ids.size(), static_cast<size_t>(kGoldenTokens));
  EXPECT_EQ(a->positions.size(), a->prompt_ids.size() + kGoldenTokens - 1);
  EXPECT_EQ(a->logits_sha256.size(), 64u);
  for (const auto& p : a->positions) {
    ASSERT_EQ(p.top_ids.size(), static_cast<size_t>(kGoldenTopK));
    for (size_t i = 1; i < p.top_logits.size(); ++i)
      EXPECT_GE(p.top_logits[i - 1], p.top_logits[i]);
  }
  auto parsed = GoldenRecord::Parse(a->ToJson(), "golden.json");
  ASSERT_TRUE(parsed.ok()) << parsed.error().ToString();
  EXPECT_EQ(parsed->ToJson(), a->ToJson());  // floats survive the text form exactly

  // The first generated token is the published greedy continuation's.
  EXPECT_FALSE(a->text.empty());
  EXPECT_EQ(a->text.rfind("Once upon a time", 0), 0u) << a->text;
}

TEST(Golden, ModelAgainstItsOwnRecordIsExactAndAFaultIsCaught) {
  LlamaModel m = Load(TestData(kLlama2c));
  auto g = ComputeGolden(m, GoldenOptions{});
  ASSERT_TRUE(g.ok());
  auto c = CompareCpuWithGolden(m, *g, ToleranceFor(DType::kF32));
  ASSERT_TRUE(c.ok()) << c.error().ToString();
  EXPECT_TRUE(c->passed);
  EXPECT_EQ(c->max_abs, 0.0);
  EXPECT_TRUE(c->logits_digest_equal);
  EXPECT_TRUE(c->tokens_equal);
  EXPECT_EQ(c->top1_agree, c->positions);

  // A record whose logits were nudged: the comparison sees exactly that much error.
  GoldenRecord nudged = *g;
  nudged.positions[3].top_logits[0] += 0.01f;
  auto d = CompareCpuWithGolden(m, nudged, ToleranceFor(DType::kF32));
  ASSERT_TRUE(d.ok());
  EXPECT_FALSE(d->passed);
  EXPECT_NEAR(d->max_abs, 0.01, 1e-4);
  EXPECT_EQ(d->worst_position, 3);
}

TEST(Golden, ParseRefusesInconsistentRecords) {
  LlamaModel m = Load(TestData(kLlama2c));
  auto g = ComputeGolden(m, GoldenOptions{});
  ASSERT_TRUE(g.ok());
  std::string json = g->ToJson();
  EXPECT_FALSE(GoldenRecord::Parse("{}", "x").ok());
  EXPECT_FALSE(GoldenRecord::Parse("not json", "x").ok());
  std::string bad_schema = json;
  bad_schema.replace(bad_schema.find("golden/v1"), 9, "golden/v9");
  EXPECT_EQ(GoldenRecord::Parse(bad_schema, "x").error().code(), ErrorCode::kUnsupported);
  GoldenRecord short_g = *g;
  short_g.positions.pop_back();
  short_g.positions.pop_back();
  EXPECT_EQ(GoldenRecord::Parse(short_g.ToJson(), "x").error().code(), ErrorCode::kMalformed);
  GoldenRecord bad_id = *g;
  bad_id.positions[0].top_ids[0] = 100000;
  EXPECT_FALSE(GoldenRecord::Parse(bad_id.ToJson(), "x").ok());
}

TEST(MemoryPlan, Stories260KMatchesAHandComputation) {
  LlamaModel m = Load(TestData(kLlama2c));
  PlanShape s = PlanShape::Of(m);
  // 512*64 embedding + 5 layers * (2*64 norms + 64*64*2 + 32*64*2 + 3*172*64) + 64 norm,
  // float32; the checkpoint's freq_cis tables are not weights the forward pass loads.
  const uint64_t params = 512 * 64 + 5 * (2 * 64 + 2 * 64 * 64 + 2 * 32 * 64 + 3 * 172 * 64) + 64;
  EXPECT_EQ(params, 260032u);
  EXPECT_EQ(s.weights_bytes, params * 4);
  PlanOptions o;
  o.context = 512;
  o.batch = 1;
  EXPECT_EQ(KvCacheBytes(s, o), 2ull * 5 * 4 * 8 * 512 * 1 * 2);  // 327,680
  EXPECT_EQ(WorkspaceBytes(s, o), (512ull << 20) + 4 * (512 + 3 * 64 + 2 * 172 + 8 * 512));
  auto rows = PlanMemory(s, o, {{"tiny", 1ull << 30}, {"tinier", 256ull << 20}});
  ASSERT_EQ(rows.size(), 2u);
  EXPECT_TRUE(rows[0].fits);
  EXPECT_FALSE(rows[1].fits);
  EXPECT_EQ(rows[0].total, params * 4 + 327680 + (512ull << 20) + 4 * 5144);
}

TEST(MemoryPlan, SevenBShapedConfig) {
  // Llama-2-7B: 32 layers, 32 heads (MHA), head_dim 128, F16 weights (6,738,415,616 params).
  PlanShape s;
  s.layers = 32;
  s.heads = 32;
  s.kv_heads = 32;
  s.head_dim = 128;
  s.dim = 4096;
  s.hidden_dim = 11008;
  s.vocab = 32000;
  s.weights_bytes = 6738415616ull * 2;
  PlanOptions o;
  o.context = 4096;
  o.batch = 1;
  EXPECT_EQ(KvCacheBytes(s, o), 2ull << 30);  // 2 x 32 x 32 x 128 x 4096 x 2 bytes = 2 GiB
  auto targets = ParseGpuTargets("L4-24GB,A100-40GB,Tiny:12");
  ASSERT_TRUE(targets.ok()) << targets.error().ToString();
  auto rows = PlanMemory(s, o, *targets);
  EXPECT_EQ(rows[0].total, 13476831232ull + (2ull << 30) + (512ull << 20) + 4 * 197376);
  EXPECT_TRUE(rows[0].fits);  // 15.05 GiB on 24
  EXPECT_TRUE(rows[1].fits);
  EXPECT_FALSE(rows[2].fits);  // 12 GiB
  EXPECT_EQ(rows[2].target.memory_bytes, 12ull << 30);
  o.batch = 8;  // 16 GiB of KV cache: no longer fits a 24 GiB card
  rows = PlanMemory(s, o, *targets);
  EXPECT_FALSE(rows[0].fits);
  EXPECT_TRUE(rows[1].fits);
  // The longest context at batch 8 that still fits the L4.
  PlanOptions at_max = o;
  at_max.context = rows[0].max_context;
  EXPECT_LE(PlanMemory(s, at_max, {(*targets)[0]})[0].total, 24ull << 30);
  at_max.context += 1;
  EXPECT_GT(PlanMemory(s, at_max, {(*targets)[0]})[0].total, 24ull << 30);
}

TEST(MemoryPlan, TargetsParseAndRefuse) {
  auto all = ParseGpuTargets("all");
  ASSERT_TRUE(all.ok());
  EXPECT_GE(all->size(), 11u);
  for (const char* name :
       {"H200-141GB", "H100-80GB", "H100-94GB", "A100-40GB", "A100-80GB", "L40S-48GB", "L4-24GB",
        "A10-24GB", "RTX4090-24GB", "RTX5090-32GB", "B200-180GB"})
    EXPECT_TRUE(ParseGpuTargets(name).ok()) << name;
  EXPECT_TRUE(ParseGpuTargets("h100-80gb").ok());
  auto custom = ParseGpuTargets("Mine:15.5");
  ASSERT_TRUE(custom.ok());
  EXPECT_EQ((*custom)[0].memory_bytes, 15ull * (1ull << 30) + (1ull << 29));
  for (const char* bad : {"H100", "X:", ":4", "X:-1", "X:abc", ""})
    EXPECT_EQ(ParseGpuTargets(bad).error().code(), ErrorCode::kUsage) << bad;
}

TEST(Attestation, RoundTripsAndRefusesTampering) {
  auto key = signing::EcKey::Generate(signing::Curve::kP256);
  ASSERT_TRUE(key.ok());
  auto other = signing::EcKey::Generate(signing::Curve::kP256);
  ASSERT_TRUE(other.ok());
  auto subjects = verify::SubjectsOf(TestData(kLlama2c));
  ASSERT_TRUE(subjects.ok()) << subjects.error().ToString();
  ASSERT_EQ(subjects->size(), 1u);
  EXPECT_EQ((*subjects)[0].name, "stories260K.bin");
  nlohmann::ordered_json predicate = {{"result", "cpu-only"}, {"devices", {"cpu"}}};
  auto env = verify::SignAttestation(*subjects, predicate, *key);
  ASSERT_TRUE(env.ok()) << env.error().ToString();
  auto v = verify::VerifyAttestation(*env, *key, *subjects, "a.att");
  ASSERT_TRUE(v.ok()) << v.error().ToString();
  EXPECT_EQ(v->predicate["result"], "cpu-only");
  EXPECT_EQ(v->keyid, key->Hint());

  EXPECT_EQ(verify::VerifyAttestation(*env, *other, *subjects, "a.att").error().code(),
            ErrorCode::kBadSignature);
  // Another artifact: same name, other digest.
  auto moved = *subjects;
  moved[0].sha256[0] = moved[0].sha256[0] == '0' ? '1' : '0';
  EXPECT_EQ(verify::VerifyAttestation(*env, *key, moved, "a.att").error().code(),
            ErrorCode::kMismatch);
  // A payload edited after signing (result changed to "passed").
  auto j = nlohmann::json::parse(*env);
  auto payload = signing::Base64Decode(j["payload"].get<std::string>());
  ASSERT_TRUE(payload.ok());
  std::string edited = *payload;
  edited.replace(edited.find("cpu-only"), 8, "passed!!");
  j["payload"] = signing::Base64Encode(edited);
  EXPECT_EQ(verify::VerifyAttestation(j.dump(), *key, *subjects, "a.att").error().code(),
            ErrorCode::kBadSignature);
  EXPECT_EQ(verify::VerifyAttestation("{}", *key, *subjects, "a.att").error().code(),
            ErrorCode::kMalformed);
}

}  // namespace
}  // namespace wg
