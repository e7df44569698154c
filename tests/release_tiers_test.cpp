// One release per tier, end to end, as a lab and its users run it with the real stories260K
// model: pack with the tier's example policy -> sign the package -> push to a loopback
// registry -> pull -> verify -> policy check -> grant a late recipient -> accept -> unpack,
// and the unpacked weights are the original bytes. Each step's refusals (no grant, no
// receipt, an edited policy after signing) are checked where the tier has them.
#include <gtest/gtest.h>

#include <filesystem>
#include <nlohmann/json.hpp>
#include <string>
#include <vector>

#include "support/registry_server.h"
#include "support/test_util.h"

namespace wg {
namespace {

namespace fs = std::filesystem;
using nlohmann::json;
using test::ReadAll;
using test::RunCli;
using test::SourcePath;
using test::TempDir;
using test::WriteText;

struct Tier {
  std::string name;      // used for file and repository names
  std::string policy;    // examples/policies/...
  bool sealed;           // gated or closed: weights encrypted, unpack needs a grant
  bool acceptance;       // licence.acceptance: required
  std::string context;   // examples/policies/contexts/... evaluated by policy check
  std::string decision;  // what policy check decides for that context
};

class ReleaseTiers : public ::testing::TestWithParam<Tier> {
 protected:
  void SetUp() override {
    server_ = std::make_unique<test::RegistryServer>();
    if (!server_->ok()) GTEST_SKIP() << "skipping registry test: " << server_->error();
    model_ = dir_ / "stories260K";
    test::CopyStoriesModel(model_);
    for (auto [algo, name] :
         std::vector<std::pair<std::string, std::string>>{{"ecdsa-p256", "publisher"},
                                                          {"x25519", "alice"},
                                                          {"x25519", "bob"},
                                                          {"ecdsa-p256", "user"}})
      ASSERT_EQ(RunCli({"keygen", "--algo", algo, "-o", dir_ / name}).exit_code, 0);
  }

  // The example policy, with the closed tier's registry list pointed at the loopback one.
  std::string PolicyFor(const Tier& t) {
    std::string path = SourcePath("examples/policies/" + t.policy);
    auto bytes = ReadAll(path);
    std::string text(bytes.begin(), bytes.end());
    const std::string internal = "registry.internal.example:5000/eval";
    if (size_t at = text.find(internal); at != std::string::npos) {
      text.replace(at, internal.size(), server_->host() + "/" + t.name);
      path = dir_ / ("policy-" + t.name + ".yaml");
      WriteText(path, text);
    }
    return path;
  }

  std::unique_ptr<test::RegistryServer> server_;
  TempDir dir_;
  std::string model_;
};

TEST_P(ReleaseTiers, PackSignPushPullVerifyCheckGrantUnpack) {
  const Tier& t = GetParam();
  const std::string pkg = dir_ / (t.name + ".tar");
  const std::string ref = server_->host() + "/" + t.name + "/stories:v1";

  std::vector<std::string> pack = {"pack", model_, "-o", pkg, "--policy", PolicyFor(t)};
  if (t.sealed)
    pack.insert(pack.end(),
                {"--publisher-key", dir_ / "publisher.key", "--recipient", dir_ / "alice.pub"});
  auto r = RunCli(pack);
  ASSERT_EQ(r.exit_code, 0) << r.err;
  r = RunCli({"sign", pkg, "--key", dir_ / "publisher.key"});
  ASSERT_EQ(r.exit_code, 0) << r.err;
  r = RunCli({"push", pkg, ref, "--plain-http"});
  ASSERT_EQ(r.exit_code, 0) << r.err;

  const std::string pulled = dir_ / (t.name + "-pulled.tar");
  r = RunCli({"pull", ref, "-o", pulled, "--plain-http"});
  ASSERT_EQ(r.exit_code, 0) << r.err;
  auto digest = [](const std::string& path) {
    auto i = RunCli({"inspect", path, "--json"});
    EXPECT_EQ(i.exit_code, 0) << i.err;
    return json::parse(i.out, nullptr, false)["manifest"]["digest"];
  };
  EXPECT_EQ(digest(pkg), digest(pulled)) << "the registry round trip changed the package";
  r = RunCli({"verify", pulled, "--pub", dir_ / "publisher.pub", "--json"});
  ASSERT_EQ(r.exit_code, 0) << r.out << r.err;

  r = RunCli({"policy", "check", pulled, "--context",
              SourcePath("examples/policies/contexts/" + t.context), "--json"});
  json decision = json::parse(r.out, nullptr, false);
  ASSERT_FALSE(decision.is_discarded()) << r.out << r.err;
  EXPECT_EQ(decision["decision"], t.decision) << r.out;

  std::vector<std::string> unpack = {"unpack", pulled, "-o", dir_ / "out"};
  if (t.sealed) {
    // Bob arrives after the release: a grant admits him without re-encrypting anything,
    // and the package (and so its signature) is unchanged.
    r = RunCli({"unpack", pulled, "-o", dir_ / "out"});
    EXPECT_EQ(r.exit_code, 6) << r.err;
    r = RunCli({"grant", pulled, "--publisher-key", dir_ / "publisher.key", "--recipient",
                dir_ / "bob.pub", "-o", dir_ / "bob.grant"});
    ASSERT_EQ(r.exit_code, 0) << r.err;
    unpack.insert(unpack.end(), {"--identity", dir_ / "bob.key", "--grant", dir_ / "bob.grant"});
  }
  if (t.acceptance) {
    r = RunCli(unpack);
    EXPECT_EQ(r.exit_code, 7) << r.err;
    r = RunCli({"accept", pulled, "--identity", dir_ / "user.key", "-o", dir_ / "user.receipt"});
    ASSERT_EQ(r.exit_code, 0) << r.err;
    unpack.insert(unpack.end(), {"--receipt", dir_ / "user.receipt"});
  }
  EXPECT_FALSE(fs::exists(dir_ / "out")) << "a refused unpack left its output";
  r = RunCli(unpack);
  ASSERT_EQ(r.exit_code, 0) << r.err;
  for (const char* file : {"stories260K.bin", "tok512.bin"})
    EXPECT_EQ(ReadAll((fs::path(dir_ / "out") / file).string()),
              ReadAll((fs::path(model_) / file).string()))
        << file;
  r = RunCli({"verify", pulled, "--pub", dir_ / "publisher.pub"});
  EXPECT_EQ(r.exit_code, 0) << "granting must not touch the signed package: " << r.err;
}

INSTANTIATE_TEST_SUITE_P(
    Examples, ReleaseTiers,
    ::testing::Values(
        Tier{"open", "open-apache-2.0.yaml", false, false, "big-platform.yaml", "allow"},
        Tier{"openweights", "open-weights-llama3.1.yaml", false, true, "big-platform.yaml",
             "needs-separate-licence"},
        Tier{"gated", "research-only-llama1.yaml", true, true, "commercial-startup.yaml", "deny"},
        Tier{"closed", "closed-internal.yaml", true, true, "university-lab.yaml", "deny"}),
    [](const ::testing::TestParamInfo<Tier>& info) { return info.param.name; });

}  // namespace
}  // namespace wg
