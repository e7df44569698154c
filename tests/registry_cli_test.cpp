// weightgate push / pull as a user runs them, against Debian's docker-registry on 127.0.0.1,
// with skopeo as the interop oracle: what we push skopeo copies back byte-for-byte, and
// what skopeo pushes from our layout we pull.
#include <gtest/gtest.h>

#include <filesystem>
#include <nlohmann/json.hpp>
#include <random>

#include "support/registry_server.h"
#include "support/test_util.h"
#include "weightgate/core/hash.h"
#include "weightgate/package/oci_layout.h"
#include "weightgate/package/registry_transfer.h"

namespace wg::test {
namespace {

namespace fs = std::filesystem;

std::vector<uint8_t> RandomBytes(size_t n, uint32_t seed) {
  std::mt19937 rng(seed);
  std::vector<uint8_t> v(n);
  for (auto& b : v) b = static_cast<uint8_t>(rng());
  return v;
}

struct BuiltPackage {
  std::string manifest_digest;
  std::string weights_digest;
};

// A small ModelPack package written with the layout API: weights, tokenizer, config.
BuiltPackage MakePackage(const TempDir& tmp, const std::string& out,
                         const std::vector<uint8_t>& weights, const std::string& tokenizer,
                         const std::string& version, bool tar = false) {
  std::string wpath = tmp / ("weights-" + version + ".bin");
  WriteAll(wpath, weights);
  std::string tpath = tmp / ("tokenizer-" + version + ".json");
  WriteText(tpath, tokenizer);
  oci::WriterOptions wo;
  wo.tar = tar;
  auto w = oci::LayoutWriter::Create(out, wo);
  EXPECT_TRUE(w.ok()) << w.error().ToString();
  auto wd = (*w)->AddFile(wpath, oci::kModelWeightRaw);
  auto td = (*w)->AddFile(tpath, oci::kModelWeightConfigRaw);
  std::string config = R"({"descriptor":{"name":"tiny","version":")" + version +
                       R"("},"config":{"format":"raw"},"modelfs":{"type":"layers","diffIds":[]}})";
  auto cd = (*w)->AddBytes(config, oci::kModelConfig);
  EXPECT_TRUE(wd.ok() && td.ok() && cd.ok());
  oci::Manifest m;
  m.artifact_type = std::string(oci::kModelArtifactType);
  m.config = *cd;
  m.layers = {*wd, *td};
  m.layers[0].annotations[std::string(oci::kAnnotationFilepath)] = "model.bin";
  m.layers[1].annotations[std::string(oci::kAnnotationFilepath)] = "tokenizer.json";
  auto md = (*w)->AddBytes(m.Serialize(), oci::kOciManifest);
  EXPECT_TRUE(md.ok());
  md->artifact_type = m.artifact_type;
  md->annotations[std::string(oci::kAnnotationRefName)] = version;
  oci::Index index;
  index.manifests = {*md};
  Status s = (*w)->Commit(index);
  EXPECT_TRUE(s.ok()) << s.error().ToString();
  return {md->digest, wd->digest};
}

// Every blob file of layout a equals b's file of the same name.
void ExpectSameBlobs(const fs::path& a, const fs::path& b) {
  size_t n = 0;
  for (const auto& e : fs::directory_iterator(a / "blobs/sha256")) {
    fs::path other = b / "blobs/sha256" / e.path().filename();
    ASSERT_TRUE(fs::exists(other)) << other;
    EXPECT_EQ(ReadAll(e.path().string()), ReadAll(other.string())) << e.path();
    ++n;
  }
  EXPECT_EQ(n, static_cast<size_t>(std::distance(fs::directory_iterator(b / "blobs/sha256"), {})));
}

