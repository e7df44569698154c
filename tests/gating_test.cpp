// Cryptographic gating: chunked AES-256-GCM streams, key wrapping for X25519/RSA/EC
// recipients bound to the policy digest, signed grants, and sealing a real model.
#include <gtest/gtest.h>

#include <ctime>
#include <filesystem>
#include <random>

#include "support/test_util.h"
#include "weightgate/core/file.h"
#include "weightgate/policy/chunked_aead.h"
#include "weightgate/policy/grant.h"
#include "weightgate/policy/recipients.h"
#include "weightgate/policy/seal.h"

namespace wg::policy {
namespace {

namespace fs = std::filesystem;
using test::ReadAll;
using test::RunCli;
using test::SourcePath;
using test::TempDir;
using test::TestData;
using test::WriteAll;

std::vector<uint8_t> RandomBytes(size_t n, uint32_t seed) {
  std::mt19937 rng(seed);
  std::vector<uint8_t> v(n);
  for (auto& b : v) b = uint8_t(rng());
  return v;
}

Digest PolicyDigest(const std::string& text) {
  return HashBytes(HashAlgo::kSha256,
                   Bytes(reinterpret_cast<const uint8_t*>(text.data()), text.size()));
}

Key256 TestKey(uint8_t fill) {
  Key256 k;
  k.fill(fill);
  return k;
}

std::vector<uint8_t> Encrypt(const std::vector<uint8_t>& plain, const Key256& key, uint32_t chunk,
                             const TempDir& dir) {
  std::string p = dir / "plain.bin", e = dir / "enc.bin";
  fs::remove(p);
  fs::remove(e);
  WriteAll(p, plain);
  Status s = EncryptFile(p, e, key, chunk);
  EXPECT_TRUE(s.ok()) << s.error().ToString();
  return ReadAll(e);
}

Status Decrypt(const std::vector<uint8_t>& enc, const Key256& key, const TempDir& dir,
               std::vector<uint8_t>* out) {
  std::string e = dir / "in.wgenc", p = dir / "out.bin";
  fs::remove(e);
  fs::remove(p);
  WriteAll(e, enc);
  Status s = DecryptFile(e, p, key);
  if (s.ok()) *out = ReadAll(p);
  return s;
}

// Nothing but the inputs: no output file and no temporary leftovers.
void ExpectNoPlaintext(const TempDir& dir) {
  for (const auto& entry : fs::directory_iterator(dir.path()))
    EXPECT_EQ(entry.path().filename().string().rfind("out.bin", 0), std::string::npos)
        << entry.path();
}

TEST(ChunkedAead, RoundTripsEverySizeAroundChunkBoundaries) {
  TempDir dir;
  const uint32_t chunk = 64;
  for (size_t n : {size_t(0), size_t(1), size_t(63), size_t(64), size_t(65), size_t(3 * 64 + 5),
                   size_t(1000)}) {
    auto plain = RandomBytes(n, uint32_t(n));
    auto enc = Encrypt(plain, TestKey(1), chunk, dir);
    EXPECT_EQ(enc.size(), EncryptedSize(n, chunk));
    std::vector<uint8_t> back;
    Status s = Decrypt(enc, TestKey(1), dir, &back);
    ASSERT_TRUE(s.ok()) << n << ": " << s.error().ToString();
    EXPECT_EQ(back, plain) << n;
  }
  // The default 1 MiB chunks over a few MiB (parallel path).
  auto plain = RandomBytes((3u << 20) + 12345, 7);
  auto enc = Encrypt(plain, TestKey(2), kDefaultChunkSize, dir);
  std::vector<uint8_t> back;
  ASSERT_TRUE(Decrypt(enc, TestKey(2), dir, &back).ok());
  EXPECT_EQ(back, plain);
}

TEST(ChunkedAead, SeeksToAnyChunk) {
  TempDir dir;
  auto plain = RandomBytes(1000, 3);
  auto enc = Encrypt(plain, TestKey(1), 64, dir);
  auto r = AeadReader::Open(Bytes(enc.data(), enc.size()), TestKey(1), "enc");
  ASSERT_TRUE(r.ok());
  EXPECT_EQ(r->chunk_count(), 16u);
  std::vector<uint8_t> buf(64);
  auto n = r->DecryptChunk(15, buf.data());  // the short last chunk alone
  ASSERT_TRUE(n.ok());
  EXPECT_EQ(*n, 1000u - 15 * 64);
  EXPECT_TRUE(std::equal(buf.begin(), buf.begin() + long(*n), plain.begin() + 15 * 64));
}

TEST(ChunkedAead, EveryTamperIsRefusedAndLeavesNoPlaintext) {
  TempDir dir;
  auto plain = RandomBytes(5 * 64, 4);
  auto enc = Encrypt(plain, TestKey(1), 64, dir);
  const size_t stride = 64 + kGcmTagSize;
  std::vector<uint8_t> out;

  auto flipped = enc;
  flipped[kAeadHeaderSize + stride + 10] ^= 1;  // a ciphertext byte of chunk 1
  Status s = Decrypt(flipped, TestKey(1), dir, &out);
  ASSERT_FALSE(s.ok());
  EXPECT_NE(s.error().message().find("chunk 1"), std::string::npos) << s.error().ToString();
  ExpectNoPlaintext(dir);

  auto tag = enc;
  tag[kAeadHeaderSize + 3 * stride + 64] ^= 0x80;  // chunk 3's tag
  EXPECT_FALSE(Decrypt(tag, TestKey(1), dir, &out).ok());

  auto truncated = enc;
  truncated.resize(enc.size() - stride);  // drop the final chunk
  s = Decrypt(truncated, TestKey(1), dir, &out);
  ASSERT_FALSE(s.ok());
  EXPECT_NE(s.error().message().find("truncated"), std::string::npos);
  ExpectNoPlaintext(dir);

  // Truncate and rewrite the header's size to match: chunk 3 now claims to be final.
  auto resized = truncated;
  uint64_t four = 4 * 64;
  for (int i = 0; i < 8; ++i) resized[16 + i] = uint8_t(four >> (8 * i));
  EXPECT_FALSE(Decrypt(resized, TestKey(1), dir, &out).ok());
  ExpectNoPlaintext(dir);

  auto reordered = enc;  // swap chunks 0 and 1
  std::swap_ranges(reordered.begin() + kAeadHeaderSize,
                   reordered.begin() + long(kAeadHeaderSize + stride),
                   reordered.begin() + long(kAeadHeaderSize + stride));
  EXPECT_FALSE(Decrypt(reordered, TestKey(1), dir, &out).ok());

  auto nonce = enc;
  nonce[30] ^= 1;  // the base nonce in the header
  EXPECT_FALSE(Decrypt(nonce, TestKey(1), dir, &out).ok());

  EXPECT_FALSE(Decrypt(enc, TestKey(9), dir, &out).ok());  // wrong key
  ExpectNoPlaintext(dir);
  ASSERT_TRUE(Decrypt(enc, TestKey(1), dir, &out).ok());
  EXPECT_EQ(out, plain);
}

TEST(ChunkedAead, PayloadKeyIsBoundToThePolicy) {
  TempDir dir;
  Key256 content = TestKey(5);
  Key256 k1 = DerivePayloadKey(content, PolicyDigest("tier: closed\n"));
  Key256 k2 = DerivePayloadKey(content, PolicyDigest("tier: open\n"));
  EXPECT_NE(k1, k2);
  auto plain = RandomBytes(300, 5);
  auto enc = Encrypt(plain, k1, 64, dir);
  std::vector<uint8_t> out;
  EXPECT_FALSE(Decrypt(enc, k2, dir, &out).ok());
}

TEST(KeyWrap, X25519RsaAndEcRecipientsUnwrapOnlyWithTheirKeyAndPolicy) {
  Digest policy = PolicyDigest("policy A");
  Digest other = PolicyDigest("policy B");
  Key256 content = TestKey(7);
  for (const char* algo : {"x25519", "rsa-3072"}) {
    auto alice = RecipientKey::Generate(algo);
    auto bob = RecipientKey::Generate(algo);
    ASSERT_TRUE(alice.ok() && bob.ok()) << algo;
    auto w = WrapContentKey(content, *alice, policy);
    ASSERT_TRUE(w.ok()) << algo << ": " << w.error().ToString();
    auto k = UnwrapContentKey(*w, *alice, policy);
    ASSERT_TRUE(k.ok()) << algo << ": " << k.error().ToString();
    EXPECT_EQ(*k, content);
    EXPECT_FALSE(UnwrapContentKey(*w, *alice, other).ok()) << algo << ": swapped policy";
    EXPECT_FALSE(UnwrapContentKey(*w, *bob, policy).ok()) << algo << ": wrong key";
    WrappedKey forged = *w;
    forged.recipient = bob->Fingerprint();  // claims to be for bob: bob still cannot open it
    EXPECT_FALSE(UnwrapContentKey(forged, *bob, policy).ok()) << algo;
    forged = *w;
    forged.wrapped[3] ^= 1;
    EXPECT_FALSE(UnwrapContentKey(forged, *alice, policy).ok()) << algo << ": tampered";
  }
  auto small = RecipientKey::Generate("rsa-3072");
  ASSERT_TRUE(small.ok());
}

struct Keys {
  signing::EcKey publisher = std::move(signing::EcKey::Generate(signing::Curve::kP256)).value();
  RecipientKey alice = std::move(RecipientKey::Generate("x25519")).value();
  RecipientKey bob = std::move(RecipientKey::Generate("x25519")).value();
};

TEST(Grant, OpensOnlyForItsRecipientPackagePolicyAndLifetime) {
  Keys k;
  Digest policy = PolicyDigest("closed policy");
  Key256 content = TestKey(3);
  int64_t now = 1800000000;
  auto g = IssueGrant(content, k.alice, policy, "model:1", now + 86400, k.publisher, now);
  ASSERT_TRUE(g.ok()) << g.error().ToString();
  auto parsed = ParseGrant(GrantToJson(*g), "alice.grant");
  ASSERT_TRUE(parsed.ok()) << parsed.error().ToString();
  auto key = OpenGrant(*parsed, k.alice, k.publisher, policy, "model:1", now + 10, "alice.grant");
  ASSERT_TRUE(key.ok()) << key.error().ToString();
  EXPECT_EQ(*key, content);

  auto expired =
      OpenGrant(*parsed, k.alice, k.publisher, policy, "model:1", now + 86400, "alice.grant");
  ASSERT_FALSE(expired.ok());
  EXPECT_EQ(expired.error().code(), ErrorCode::kUntrusted);
  EXPECT_NE(expired.error().message().find("expired"), std::string::npos);

  auto wrong_id = OpenGrant(*parsed, k.bob, k.publisher, policy, "model:1", now, "alice.grant");
  ASSERT_FALSE(wrong_id.ok());
  EXPECT_EQ(wrong_id.error().code(), ErrorCode::kMismatch);

  auto swapped =
      OpenGrant(*parsed, k.alice, k.publisher, PolicyDigest("open policy"), "model:1", now, "g");
  ASSERT_FALSE(swapped.ok());
  EXPECT_EQ(swapped.error().field().value_or(""), "policy_digest");

  auto other_pkg = OpenGrant(*parsed, k.alice, k.publisher, policy, "model:2", now, "g");
  EXPECT_FALSE(other_pkg.ok());

  Grant edited = *parsed;
  edited.expires = now + 10 * 86400;  // extend your own grant: signature breaks
  auto e = OpenGrant(edited, k.alice, k.publisher, policy, "model:1", now, "g");
  ASSERT_FALSE(e.ok());
  EXPECT_EQ(e.error().code(), ErrorCode::kBadSignature);

  auto other_publisher = std::move(signing::EcKey::Generate(signing::Curve::kP256)).value();
  auto forged = OpenGrant(*parsed, k.alice, other_publisher, policy, "model:1", now, "g");
  ASSERT_FALSE(forged.ok());
  EXPECT_EQ(forged.error().code(), ErrorCode::kBadSignature);

  EXPECT_FALSE(IssueGrant(content, k.alice, policy, "model:1", now - 1, k.publisher, now).ok());
}

// --- the CLI, end to end on the real stories260K model ---

class SealCli : public ::testing::Test {
 protected:
  void SetUp() override {
    model_ = dir_ / "model";
    test::CopyStoriesModel(model_);
    ASSERT_EQ(RunCli({"keygen", "--algo", "ecdsa-p256", "-o", dir_ / "publisher"}).exit_code, 0);
    ASSERT_EQ(RunCli({"keygen", "--algo", "x25519", "-o", dir_ / "alice"}).exit_code, 0);
    ASSERT_EQ(RunCli({"keygen", "--algo", "x25519", "-o", dir_ / "bob"}).exit_code, 0);
    policy_ = SourcePath("examples/policies/closed-internal.yaml");
    auto r =
        RunCli({"seal", model_, "--policy", policy_, "--publisher-key", dir_ / "publisher.key",
                "--recipient", dir_ / "alice.pub", "--package", "stories260K:1", "-o", sealed_});
    ASSERT_EQ(r.exit_code, 0) << r.err;
  }

