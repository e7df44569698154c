// Policies on OCI packages: pack --policy attaches the policy layer, gated/closed releases
// are sealed at pack time and unpack needs a grant; policy check/show read the layer;
// accept writes a receipt that policy check counts only for the same policy.
#include <gtest/gtest.h>

#include <ctime>
#include <filesystem>
#include <nlohmann/json.hpp>

#include "support/test_util.h"
#include "weightgate/policy/grant.h"

namespace wg {
namespace {

namespace fs = std::filesystem;
using test::ReadAll;
using test::RunCli;
using test::SourcePath;
using test::TempDir;
using test::TestData;
using test::WriteText;

class PolicyPackage : public ::testing::Test {
 protected:
  void SetUp() override {
    model_ = dir_ / "stories260K";
    test::CopyStoriesModel(model_);
    ASSERT_EQ(RunCli({"keygen", "--algo", "ecdsa-p256", "-o", dir_ / "publisher"}).exit_code, 0);
    ASSERT_EQ(RunCli({"keygen", "--algo", "x25519", "-o", dir_ / "alice"}).exit_code, 0);
    ASSERT_EQ(RunCli({"keygen", "--algo", "rsa-4096", "-o", dir_ / "corp"}).exit_code, 0);
    ASSERT_EQ(RunCli({"keygen", "--algo", "x25519", "-o", dir_ / "bob"}).exit_code, 0);
  }
  void ExpectModel(const std::string& out) {
    EXPECT_EQ(ReadAll(out + "/stories260K.bin"),
              ReadAll(TestData("models/stories260K/stories260K.bin")));
    EXPECT_EQ(ReadAll(out + "/tok512.bin"), ReadAll(TestData("models/stories260K/tok512.bin")));
  }
  TempDir dir_;
  std::string model_;
};

TEST_F(PolicyPackage, ClosedReleaseEndToEnd) {
  std::string pkg = dir_ / "closed.oci";
  std::string closed = SourcePath("examples/policies/closed-internal.yaml");
  auto r = RunCli({"pack", model_, "-o", pkg, "--policy", closed, "--publisher-key",
                   dir_ / "publisher.key", "--recipient", dir_ / "alice.pub", "--recipient",
                   dir_ / "corp.pub"});
  ASSERT_EQ(r.exit_code, 0) << r.err;
  EXPECT_FALSE(fs::exists(pkg + ".wg-sealed"));

  // A closed policy cannot be packed in the clear.
  r = RunCli({"pack", model_, "-o", dir_ / "clear.oci", "--policy", closed});
  EXPECT_EQ(r.exit_code, 2);
  EXPECT_NE(r.err.find("--publisher-key"), std::string::npos) << r.err;
  EXPECT_FALSE(fs::exists(dir_ / "clear.oci"));

  // policy show/check read the package's policy layer.
  r = RunCli({"policy", "show", pkg});
  ASSERT_EQ(r.exit_code, 0) << r.err;
  EXPECT_NE(r.out.find("closed"), std::string::npos);
  WriteText(dir_ / "ctx.yaml", "commercial: false\noperation: run\naccepted: true\ngrant: false\n");
  r = RunCli({"policy", "check", pkg, "--context", dir_ / "ctx.yaml"});
  EXPECT_EQ(r.exit_code, 6) << r.err;

  // The closed licence requires acceptance: no receipt, no unpack.
  r = RunCli({"unpack", pkg, "-o", dir_ / "out", "--identity", dir_ / "alice.key"});
  EXPECT_EQ(r.exit_code, 7) << r.err;
  EXPECT_FALSE(fs::exists(dir_ / "out"));
  ASSERT_EQ(RunCli({"keygen", "-o", dir_ / "signer"}).exit_code, 0);
  r = RunCli({"accept", pkg, "--identity", dir_ / "signer.key", "-o", dir_ / "r.receipt"});
  ASSERT_EQ(r.exit_code, 0) << r.err;
  const std::string receipt = dir_ / "r.receipt";

  // No identity: denied (6), naming the access clause; nothing written.
  r = RunCli({"unpack", pkg, "-o", dir_ / "out", "--receipt", receipt});
  EXPECT_EQ(r.exit_code, 6);
  EXPECT_NE(r.err.find("publisher-signed grant"), std::string::npos) << r.err;
  EXPECT_FALSE(fs::exists(dir_ / "out"));
  // Bob was not admitted: no grant for him in the package.
  r = RunCli(
      {"unpack", pkg, "-o", dir_ / "out", "--identity", dir_ / "bob.key", "--receipt", receipt});
  EXPECT_EQ(r.exit_code, 6) << r.err;
  EXPECT_FALSE(fs::exists(dir_ / "out"));
  EXPECT_FALSE(fs::exists(dir_ / "out.wg-sealed"));

  // Alice (X25519) and corp (RSA-4096) find their grants inside the package.
  r = RunCli({"unpack", pkg, "-o", dir_ / "alice-out", "--identity", dir_ / "alice.key",
              "--receipt", receipt});
  ASSERT_EQ(r.exit_code, 0) << r.err;
  ExpectModel(dir_ / "alice-out");
  r = RunCli({"unpack", pkg, "-o", dir_ / "corp-out", "--identity", dir_ / "corp.key", "--receipt",
              receipt});
  ASSERT_EQ(r.exit_code, 0) << r.err;
  ExpectModel(dir_ / "corp-out");

  // The publisher admits bob later, without re-encrypting.
  r = RunCli({"grant", pkg, "--publisher-key", dir_ / "publisher.key", "--recipient",
              dir_ / "bob.pub", "-o", dir_ / "bob.grant"});
  ASSERT_EQ(r.exit_code, 0) << r.err;
  r = RunCli({"unpack", pkg, "-o", dir_ / "bob-out", "--identity", dir_ / "bob.key", "--grant",
              dir_ / "bob.grant", "--receipt", receipt});
  ASSERT_EQ(r.exit_code, 0) << r.err;
  ExpectModel(dir_ / "bob-out");
  // Alice cannot use bob's grant.
  r = RunCli({"unpack", pkg, "-o", dir_ / "x", "--identity", dir_ / "alice.key", "--grant",
              dir_ / "bob.grant", "--receipt", receipt});
  EXPECT_EQ(r.exit_code, 1) << r.err;
  EXPECT_FALSE(fs::exists(dir_ / "x"));
}

TEST_F(PolicyPackage, OpenWeightsPolicyLayerAndAcceptanceReceipt) {
  std::string pkg = dir_ / "open.oci";
  std::string pol = SourcePath("examples/policies/open-weights-llama3.1.yaml");
  auto r = RunCli({"pack", model_, "-o", pkg, "--policy", pol});
  ASSERT_EQ(r.exit_code, 0) << r.err;
  // Open weights are not encrypted, but this licence must be accepted before unpacking.
  r = RunCli({"unpack", pkg, "-o", dir_ / "out"});
  EXPECT_EQ(r.exit_code, 7) << r.err;
  EXPECT_NE(r.err.find("must be accepted first"), std::string::npos) << r.err;
  EXPECT_FALSE(fs::exists(dir_ / "out"));

  WriteText(dir_ / "no.yaml", "mau: 10\noperation: run\naccepted: false\n");
  r = RunCli({"policy", "check", pkg, "--context", dir_ / "no.yaml", "--json"});
  EXPECT_EQ(r.exit_code, 7);
  EXPECT_EQ(nlohmann::json::parse(r.out)["decision"], "needs-acceptance");

  ASSERT_EQ(RunCli({"keygen", "-o", dir_ / "user"}).exit_code, 0);
  r = RunCli({"accept", pkg, "--identity", dir_ / "user.key", "-o", dir_ / "user.receipt"});
  ASSERT_EQ(r.exit_code, 0) << r.err;
  WriteText(dir_ / "yes.yaml",
            "mau: 10\noperation: run\naccepted: " + (dir_ / "user.receipt") + "\n");
  r = RunCli({"policy", "check", pkg, "--context", dir_ / "yes.yaml", "--json"});
  EXPECT_EQ(r.exit_code, 0) << r.out << r.err;
  r = RunCli({"unpack", pkg, "-o", dir_ / "out", "--receipt", dir_ / "user.receipt"});
  ASSERT_EQ(r.exit_code, 0) << r.err;
  ExpectModel(dir_ / "out");

  // A receipt for another policy does not count.
  r = RunCli({"policy", "check", SourcePath("examples/policies/research-only-llama1.yaml"),
              "--context", dir_ / "yes.yaml"});
  EXPECT_NE(r.exit_code, 0);
  EXPECT_NE(r.err.find("receipt not counted"), std::string::npos) << r.err;
  // An edited receipt does not count.
  auto bytes = ReadAll(dir_ / "user.receipt");
  std::string text(bytes.begin(), bytes.end());
  text.replace(text.find("LicenseRef"), 10, "LicenseRex");
  WriteText(dir_ / "user.receipt", text);
  r = RunCli({"policy", "check", pkg, "--context", dir_ / "yes.yaml"});
  EXPECT_EQ(r.exit_code, 7) << r.err;
  r = RunCli({"unpack", pkg, "-o", dir_ / "out2", "--receipt", dir_ / "user.receipt"});
  EXPECT_EQ(r.exit_code, 4) << r.err;  // the receipt's signature no longer verifies
  EXPECT_FALSE(fs::exists(dir_ / "out2"));
}

}  // namespace
}  // namespace wg