class RegistryCliTest : public ::testing::Test {
 protected:
  void SetUp() override {
    server_ = std::make_unique<RegistryServer>();
    if (!server_->ok()) GTEST_SKIP() << "skipping registry test: " << server_->error();
    weights_ = RandomBytes(3 << 20, 42);
  }
  std::string Ref(const std::string& repo_tag) const { return server_->host() + "/" + repo_tag; }
  nlohmann::json Json(const CliResult& r) {
    auto j = nlohmann::json::parse(r.out, nullptr, false);
    EXPECT_FALSE(j.is_discarded()) << r.out << r.err;
    return j;
  }
  std::unique_ptr<RegistryServer> server_;
  TempDir tmp_;
  std::vector<uint8_t> weights_;
};

TEST_F(RegistryCliTest, PushPullRoundTripFolderAndTar) {
  auto pkg = MakePackage(tmp_, tmp_ / "pkg", weights_, R"({"vocab":[]})", "v1");
  auto push = RunCli({"push", tmp_ / "pkg", Ref("team/tiny:v1"), "--plain-http", "--json"});
  ASSERT_EQ(push.exit_code, 0) << push.err;
  auto j = Json(push);
  EXPECT_EQ(j["digest"], pkg.manifest_digest);
  EXPECT_EQ(j["stats"]["blobs_uploaded"], 3);

  auto pull = RunCli({"pull", Ref("team/tiny:v1"), "-o", tmp_ / "out", "--plain-http"});
  ASSERT_EQ(pull.exit_code, 0) << pull.err;
  EXPECT_NE(pull.out.find(pkg.manifest_digest), std::string::npos);
  ExpectSameBlobs(tmp_.path() / "pkg", tmp_.path() / "out");
  EXPECT_FALSE(fs::exists(package::PullStagingPath(tmp_ / "out")));
  // The pulled folder is a package the layout reader accepts, tagged as pulled.
  auto reader = oci::LayoutReader::Open(tmp_ / "out");
  ASSERT_TRUE(reader.ok()) << reader.error().ToString();
  oci::Descriptor d;
  ASSERT_TRUE((*reader)->ReadManifest("v1", &d).ok());
  EXPECT_EQ(d.digest, pkg.manifest_digest);

  // By digest, into a .tar; then that .tar pushes to another repository unchanged.
  pull = RunCli(
      {"pull", Ref("team/tiny@" + pkg.manifest_digest), "-o", tmp_ / "out.tar", "--plain-http"});
  ASSERT_EQ(pull.exit_code, 0) << pull.err;
  auto tar = oci::LayoutReader::Open(tmp_ / "out.tar");
  ASSERT_TRUE(tar.ok()) << tar.error().ToString();
  EXPECT_TRUE((*tar)->is_tar());
  push = RunCli({"push", tmp_ / "out.tar", Ref("copy/tiny:v1"), "--plain-http", "--json", "--from",
                 "team/tiny"});
  ASSERT_EQ(push.exit_code, 0) << push.err;
  j = Json(push);
  EXPECT_EQ(j["digest"], pkg.manifest_digest);
  EXPECT_EQ(j["stats"]["blobs_mounted"], 3);
  EXPECT_EQ(j["stats"]["bytes_uploaded"], 0);

  // Pull never overwrites.
  pull = RunCli({"pull", Ref("team/tiny:v1"), "-o", tmp_ / "out", "--plain-http"});
  EXPECT_EQ(pull.exit_code, 2);
  EXPECT_NE(pull.err.find("already exists"), std::string::npos) << pull.err;
}

TEST_F(RegistryCliTest, PackedRealModelPullsBackAsTheSameTar) {
  // stories260K packed by `weightgate pack`, pushed, pulled as a .tar: the same bytes.
  auto pack = RunCli(
      {"pack", TestData("models/stories260K"), "-o", tmp_ / "s.tar", "--tag", "v1", "--json"});
  ASSERT_EQ(pack.exit_code, 0) << pack.err;
  auto push = RunCli({"push", tmp_ / "s.tar", Ref("stories/260k:v1"), "--plain-http"});
  ASSERT_EQ(push.exit_code, 0) << push.err;
  auto pull = RunCli({"pull", Ref("stories/260k:v1"), "-o", tmp_ / "pulled.tar", "--plain-http"});
  ASSERT_EQ(pull.exit_code, 0) << pull.err;
  EXPECT_EQ(ReadAll(tmp_ / "s.tar"), ReadAll(tmp_ / "pulled.tar"));
  auto unpack = RunCli({"unpack", tmp_ / "pulled.tar", "-o", tmp_ / "model"});
  ASSERT_EQ(unpack.exit_code, 0) << unpack.err;
  EXPECT_EQ(ReadAll(tmp_ / "model/stories260K.bin"),
            ReadAll(TestData("models/stories260K/stories260K.bin")));
}