  TempDir dir_;
  std::string model_, policy_;
  std::string sealed_ = dir_ / "sealed";
};

TEST_F(SealCli, RecipientUnsealsTheRealModelByteForByte) {
  EXPECT_FALSE(fs::exists(sealed_ + "/stories260K.bin"));  // only ciphertext in the release
  auto r = RunCli({"unseal", sealed_, "--identity", dir_ / "alice.key", "--grant",
                   sealed_ + "/grants/alice.grant", "-o", dir_ / "out"});
  ASSERT_EQ(r.exit_code, 0) << r.err;
  EXPECT_EQ(ReadAll(dir_ / "out/stories260K.bin"),
            ReadAll(TestData("models/stories260K/stories260K.bin")));
  EXPECT_EQ(ReadAll(dir_ / "out/tok512.bin"), ReadAll(TestData("models/stories260K/tok512.bin")));
}

TEST_F(SealCli, LaterGrantAdmitsANewRecipientWithoutReencrypting) {
  auto before = ReadAll(sealed_ + "/stories260K.bin.wgenc");
  auto r = RunCli({"grant", sealed_, "--publisher-key", dir_ / "publisher.key", "--recipient",
                   dir_ / "bob.pub", "--expires", policy::FormatUtcTime(std::time(nullptr) + 86400),
                   "-o", dir_ / "bob.grant"});
  ASSERT_EQ(r.exit_code, 0) << r.err;
  EXPECT_EQ(ReadAll(sealed_ + "/stories260K.bin.wgenc"), before);
  r = RunCli({"unseal", sealed_, "--identity", dir_ / "bob.key", "--grant", dir_ / "bob.grant",
              "-o", dir_ / "out"});
  ASSERT_EQ(r.exit_code, 0) << r.err;
  // The policy caps grants at P30D.
  r = RunCli({"grant", sealed_, "--publisher-key", dir_ / "publisher.key", "--recipient",
              dir_ / "bob.pub", "--expires", "2099-01-01", "-o", dir_ / "long.grant"});
  EXPECT_EQ(r.exit_code, 2);
  EXPECT_NE(r.err.find("grant_max_lifetime"), std::string::npos) << r.err;
  // Only the publisher can issue grants.
  r = RunCli({"keygen", "--algo", "ecdsa-p256", "-o", dir_ / "mallory"});
  r = RunCli({"grant", sealed_, "--publisher-key", dir_ / "mallory.key", "--recipient",
              dir_ / "bob.pub", "-o", dir_ / "m.grant"});
  EXPECT_EQ(r.exit_code, 5) << r.err;
}

TEST_F(SealCli, RefusalsLeaveNoPlaintext) {
  auto unseal = [&](const std::string& identity, const std::string& grant) {
    return RunCli(
        {"unseal", sealed_, "--identity", identity, "--grant", grant, "-o", dir_ / "out"});
  };
  // Wrong key: bob holding alice's grant.
  auto r = unseal(dir_ / "bob.key", sealed_ + "/grants/alice.grant");
  EXPECT_EQ(r.exit_code, 1) << r.err;
  EXPECT_NE(r.err.find("another recipient"), std::string::npos) << r.err;
  EXPECT_FALSE(fs::exists(dir_ / "out"));

  // Expired grant (issued in the past by the real publisher key).
  {
    auto pub = signing::EcKey::ReadPrivateKeyFile(dir_ / "publisher.key", std::nullopt);
    auto alice = RecipientKey::ReadPublicKeyFile(dir_ / "alice.pub");
    auto g = ReadGating(sealed_);
    ASSERT_TRUE(pub.ok() && alice.ok() && g.ok());
    int64_t past = std::time(nullptr) - 10 * 86400;
    auto grant = GrantAccess(sealed_, *pub, *alice, past + 86400, past);
    ASSERT_TRUE(grant.ok()) << grant.error().ToString();
    test::WriteText(dir_ / "expired.grant", GrantToJson(*grant));
  }
  r = unseal(dir_ / "alice.key", dir_ / "expired.grant");
  EXPECT_EQ(r.exit_code, 5) << r.err;
  EXPECT_NE(r.err.find("expired"), std::string::npos);
  EXPECT_FALSE(fs::exists(dir_ / "out"));

  // Tampered ciphertext chunk.
  std::string enc = sealed_ + "/stories260K.bin.wgenc";
  auto bytes = ReadAll(enc);
  auto original = bytes;
  bytes[kAeadHeaderSize + 100] ^= 0x01;
  WriteAll(enc + ".t", bytes);
  fs::rename(enc + ".t", enc);
  r = unseal(dir_ / "alice.key", sealed_ + "/grants/alice.grant");
  EXPECT_EQ(r.exit_code, 1) << r.err;
  EXPECT_NE(r.err.find("does not authenticate"), std::string::npos) << r.err;
  EXPECT_FALSE(fs::exists(dir_ / "out"));
  EXPECT_FALSE(fs::exists(dir_ / "out.wg-tmp"));

  // Truncated stream.
  original.resize(original.size() - 1000);
  WriteAll(enc + ".t", original);
  fs::rename(enc + ".t", enc);
  r = unseal(dir_ / "alice.key", sealed_ + "/grants/alice.grant");
  EXPECT_EQ(r.exit_code, 1) << r.err;
  EXPECT_NE(r.err.find("truncated"), std::string::npos) << r.err;
  EXPECT_FALSE(fs::exists(dir_ / "out"));

  // Swapped policy: an open-tier policy in place of the sealed one.
  fs::remove(sealed_ + "/policy.yaml");
  fs::copy_file(SourcePath("examples/policies/open-apache-2.0.yaml"), sealed_ + "/policy.yaml");
  r = unseal(dir_ / "alice.key", sealed_ + "/grants/alice.grant");
  EXPECT_EQ(r.exit_code, 1) << r.err;
  EXPECT_NE(r.err.find("policy differs"), std::string::npos) << r.err;
  EXPECT_FALSE(fs::exists(dir_ / "out"));
}

TEST_F(SealCli, ClosedReleaseIsUnreadableWithoutAGrant) {
  auto r = RunCli({"unseal", sealed_, "--identity", dir_ / "bob.key", "-o", dir_ / "out"});
  EXPECT_EQ(r.exit_code, 2);  // --grant is required
  EXPECT_FALSE(fs::exists(dir_ / "out"));
  r = RunCli({"seal", model_, "--policy", SourcePath("examples/policies/open-apache-2.0.yaml"),
              "--publisher-key", dir_ / "publisher.key", "-o", dir_ / "open-sealed"});
  EXPECT_EQ(r.exit_code, 2);  // open tiers are not encrypted
}

}  // namespace
}  // namespace wg::policy
