// The OCI distribution client against a real registry (Debian's docker-registry on
// 127.0.0.1), with a faulty proxy in front where a case needs 503s, dropped connections
// or a Bearer token server.
#include "weightgate/package/registry.h"

#include <gtest/gtest.h>
#include <unistd.h>

#include <cstdlib>
#include <filesystem>
#include <fstream>
#include <random>

#include "support/registry_server.h"
#include "support/test_util.h"
#include "weightgate/core/hash.h"

namespace wg::test {
namespace {

namespace fs = std::filesystem;
using package::ImageReference;
using package::RegistryClient;
using package::RegistryOptions;

std::vector<uint8_t> RandomBytes(size_t n, uint32_t seed) {
  std::mt19937 rng(seed);
  std::vector<uint8_t> v(n);
  for (auto& b : v) b = static_cast<uint8_t>(rng());
  return v;
}

std::string DigestOf(const std::vector<uint8_t>& v) {
  return HashBytes(HashAlgo::kSha256, Bytes(v.data(), v.size())).Prefixed();
}
std::string DigestOf(const std::string& s) {
  return HashBytes(HashAlgo::kSha256, Bytes(reinterpret_cast<const uint8_t*>(s.data()), s.size()))
      .Prefixed();
}

RegistryOptions FastOptions() {
  RegistryOptions o;
  o.plain_http = true;
  o.initial_backoff = std::chrono::milliseconds(10);
  o.max_backoff = std::chrono::milliseconds(100);
  o.progress = false;
  return o;
}

// A minimal artifact manifest naming a config and layers.
std::string ManifestFor(const std::string& config_digest, size_t config_size,
                        const std::vector<std::pair<std::string, size_t>>& layers) {
  std::string m =
      R"({"schemaVersion":2,"mediaType":"application/vnd.oci.image.manifest.v1+json",)"
      R"("artifactType":"application/vnd.cncf.model.manifest.v1+json",)"
      R"("config":{"mediaType":"application/vnd.cncf.model.config.v1+json","digest":")" +
      config_digest + R"(","size":)" + std::to_string(config_size) + R"(},"layers":[)";
  for (size_t i = 0; i < layers.size(); ++i) {
    if (i) m += ",";
    m += R"({"mediaType":"application/vnd.cncf.model.weight.v1.raw","digest":")" + layers[i].first +
         R"(","size":)" + std::to_string(layers[i].second) + "}";
  }
  return m + "]}";
}

class RegistryTest : public ::testing::Test {
 protected:
  void SetUp() override {
    server_ = std::make_unique<RegistryServer>();
    if (!server_->ok()) GTEST_SKIP() << "skipping registry test: " << server_->error();
  }
  std::unique_ptr<RegistryClient> Client(RegistryOptions o = FastOptions(), std::string host = "") {
    auto c = RegistryClient::Create(host.empty() ? server_->host() : host, std::move(o));
    EXPECT_TRUE(c.ok()) << c.error().ToString();
    return std::move(c).value();
  }
  // Writes bytes to a file in the temp dir and pushes it as a blob.
  std::string PushFile(RegistryClient& c, const std::string& repo,
                       const std::vector<uint8_t>& bytes, const std::string& name) {
    std::string path = tmp_ / name;
    WriteAll(path, bytes);
    std::string d = DigestOf(bytes);
    Status s = c.PushBlob(repo, d, path, 0, bytes.size());
    EXPECT_TRUE(s.ok()) << s.error().ToString();
    return d;
  }
  std::unique_ptr<RegistryServer> server_;
  TempDir tmp_;
};