TEST_F(RegistryCliTest, PullFollowsAnIndexToItsModelManifest) {
  auto v1 = MakePackage(tmp_, tmp_ / "v1", weights_, "{}", "v1");
  auto v2 = MakePackage(tmp_, tmp_ / "v2", RandomBytes(1 << 20, 7), "{}", "v2");
  ASSERT_EQ(RunCli({"push", tmp_ / "v1", Ref("idx/m:v1"), "--plain-http"}).exit_code, 0);
  ASSERT_EQ(RunCli({"push", tmp_ / "v2", Ref("idx/m:v2"), "--plain-http"}).exit_code, 0);
  package::RegistryOptions o;
  o.plain_http = true;
  auto client = package::RegistryClient::Create(server_->host(), o);
  ASSERT_TRUE(client.ok());
  auto entry = [&](const std::string& digest, const std::string& dir, bool model) {
    auto bytes = ReadAll((tmp_.path() / dir / "blobs/sha256" / digest.substr(7)).string());
    oci::Descriptor d;
    d.media_type = std::string(oci::kOciManifest);
    d.digest = digest;
    d.size = bytes.size();
    if (model) d.artifact_type = std::string(oci::kModelArtifactType);
    return d;
  };
  // One model manifest beside an unrelated one: pulled, as a folder and as a .tar.
  oci::Index one;
  one.manifests = {entry(v1.manifest_digest, "v1", true), entry(v2.manifest_digest, "v2", false)};
  ASSERT_TRUE(
      (*client)->PushManifest("idx/m", "one", std::string(oci::kOciIndex), one.Serialize()).ok());
  for (std::string out : {"one", "one.tar"}) {
    auto pull = RunCli({"pull", Ref("idx/m:one"), "-o", tmp_ / out, "--plain-http", "--json"});
    ASSERT_EQ(pull.exit_code, 0) << pull.err;
    EXPECT_EQ(Json(pull)["digest"], v1.manifest_digest) << pull.out;
    auto unpack = RunCli({"unpack", tmp_ / out, "-o", tmp_ / (out + ".model")});
    ASSERT_EQ(unpack.exit_code, 0) << unpack.err;
    EXPECT_EQ(ReadAll(tmp_ / (out + ".model/model.bin")), weights_);
  }
  // Two model manifests: ambiguous, refused naming both digests, nothing written.
  oci::Index two;
  two.manifests = {entry(v1.manifest_digest, "v1", true), entry(v2.manifest_digest, "v2", true)};
  ASSERT_TRUE(
      (*client)->PushManifest("idx/m", "two", std::string(oci::kOciIndex), two.Serialize()).ok());
  auto pull = RunCli({"pull", Ref("idx/m:two"), "-o", tmp_ / "two.tar", "--plain-http"});
  EXPECT_EQ(pull.exit_code, 2) << pull.err;
  EXPECT_NE(pull.err.find("several manifests"), std::string::npos) << pull.err;
  EXPECT_NE(pull.err.find(v2.manifest_digest), std::string::npos) << pull.err;
  EXPECT_FALSE(fs::exists(tmp_ / "two.tar"));
}

TEST_F(RegistryCliTest, NewVersionSharingWeightsUploadsOnlyWhatChanged) {
  MakePackage(tmp_, tmp_ / "v1", weights_, R"({"vocab":[1]})", "v1");
  MakePackage(tmp_, tmp_ / "v2", weights_, R"({"vocab":[2]})", "v2");
  ASSERT_EQ(RunCli({"push", tmp_ / "v1", Ref("m:v1"), "--plain-http"}).exit_code, 0);
  auto push = RunCli({"push", tmp_ / "v2", Ref("m:v2"), "--plain-http", "--json"});
  ASSERT_EQ(push.exit_code, 0) << push.err;
  auto j = Json(push);
  EXPECT_EQ(j["stats"]["blobs_skipped"], 1);   // the weights
  EXPECT_EQ(j["stats"]["blobs_uploaded"], 2);  // tokenizer and config changed
  EXPECT_LT(j["stats"]["bytes_uploaded"].get<uint64_t>(), 4096u);
}

TEST_F(RegistryCliTest, ChunkedPushWithSmallChunkSize) {
  auto big = RandomBytes((5 << 20) / 2, 7);  // 2.5 MiB in 1 MiB chunks
  MakePackage(tmp_, tmp_ / "pkg", big, "{}", "v1");
  auto push = RunCli(
      {"push", tmp_ / "pkg", Ref("chunky:v1"), "--plain-http", "--json", "--chunk-size", "1"});
  ASSERT_EQ(push.exit_code, 0) << push.err;
  EXPECT_EQ(Json(push)["stats"]["chunks_uploaded"], 3);
  ASSERT_EQ(RunCli({"pull", Ref("chunky:v1"), "-o", tmp_ / "out", "--plain-http"}).exit_code, 0);
  ExpectSameBlobs(tmp_.path() / "pkg", tmp_.path() / "out");
}

TEST_F(RegistryCliTest, InterruptedPullResumes) {
  auto pkg = MakePackage(tmp_, tmp_ / "pkg", weights_, "{}", "v1");
  ASSERT_EQ(RunCli({"push", tmp_ / "pkg", Ref("m:v1"), "--plain-http"}).exit_code, 0);
  // What a pull killed halfway through the weights leaves behind.
  std::string staging = package::PullStagingPath(tmp_ / "out");
  fs::create_directories(staging + "/blobs/sha256");
  std::vector<uint8_t> half(weights_.begin(), weights_.begin() + weights_.size() / 2);
  WriteAll(staging + "/blobs/sha256/" + pkg.weights_digest.substr(7) + ".part", half);
  auto pull = RunCli({"pull", Ref("m:v1"), "-o", tmp_ / "out", "--plain-http", "--json"});
  ASSERT_EQ(pull.exit_code, 0) << pull.err;
  auto j = Json(pull);
  EXPECT_EQ(j["stats"]["blobs_resumed"], 1);
  EXPECT_LT(j["stats"]["bytes_downloaded"].get<uint64_t>(), weights_.size());
  ExpectSameBlobs(tmp_.path() / "pkg", tmp_.path() / "out");
  EXPECT_FALSE(fs::exists(staging));
}

TEST_F(RegistryCliTest, TamperedOrMissingBlobIsRefusedAndLeavesNothing) {
  auto pkg = MakePackage(tmp_, tmp_ / "pkg", weights_, "{}", "v1");
  ASSERT_EQ(RunCli({"push", tmp_ / "pkg", Ref("m:v1"), "--plain-http"}).exit_code, 0);
  fs::path data = server_->BlobDataPath(pkg.weights_digest);
  auto stored = ReadAll(data.string());
  stored[12345] ^= 1;
  WriteAll(data.string(), stored);
  auto pull = RunCli({"pull", Ref("m:v1"), "-o", tmp_ / "out.tar", "--plain-http"});
  EXPECT_EQ(pull.exit_code, 1) << pull.err;
  EXPECT_NE(pull.err.find("does not match its digest"), std::string::npos) << pull.err;
  EXPECT_FALSE(fs::exists(tmp_ / "out.tar"));
  EXPECT_FALSE(fs::exists(package::PullStagingPath(tmp_ / "out.tar")));

  // A manifest naming a blob the registry lost.
  fs::remove_all(data.parent_path());
  pull = RunCli({"pull", Ref("m:v1"), "-o", tmp_ / "out", "--plain-http"});
  EXPECT_EQ(pull.exit_code, 2) << pull.err;
  EXPECT_NE(pull.err.find("does not have"), std::string::npos) << pull.err;
  EXPECT_FALSE(fs::exists(tmp_ / "out"));
  EXPECT_FALSE(fs::exists(package::PullStagingPath(tmp_ / "out")));
}