TEST(ImageReferenceTest, ParsesRegistryRepositoryTagAndDigest) {
  auto r = ImageReference::Parse("127.0.0.1:5000/team/model:v1.2");
  ASSERT_TRUE(r.ok()) << r.error().ToString();
  EXPECT_EQ(r->registry, "127.0.0.1:5000");
  EXPECT_EQ(r->repository, "team/model");
  EXPECT_EQ(r->tag, "v1.2");
  EXPECT_EQ(r->ManifestRef(), "v1.2");

  std::string hex(64, 'a');
  r = ImageReference::Parse("localhost/m@sha256:" + hex);
  ASSERT_TRUE(r.ok());
  EXPECT_EQ(r->registry, "localhost");
  EXPECT_EQ(r->repository, "m");
  EXPECT_TRUE(r->tag.empty());
  EXPECT_EQ(r->ManifestRef(), "sha256:" + hex);

  r = ImageReference::Parse("ghcr.io/org/m:t@sha256:" + hex);
  ASSERT_TRUE(r.ok());
  EXPECT_EQ(r->tag, "t");
  EXPECT_EQ(r->digest, "sha256:" + hex);

  r = ImageReference::Parse("ubuntu");
  ASSERT_TRUE(r.ok());
  EXPECT_EQ(r->registry, "docker.io");
  EXPECT_EQ(r->repository, "library/ubuntu");
  EXPECT_EQ(r->tag, "latest");
  EXPECT_EQ(r->ApiHost(), "registry-1.docker.io");

  for (const char* bad : {"", "Host:5000/UPPER:tag", "h.io/a//b", "h.io/a:bad tag",
                          "h.io/a@sha256:xyz", "h.io/a@md5:0123", "h.io/-a"}) {
    auto b = ImageReference::Parse(bad);
    EXPECT_FALSE(b.ok()) << bad;
    if (!b.ok()) {
      EXPECT_EQ(b.error().code(), ErrorCode::kUsage);
    }
  }
}

TEST_F(RegistryTest, PushThenPullRoundTripIsByteIdentical) {
  auto c = Client();
  auto weights = RandomBytes(3 << 20, 1);
  std::string config =
      R"({"descriptor":{"name":"m"},"config":{},"modelfs":{"type":"layers","diffIds":[]}})";
  std::string wd = PushFile(*c, "team/model", weights, "w.bin");
  ASSERT_TRUE(c->PushBlobBytes("team/model", DigestOf(config), config).ok());
  std::string manifest = ManifestFor(DigestOf(config), config.size(), {{wd, weights.size()}});
  auto md =
      c->PushManifest("team/model", "v1", "application/vnd.oci.image.manifest.v1+json", manifest);
  ASSERT_TRUE(md.ok()) << md.error().ToString();
  EXPECT_EQ(*md, DigestOf(manifest));
  EXPECT_EQ(c->stats().blobs_uploaded, 2u);

  auto fresh = Client();
  for (const std::string ref : {std::string("v1"), *md}) {
    auto m = fresh->PullManifest("team/model", ref);
    ASSERT_TRUE(m.ok()) << m.error().ToString();
    EXPECT_EQ(m->bytes, manifest);  // stored verbatim
    EXPECT_EQ(m->digest, *md);
    EXPECT_EQ(m->media_type, "application/vnd.oci.image.manifest.v1+json");
  }
  std::string out = tmp_ / "pulled.bin";
  Status s = fresh->PullBlob("team/model", wd, weights.size(), out);
  ASSERT_TRUE(s.ok()) << s.error().ToString();
  EXPECT_EQ(ReadAll(out), weights);
  EXPECT_FALSE(fs::exists(out + ".part"));
  EXPECT_EQ(fresh->stats().bytes_downloaded, weights.size());

  auto missing = fresh->PullManifest("team/model", "nope");
  ASSERT_FALSE(missing.ok());
  EXPECT_NE(missing.error().ToString().find("manifest not found"), std::string::npos)
      << missing.error().ToString();
}

TEST_F(RegistryTest, SecondVersionSharingWeightsUploadsOnlyWhatChanged) {
  auto c = Client();
  auto weights = RandomBytes(2 << 20, 2);
  auto tokenizer = RandomBytes(4096, 3);
  PushFile(*c, "m", weights, "w.bin");
  PushFile(*c, "m", tokenizer, "t.bin");
  EXPECT_EQ(c->stats().blobs_uploaded, 2u);

  auto c2 = Client();
  auto tokenizer2 = RandomBytes(4096, 4);
  PushFile(*c2, "m", weights, "w.bin");      // same weights: HEAD says present
  PushFile(*c2, "m", tokenizer2, "t2.bin");  // changed file: uploaded
  EXPECT_EQ(c2->stats().blobs_skipped, 1u);
  EXPECT_EQ(c2->stats().blobs_uploaded, 1u);
  EXPECT_EQ(c2->stats().bytes_uploaded, tokenizer2.size());
}