TEST_F(RegistryCliTest, UsageAndNetworkErrors) {
  auto r = RunCli({"push", tmp_ / "nope", "Not A Ref", "--plain-http"});
  EXPECT_EQ(r.exit_code, 2);
  EXPECT_NE(r.err.find("invalid image reference"), std::string::npos) << r.err;
  MakePackage(tmp_, tmp_ / "pkg", RandomBytes(1000, 1), "{}", "v1");
  // Nothing listens there: bounded retries, then exit 8.
  r = RunCli({"push", tmp_ / "pkg", "127.0.0.1:" + std::to_string(FreeLoopbackPort()) + "/m:v1",
              "--plain-http", "--retries", "2"});
  EXPECT_EQ(r.exit_code, 8) << r.err;
  EXPECT_NE(r.err.find("after 2 attempt(s)"), std::string::npos) << r.err;
}

TEST_F(RegistryCliTest, SkopeoCopiesWhatWePushedByteForByte) {
  if (!HaveProgram("skopeo")) GTEST_SKIP() << "skopeo is not installed (Debian package skopeo)";
  MakePackage(tmp_, tmp_ / "pkg", weights_, R"({"vocab":[]})", "v1");
  ASSERT_EQ(RunCli({"push", tmp_ / "pkg", Ref("interop/ours:v1"), "--plain-http"}).exit_code, 0);
  auto r = RunCommand({"skopeo", "copy", "--src-tls-verify=false",
                       "docker://" + Ref("interop/ours:v1"), "oci:" + (tmp_ / "skopeo") + ":v1"},
                      {}, 60);
  ASSERT_EQ(r.exit_code, 0) << r.err;
  ExpectSameBlobs(tmp_.path() / "pkg", tmp_.path() / "skopeo");
}

TEST_F(RegistryCliTest, WePullWhatSkopeoPushedFromOurLayoutAndArchive) {
  if (!HaveProgram("skopeo")) GTEST_SKIP() << "skopeo is not installed (Debian package skopeo)";
  auto pkg = MakePackage(tmp_, tmp_ / "pkg", weights_, R"({"vocab":[]})", "v1");
  auto r = RunCommand({"skopeo", "copy", "--dest-tls-verify=false", "oci:" + (tmp_ / "pkg") + ":v1",
                       "docker://" + Ref("interop/theirs:v1")},
                      {}, 60);
  ASSERT_EQ(r.exit_code, 0) << r.err;
  auto pull = RunCli({"pull", Ref("interop/theirs:v1"), "-o", tmp_ / "out", "--plain-http"});
  ASSERT_EQ(pull.exit_code, 0) << pull.err;
  EXPECT_NE(pull.out.find(pkg.manifest_digest), std::string::npos) << pull.out;
  ExpectSameBlobs(tmp_.path() / "pkg", tmp_.path() / "out");

  // Our .tar read by skopeo as an oci-archive.
  MakePackage(tmp_, tmp_ / "pkg.tar", weights_, R"({"vocab":[]})", "v1", /*tar=*/true);
  r = RunCommand(
      {"skopeo", "copy", "--dest-tls-verify=false", "oci-archive:" + (tmp_ / "pkg.tar") + ":v1",
       "docker://" + Ref("interop/archive:v1")},
      {}, 60);
  ASSERT_EQ(r.exit_code, 0) << r.err;
  pull = RunCli({"pull", Ref("interop/archive:v1"), "-o", tmp_ / "out2", "--plain-http"});
  ASSERT_EQ(pull.exit_code, 0) << pull.err;
  ExpectSameBlobs(tmp_.path() / "pkg", tmp_.path() / "out2");
}