TEST_F(RegistryTest, MountsBlobsFromAnotherRepository) {
  auto c = Client();
  auto weights = RandomBytes(1 << 20, 5);
  std::string d = PushFile(*c, "base/model", weights, "w.bin");
  RegistryOptions o = FastOptions();
  o.mount_from = {"base/model"};
  auto c2 = Client(o);
  PushFile(*c2, "finetune/model", weights, "w.bin");
  EXPECT_EQ(c2->stats().blobs_mounted, 1u);
  EXPECT_EQ(c2->stats().bytes_uploaded, 0u);
  auto yes = c2->BlobExists("finetune/model", d);
  ASSERT_TRUE(yes.ok());
  EXPECT_TRUE(*yes);
}

TEST_F(RegistryTest, ChunkedUploadWithSmallThreshold) {
  RegistryOptions o = FastOptions();
  o.monolithic_max = 256 << 10;
  o.chunk_size = 256 << 10;
  auto c = Client(o);
  auto weights = RandomBytes((3 << 20) / 2 + 123, 6);  // 6 full chunks and a short one
  std::string d = PushFile(*c, "chunked", weights, "w.bin");
  EXPECT_EQ(c->stats().chunks_uploaded, 7u);
  EXPECT_EQ(c->stats().bytes_uploaded, weights.size());
  std::string out = tmp_ / "out.bin";
  ASSERT_TRUE(c->PullBlob("chunked", d, weights.size(), out).ok());
  EXPECT_EQ(ReadAll(out), weights);
}

TEST_F(RegistryTest, PushFromFileRangeAndRefuseShortFile) {
  auto c = Client();
  auto all = RandomBytes(10000, 7);
  std::string path = tmp_ / "tarlike.bin";
  WriteAll(path, all);
  std::vector<uint8_t> mid(all.begin() + 1000, all.begin() + 6000);
  std::string d = DigestOf(mid);
  ASSERT_TRUE(c->PushBlob("r", d, path, 1000, mid.size()).ok());
  std::string out = tmp_ / "mid.bin";
  ASSERT_TRUE(c->PullBlob("r", d, mid.size(), out).ok());
  EXPECT_EQ(ReadAll(out), mid);
  Status s = c->PushBlob("r", DigestOf(all), path, 5000, 10000);
  ASSERT_FALSE(s.ok());
  EXPECT_EQ(s.error().code(), ErrorCode::kMalformed);
  // A digest that does not match the bytes is refused by the registry.
  std::vector<uint8_t> other = RandomBytes(100, 8);
  s = c->PushBlob("r", DigestOf(other), path, 0, 100);
  EXPECT_FALSE(s.ok());
}

TEST_F(RegistryTest, ResumesPullFromTruncatedPartialFile) {
  auto c = Client();
  auto weights = RandomBytes(2 << 20, 9);
  std::string d = PushFile(*c, "resume", weights, "w.bin");
  std::string out = tmp_ / "out.bin";
  // An earlier pull died after 40%.
  std::vector<uint8_t> head(weights.begin(), weights.begin() + weights.size() * 2 / 5);
  WriteAll(out + ".part", head);
  auto c2 = Client();
  Status s = c2->PullBlob("resume", d, weights.size(), out);
  ASSERT_TRUE(s.ok()) << s.error().ToString();
  EXPECT_EQ(ReadAll(out), weights);
  EXPECT_EQ(c2->stats().blobs_resumed, 1u);
  EXPECT_EQ(c2->stats().bytes_downloaded, weights.size() - head.size());

  // A partial file whose bytes are wrong fails verification and is deleted, so the
  // next attempt starts clean and succeeds.
  fs::remove(out);
  auto bad = head;
  bad[10] ^= 1;
  WriteAll(out + ".part", bad);
  auto c3 = Client();
  s = c3->PullBlob("resume", d, weights.size(), out);
  ASSERT_FALSE(s.ok());
  EXPECT_EQ(s.error().code(), ErrorCode::kMismatch);
  EXPECT_FALSE(fs::exists(out));
  EXPECT_FALSE(fs::exists(out + ".part"));
  ASSERT_TRUE(c3->PullBlob("resume", d, weights.size(), out).ok());
  EXPECT_EQ(ReadAll(out), weights);
}

TEST_F(RegistryTest, BlobWithWrongDigestIsRefusedAndDeleted) {
  auto c = Client();
  auto weights = RandomBytes(1 << 20, 10);
  std::string d = PushFile(*c, "tamper", weights, "w.bin");
  fs::path data = server_->BlobDataPath(d);
  ASSERT_TRUE(fs::exists(data)) << data;
  auto stored = ReadAll(data.string());
  stored[stored.size() / 2] ^= 0x40;  // one bit flipped in the registry's storage
  WriteAll(data.string(), stored);
  std::string out = tmp_ / "out.bin";
  Status s = c->PullBlob("tamper", d, weights.size(), out);
  ASSERT_FALSE(s.ok());
  EXPECT_EQ(s.error().code(), ErrorCode::kMismatch);
  EXPECT_NE(s.error().ToString().find(d), std::string::npos) << s.error().ToString();
  EXPECT_FALSE(fs::exists(out));
  EXPECT_FALSE(fs::exists(out + ".part"));
}

TEST_F(RegistryTest, RetriesServiceUnavailable) {
  FaultyProxy proxy(server_->host(), {"--fail-503", "3"});
  ASSERT_TRUE(proxy.ok()) << proxy.Log();
  auto c = Client(FastOptions(), proxy.host());
  auto weights = RandomBytes(1 << 20, 11);
  std::string d = PushFile(*c, "flaky", weights, "w.bin");
  EXPECT_EQ(c->stats().retries, 3u);
  EXPECT_NE(proxy.Log().find("FAULT 503"), std::string::npos);
  auto yes = c->BlobExists("flaky", d);
  ASSERT_TRUE(yes.ok());
  EXPECT_TRUE(*yes);

  // Bounded: more failures than attempts is a clear I/O error.
  FaultyProxy worse(server_->host(), {"--fail-503", "100"});
  ASSERT_TRUE(worse.ok());
  RegistryOptions o = FastOptions();
  o.max_attempts = 3;
  auto c2 = Client(o, worse.host());
  auto r = c2->BlobExists("flaky", d);
  ASSERT_FALSE(r.ok());
  EXPECT_EQ(r.error().code(), ErrorCode::kIo);
  EXPECT_NE(r.error().ToString().find("after 3 attempt(s)"), std::string::npos)
      << r.error().ToString();
  EXPECT_NE(r.error().ToString().find("HTTP 503"), std::string::npos) << r.error().ToString();
}

TEST_F(RegistryTest, DroppedConnectionDuringPullIsResumedWithRange) {
  auto weights = RandomBytes(4 << 20, 12);
  std::string d = PushFile(*Client(), "dropped", weights, "w.bin");
  FaultyProxy proxy(server_->host(), {"--drop-blob-get", "1"});
  ASSERT_TRUE(proxy.ok());
  auto c = Client(FastOptions(), proxy.host());
  std::string out = tmp_ / "out.bin";
  Status s = c->PullBlob("dropped", d, weights.size(), out);
  ASSERT_TRUE(s.ok()) << s.error().ToString() << "\n" << proxy.Log();
  EXPECT_EQ(ReadAll(out), weights);
  EXPECT_EQ(c->stats().retries, 1u);
  EXPECT_NE(proxy.Log().find("FAULT drop"), std::string::npos);
  // Only the missing half went over the wire again.
  EXPECT_EQ(c->stats().bytes_downloaded, weights.size());
}