class RegistryCliAuthTest : public RegistryCliTest {
 protected:
  void SetUp() override {
    server_ = std::make_unique<RegistryServer>(RegistryServer::Options{"carol", "pa55"});
    if (!server_->ok()) GTEST_SKIP() << "skipping registry test: " << server_->error();
    weights_ = RandomBytes(100000, 3);
  }
};

TEST_F(RegistryCliAuthTest, CredentialsFromEnvironmentOrDockerConfig) {
  MakePackage(tmp_, tmp_ / "pkg", weights_, "{}", "v1");
  std::string bin = WG_BINARY;
  std::vector<std::string> no_creds = {"DOCKER_CONFIG=" + (tmp_ / "none"),
                                       "WEIGHTGATE_REGISTRY_USER="};
  auto r = RunCommand({bin, "push", tmp_ / "pkg", Ref("m:v1"), "--plain-http"}, no_creds);
  EXPECT_EQ(r.exit_code, 8);
  EXPECT_NE(r.err.find("requires credentials"), std::string::npos) << r.err;
  r = RunCommand({bin, "push", tmp_ / "pkg", Ref("m:v1"), "--plain-http"},
                 {"DOCKER_CONFIG=" + (tmp_ / "none"), "WEIGHTGATE_REGISTRY_USER=carol",
                  "WEIGHTGATE_REGISTRY_PASSWORD=pa55"});
  ASSERT_EQ(r.exit_code, 0) << r.err;
  fs::create_directories(tmp_.path() / "docker");
  WriteText(tmp_ / "docker/config.json",
            R"({"auths":{")" + server_->host() + R"(":{"auth":"Y2Fyb2w6cGE1NQ=="}}})");
  r = RunCommand({bin, "pull", Ref("m:v1"), "-o", tmp_ / "out", "--plain-http"},
                 {"DOCKER_CONFIG=" + (tmp_ / "docker"), "WEIGHTGATE_REGISTRY_USER="});
  ASSERT_EQ(r.exit_code, 0) << r.err;
  ExpectSameBlobs(tmp_.path() / "pkg", tmp_.path() / "out");
}

}  // namespace
}  // namespace wg::test

namespace wg::test {
namespace {

class RegistryCliTlsTest : public RegistryCliTest {
 protected:
  void SetUp() override {
    if (!HaveProgram("openssl")) GTEST_SKIP() << "openssl is not installed";
    RegistryServer::Options o;
    o.tls = true;
    server_ = std::make_unique<RegistryServer>(o);
    if (!server_->ok()) GTEST_SKIP() << "skipping registry test: " << server_->error();
    weights_ = RandomBytes(200000, 4);
  }
};

TEST_F(RegistryCliTlsTest, HttpsIsTheDefaultAndCertificatesAreVerified) {
  auto pkg = MakePackage(tmp_, tmp_ / "pkg", weights_, "{}", "v1");
  // An unknown self-signed certificate is refused, without retrying.
  auto r = RunCli({"push", tmp_ / "pkg", Ref("tls/m:v1")});
  EXPECT_EQ(r.exit_code, 8);
  EXPECT_NE(r.err.find("https://"), std::string::npos) << r.err;
  EXPECT_EQ(r.err.find("attempt(s)"), std::string::npos) << r.err;
  // Trusted through --ca-file: push and pull over https.
  r = RunCli({"push", tmp_ / "pkg", Ref("tls/m:v1"), "--ca-file", server_->ca_file()});
  ASSERT_EQ(r.exit_code, 0) << r.err;
  r = RunCli({"pull", Ref("tls/m:v1"), "-o", tmp_ / "out", "--ca-file", server_->ca_file()});
  ASSERT_EQ(r.exit_code, 0) << r.err;
  ExpectSameBlobs(tmp_.path() / "pkg", tmp_.path() / "out");
}

}  // namespace
}  // namespace wg::test