TEST_F(RegistryTest, FailedChunkContinuesWhereTheRegistryStands) {
  // The third PATCH answers 503: the client asks the upload session for its Range and
  // sends that chunk again, not the whole blob.
  FaultyProxy proxy(server_->host(),
                    {"--fail-503", "1", "--fail-method", "PATCH", "--fail-skip", "2"});
  ASSERT_TRUE(proxy.ok());
  RegistryOptions o = FastOptions();
  o.monolithic_max = 256 << 10;
  o.chunk_size = 256 << 10;
  auto c = Client(o, proxy.host());
  auto weights = RandomBytes(5 * (256 << 10), 15);
  std::string d = PushFile(*c, "chunks", weights, "w.bin");
  EXPECT_NE(proxy.Log().find("FAULT 503 PATCH"), std::string::npos) << proxy.Log();
  EXPECT_EQ(c->stats().retries, 1u);
  EXPECT_EQ(c->stats().chunks_uploaded, 5u);
  EXPECT_EQ(c->stats().blobs_uploaded, 1u);
  EXPECT_EQ(c->stats().bytes_uploaded, weights.size() + (256 << 10));  // one chunk twice
  std::string out = tmp_ / "out.bin";
  ASSERT_TRUE(Client()->PullBlob("chunks", d, weights.size(), out).ok());
  EXPECT_EQ(ReadAll(out), weights);
}

TEST_F(RegistryTest, ResumeAgainstServerIgnoringRangeStartsOver) {
  auto weights = RandomBytes(1 << 20, 16);
  std::string d = PushFile(*Client(), "norange", weights, "w.bin");
  FaultyProxy proxy(server_->host(), {"--ignore-range"});
  ASSERT_TRUE(proxy.ok());
  std::string out = tmp_ / "out.bin";
  WriteAll(out + ".part", std::vector<uint8_t>(weights.begin(), weights.begin() + 1000));
  auto c = Client(FastOptions(), proxy.host());
  Status s = c->PullBlob("norange", d, weights.size(), out);
  ASSERT_TRUE(s.ok()) << s.error().ToString();
  EXPECT_EQ(ReadAll(out), weights);
  EXPECT_EQ(c->stats().bytes_downloaded, weights.size());
  EXPECT_NE(proxy.Log().find("FAULT range ignored"), std::string::npos);
}

TEST_F(RegistryTest, StreamedPullDeliversEachByteOnceAcrossDropsAndIgnoredRanges) {
  auto weights = RandomBytes(4 << 20, 17);
  std::string d = PushFile(*Client(), "stream", weights, "w.bin");
  // A connection dropped mid-body resumes with Range; a proxy that then ignores the Range
  // resends from byte 0 and the bytes the sink already has are skipped, not delivered twice.
  for (std::vector<std::string> fault :
       {std::vector<std::string>{"--drop-blob-get", "1"},
        std::vector<std::string>{"--drop-blob-get", "1", "--ignore-range"}}) {
    FaultyProxy proxy(server_->host(), fault);
    ASSERT_TRUE(proxy.ok());
    auto c = Client(FastOptions(), proxy.host());
    std::vector<uint8_t> got;
    Status s = c->PullBlobStream("stream", d, weights.size(), [&](Bytes b) {
      got.insert(got.end(), b.begin(), b.end());
      return Ok();
    });
    ASSERT_TRUE(s.ok()) << s.error().ToString() << "\n" << proxy.Log();
    EXPECT_EQ(got, weights) << fault.size();
    EXPECT_EQ(c->stats().retries, 1u);
    EXPECT_NE(proxy.Log().find("FAULT drop"), std::string::npos) << proxy.Log();
  }
  // A descriptor size smaller than the blob: refused, the sink never sees the excess.
  uint64_t seen = 0;
  Status s = Client()->PullBlobStream("stream", d, 1000, [&](Bytes b) {
    seen += b.size();
    return Ok();
  });
  ASSERT_FALSE(s.ok());
  EXPECT_EQ(s.error().code(), ErrorCode::kMismatch);
  EXPECT_LE(seen, 1000u);
}

TEST_F(RegistryTest, BearerTokenFlow) {
  FaultyProxy proxy(server_->host(), {"--bearer", "alice:s3cret"});
  ASSERT_TRUE(proxy.ok());
  RegistryOptions o = FastOptions();
  o.username = "alice";
  o.password = "s3cret";
  auto c = Client(o, proxy.host());
  auto weights = RandomBytes(100000, 13);
  std::string d = PushFile(*c, "secure/m", weights, "w.bin");
  std::string out = tmp_ / "out.bin";
  ASSERT_TRUE(c->PullBlob("secure/m", d, weights.size(), out).ok());
  EXPECT_EQ(ReadAll(out), weights);
  EXPECT_NE(proxy.Log().find("TOKEN issued"), std::string::npos);

  o.password = "wrong";
  auto bad = Client(o, proxy.host());
  auto r = bad->BlobExists("secure/m", d);
  ASSERT_FALSE(r.ok());
  EXPECT_NE(r.error().ToString().find("refused the credentials"), std::string::npos)
      << r.error().ToString();
}

class BasicAuthRegistryTest : public RegistryTest {
 protected:
  void SetUp() override {
    ::unsetenv("WEIGHTGATE_REGISTRY_USER");
    ::unsetenv("WEIGHTGATE_REGISTRY_PASSWORD");
    ::setenv("DOCKER_CONFIG", (tmp_ / "docker").c_str(), 1);
    server_ = std::make_unique<RegistryServer>(RegistryServer::Options{"bob", "hunter2"});
    if (!server_->ok()) GTEST_SKIP() << "skipping registry test: " << server_->error();
  }
};

TEST_F(BasicAuthRegistryTest, HtpasswdRegistryNeedsCredentials) {
  auto weights = RandomBytes(50000, 14);
  std::string path = tmp_ / "w.bin";
  WriteAll(path, weights);
  std::string d = DigestOf(weights);
  {
    auto anon = Client();
    Status s = anon->PushBlob("m", d, path, 0, weights.size());
    ASSERT_FALSE(s.ok());
    EXPECT_NE(s.error().ToString().find("WEIGHTGATE_REGISTRY_USER"), std::string::npos)
        << s.error().ToString();
  }
  // From the environment.
  ::setenv("WEIGHTGATE_REGISTRY_USER", "bob", 1);
  ::setenv("WEIGHTGATE_REGISTRY_PASSWORD", "hunter2", 1);
  {
    auto c = Client();
    Status s = c->PushBlob("m", d, path, 0, weights.size());
    ASSERT_TRUE(s.ok()) << s.error().ToString();
  }
  ::unsetenv("WEIGHTGATE_REGISTRY_USER");
  ::unsetenv("WEIGHTGATE_REGISTRY_PASSWORD");
  // From $DOCKER_CONFIG/config.json, as `docker login` writes it.
  fs::create_directories(tmp_ / "docker");
  WriteText(
      tmp_ / "docker/config.json",
      R"({"auths":{")" + server_->host() + R"(":{"auth":"Ym9iOmh1bnRlcjI="}}})");  // bob:hunter2
  {
    auto c = Client();
    std::string out = tmp_ / "out.bin";
    Status s = c->PullBlob("m", d, weights.size(), out);
    ASSERT_TRUE(s.ok()) << s.error().ToString();
    EXPECT_EQ(ReadAll(out), weights);
  }
  // Wrong password: a clear error, not a hang or a retry storm.
  WriteText(tmp_ / "docker/config.json", R"({"auths":{"http://)" + server_->host() +
                                             R"(/v2/":{"username":"bob","password":"nope"}}})");
  {
    auto c = Client();
    auto r = c->BlobExists("m", d);
    ASSERT_FALSE(r.ok());
    EXPECT_NE(r.error().ToString().find("401"), std::string::npos) << r.error().ToString();
  }
}

}  // namespace
}  // namespace wg::test
