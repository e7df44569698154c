// Enforcement of release policies in every verb, with the real stories260K model:
// closed packages refuse unpack without a grant, convert and push elsewhere (exit 6, the
// clause named, no plaintext left); gated packages convert with --identity/--grant to the
// same tensors as the plaintext conversion; derivatives obey the name-prefix rule and carry
// the policy and their parent's digest, which inspect shows and pack picks up.
#include <gtest/gtest.h>

#include <ctime>
#include <filesystem>
#include <nlohmann/json.hpp>

#include "support/registry_server.h"
#include "support/test_util.h"
#include "weightgate/formats/tensor_catalog.h"
#include "weightgate/policy/enforce.h"
#include "weightgate/policy/grant.h"
#include "weightgate/policy/seal.h"
#include "weightgate/signing/keys.h"

namespace wg {
namespace {

namespace fs = std::filesystem;
using nlohmann::json;
using test::ReadAll;
using test::RunCli;
using test::SourcePath;
using test::TempDir;
using test::WriteText;

using test::ReadText;

bool Has(const std::string& text, const std::string& part) {
  return text.find(part) != std::string::npos;
}

class PolicyEnforce : public ::testing::Test {
 protected:
  void SetUp() override {
    model_ = dir_ / "stories260K";
    test::CopyStoriesModel(model_);
    ASSERT_EQ(RunCli({"keygen", "--algo", "ecdsa-p256", "-o", dir_ / "publisher"}).exit_code, 0);
    ASSERT_EQ(RunCli({"keygen", "--algo", "x25519", "-o", dir_ / "alice"}).exit_code, 0);
    ASSERT_EQ(RunCli({"keygen", "-o", dir_ / "signer"}).exit_code, 0);
  }

  std::string Pack(const std::string& policy, const std::string& name) {
    std::string pkg = dir_ / name;
    std::vector<std::string> args = {"pack", model_, "-o", pkg, "--policy", policy};
    auto p = policy::ReadPolicyFile(policy);
    EXPECT_TRUE(p.ok());
    if (p.ok() && (p->tier == policy::Tier::kGated || p->tier == policy::Tier::kClosed))
      args.insert(args.end(),
                  {"--publisher-key", dir_ / "publisher.key", "--recipient", dir_ / "alice.pub"});
    auto r = RunCli(args);
    EXPECT_EQ(r.exit_code, 0) << r.err;
    return pkg;
  }
  std::string Accept(const std::string& pkg, const std::string& name) {
    std::string receipt = dir_ / name;
    auto r = RunCli({"accept", pkg, "--identity", dir_ / "signer.key", "-o", receipt});
    EXPECT_EQ(r.exit_code, 0) << r.err;
    return receipt;
  }
  json InspectJson(const std::string& path) {
    auto r = RunCli({"inspect", path, "--json"});
    EXPECT_EQ(r.exit_code, 0) << r.err;
    return json::parse(r.out);
  }
  // No private unpack folder, sealed scratch or stray plaintext left in the test folder.
  void ExpectNoScratch() {
    for (const auto& e : fs::recursive_directory_iterator(dir_.path())) {
      std::string name = e.path().filename().string();
      EXPECT_EQ(name.find(".wg-input-"), std::string::npos) << e.path();
      EXPECT_EQ(name.find(".wg-sealed"), std::string::npos) << e.path();
    }
  }
  // A copy of an example policy with one line replaced.
  std::string Variant(const std::string& example, const std::string& from, const std::string& to,
                      const std::string& name) {
    std::string text = ReadText(SourcePath("examples/policies/" + example));
    size_t at = text.find(from);
    EXPECT_NE(at, std::string::npos) << from;
    if (at != std::string::npos) text.replace(at, from.size(), to);
    std::string path = dir_ / name;
    WriteText(path, text);
    return path;
  }

  TempDir dir_;
  std::string model_;
};

TEST_F(PolicyEnforce, ClosedReleaseRefusesUnpackConvertAndPushElsewhere) {
  std::string pkg = Pack(SourcePath("examples/policies/closed-internal.yaml"), "closed.oci");
  std::string receipt = Accept(pkg, "closed.receipt");

  // unpack without a grant: denied (6), naming the access clause; nothing written.
  auto r = RunCli({"unpack", pkg, "-o", dir_ / "out", "--receipt", receipt});
  EXPECT_EQ(r.exit_code, 6) << r.err;
  EXPECT_TRUE(Has(r.err, "publisher-signed grant")) << r.err;
  EXPECT_TRUE(Has(r.err, "Internal evaluation agreement")) << r.err;
  EXPECT_TRUE(Has(r.err, "access")) << r.err;
  EXPECT_FALSE(fs::exists(dir_ / "out"));

  // convert, even with a grant: the policy forbids it (§2), before anything is decrypted.
  r = RunCli(
      {"convert", pkg, dir_ / "out.gguf", "--identity", dir_ / "alice.key", "--receipt", receipt});
  EXPECT_EQ(r.exit_code, 6) << r.err;
  EXPECT_TRUE(Has(r.err, "forbids convert")) << r.err;
  EXPECT_TRUE(Has(r.err, "§2 (evaluation only, no derivatives)")) << r.err;
  EXPECT_TRUE(Has(r.err, "operations.convert")) << r.err;
  EXPECT_FALSE(fs::exists(dir_ / "out.gguf"));
  r = RunCli({"convert", pkg, dir_ / "out.gguf", "--dtype", "q8_0", "--identity",
              dir_ / "alice.key", "--receipt", receipt});
  EXPECT_EQ(r.exit_code, 6) << r.err;
  EXPECT_TRUE(Has(r.err, "forbids quantize")) << r.err;
  // Without a grant: denied too.
  r = RunCli({"gpu-check", pkg, "--receipt", receipt});
  EXPECT_EQ(r.exit_code, 6) << r.err;

  // push: only to the registry the policy lists; refused before any connection.
  r = RunCli({"push", pkg, "127.0.0.1:9/elsewhere/model:v1", "--plain-http"});
  EXPECT_EQ(r.exit_code, 6) << r.err;
  EXPECT_TRUE(Has(r.err, "access.registries")) << r.err;
  EXPECT_TRUE(Has(r.err, "registry.internal.example:5000/eval")) << r.err;
  r = RunCli({"push", pkg, "registry.internal.example:5000/evaluation/model:v1"});
  EXPECT_EQ(r.exit_code, 6) << r.err;  // "eval" is a path prefix, not a string prefix

  // A closed policy without access.registries cannot be pushed anywhere.
  std::string none =
      Variant("closed-internal.yaml", "  registries: [registry.internal.example:5000/eval]\n", "",
              "closed-nowhere.yaml");
  std::string pkg2 = Pack(none, "nowhere.oci");
  r = RunCli({"push", pkg2, "127.0.0.1:9/team/model:v1", "--plain-http"});
  EXPECT_EQ(r.exit_code, 6) << r.err;
  EXPECT_TRUE(Has(r.err, "lists none")) << r.err;

  // The grant holder may run it: gpu-check decrypts into a private folder it removes.
  r = RunCli({"gpu-check", pkg, "--identity", dir_ / "alice.key", "--receipt", receipt, "--tokens",
              "4", "--json"});
  EXPECT_EQ(r.exit_code, 3) << r.err;  // passed on the CPU reference (no GPU here)
  EXPECT_EQ(json::parse(r.out)["model"]["dim"], 64);
  ExpectNoScratch();
}

TEST_F(PolicyEnforce, ClosedReleasePushesToItsListedRegistryOnly) {
  test::RegistryServer server;
  if (!server.ok()) GTEST_SKIP() << "skipping registry test: " << server.error();
  std::string pol = Variant("closed-internal.yaml", "registry.internal.example:5000/eval",
                            server.host() + "/eval", "closed-local.yaml");
  std::string pkg = Pack(pol, "closed.oci");
  auto r = RunCli({"push", pkg, server.host() + "/eval/frontier:v1", "--plain-http", "--json"});
  ASSERT_EQ(r.exit_code, 0) << r.err;
  EXPECT_EQ(json::parse(r.out)["digest"], InspectJson(pkg)["manifest"]["digest"]);
  r = RunCli({"push", pkg, server.host() + "/public/frontier:v1", "--plain-http"});
  EXPECT_EQ(r.exit_code, 6) << r.err;
  EXPECT_TRUE(Has(r.err, server.host() + "/public/frontier")) << r.err;
  // What was pulled back is still ciphertext: unpack needs the grant.
  r = RunCli(
      {"pull", server.host() + "/eval/frontier:v1", "-o", dir_ / "pulled.oci", "--plain-http"});
  ASSERT_EQ(r.exit_code, 0) << r.err;
  r = RunCli({"unpack", dir_ / "pulled.oci", "-o", dir_ / "pulled-out"});
  EXPECT_EQ(r.exit_code, 6) << r.err;
  EXPECT_FALSE(fs::exists(dir_ / "pulled-out"));
}

TEST_F(PolicyEnforce, PushTargetMatching) {
  auto pol = policy::ReadPolicyFile(SourcePath("examples/policies/closed-internal.yaml"));
  ASSERT_TRUE(pol.ok());
  using policy::RequirePushTarget;
  EXPECT_TRUE(RequirePushTarget(*pol, "registry.internal.example:5000", "eval", "p").ok());
  EXPECT_TRUE(RequirePushTarget(*pol, "registry.internal.example:5000", "eval/m", "p").ok());
  EXPECT_FALSE(RequirePushTarget(*pol, "registry.internal.example:5000", "evalx", "p").ok());
  EXPECT_FALSE(RequirePushTarget(*pol, "registry.internal.example", "eval/m", "p").ok());
  auto denied = RequirePushTarget(*pol, "ghcr.io", "x/y", "p");
  ASSERT_FALSE(denied.ok());
  EXPECT_EQ(denied.error().code(), ErrorCode::kDenied);
  EXPECT_TRUE(
      Has(policy::ExplainPolicy(*pol), "may be pushed to registry.internal.example:5000/eval"));
  pol->access->registries = {"*"};
  EXPECT_TRUE(RequirePushTarget(*pol, "ghcr.io", "x/y", "p").ok());
  // Open tiers without a list go anywhere.
  auto open = policy::ReadPolicyFile(SourcePath("examples/policies/open-apache-2.0.yaml"));
  ASSERT_TRUE(open.ok());
  EXPECT_TRUE(RequirePushTarget(*open, "ghcr.io", "x/y", "p").ok());
  // The schema is strict about the list.
  std::string text = ReadText(SourcePath("examples/policies/closed-internal.yaml"));
  text.replace(text.find("[registry.internal.example:5000/eval]"), 37, "[\"https://x/y\"]");
  auto bad = policy::ParsePolicy(text, "bad.yaml");
  ASSERT_FALSE(bad.ok());
  EXPECT_EQ(bad.error().field().value_or(""), "access.registries[0]");
  // And round-trips it.
  auto again = policy::ParsePolicy(policy::PolicyToYaml(*pol), "again.yaml");
  ASSERT_TRUE(again.ok()) << again.error().ToString();
  EXPECT_EQ(again->access->registries, std::vector<std::string>{"*"});
}

TEST_F(PolicyEnforce, GatedConvertWithGrantMatchesThePlaintextConversion) {
  std::string pkg = Pack(SourcePath("examples/policies/research-only-llama1.yaml"), "gated.oci");
  std::string receipt = Accept(pkg, "gated.receipt");
  const std::string out = dir_ / "research-260K.gguf";

  auto r = RunCli({"convert", pkg, out, "--receipt", receipt});
  EXPECT_EQ(r.exit_code, 6) << r.err;  // no grant
  EXPECT_TRUE(Has(r.err, "tier gated")) << r.err;
  r = RunCli({"convert", pkg, out, "--identity", dir_ / "alice.key"});
  EXPECT_EQ(r.exit_code, 7) << r.err;  // licence not accepted
  EXPECT_TRUE(Has(r.err, "licence.acceptance")) << r.err;
  EXPECT_FALSE(fs::exists(out));

  r = RunCli(
      {"convert", pkg, out, "--identity", dir_ / "alice.key", "--receipt", receipt, "--json"});
  ASSERT_EQ(r.exit_code, 0) << r.err;
  json rep = json::parse(r.out);
  EXPECT_EQ(rep["derivative"]["tier"], "gated");
  ExpectNoScratch();

  // The same conversion of the plaintext model: identical tensors.
  const std::string plain = dir_ / "plain.gguf";
  r = RunCli(
      {"convert", model_ + "/stories260K.bin", plain, "--tokenizer", model_ + "/tok512.bin"});
  ASSERT_EQ(r.exit_code, 0) << r.err;
  auto a = OpenCatalog(out);
  auto b = OpenCatalog(plain);
  ASSERT_TRUE(a.ok() && b.ok());
  ASSERT_EQ(a->tensors.size(), b->tensors.size());
  for (size_t i = 0; i < a->tensors.size(); ++i) {
    const TensorInfo& x = a->tensors[i];
    const TensorInfo& y = b->tensors[i];
    EXPECT_EQ(x.name, y.name);
    EXPECT_EQ(x.shape, y.shape);
    EXPECT_TRUE(std::equal(x.data().begin(), x.data().end(), y.data().begin(), y.data().end()))
        << x.name;
  }

  // The derivative records its parent and carries the gated policy.
  json pj = InspectJson(pkg);
  json d = InspectJson(out)["derivative"];
  EXPECT_EQ(d["name"], "research-260K");
  EXPECT_EQ(d["parent"]["digest"], pj["manifest"]["digest"]);
  EXPECT_EQ(d["policy"]["tier"], "gated");
  EXPECT_EQ(d["policy"]["yaml"],
            ReadText(SourcePath("examples/policies/research-only-llama1.yaml")));
  EXPECT_EQ(ReadText(dir_ / "weightgate-policy.yaml"),
            ReadText(SourcePath("examples/policies/research-only-llama1.yaml")));
  json parent = json::parse(ReadText(dir_ / "weightgate-parent.json"));
  EXPECT_EQ(parent["parent"]["digest"], pj["manifest"]["digest"]);

  // An expired grant (issued in the past by the real publisher) is refused, nothing left.
  {
    std::string sealed = dir_ / "sealed-copy";
    fs::create_directories(sealed);
    for (const auto& l : pj["files"]) {
      std::string path = l.value("path", "");
      if (path != "gating.json") continue;
      std::string hex = l["digest"].get<std::string>().substr(7);
      fs::copy_file(pkg + "/blobs/sha256/" + hex, sealed + "/gating.json");
    }
    fs::copy_file(SourcePath("examples/policies/research-only-llama1.yaml"),
                  sealed + "/policy.yaml");
    auto pub = signing::EcKey::ReadPrivateKeyFile(dir_ / "publisher.key", std::nullopt);
    auto alice = policy::RecipientKey::ReadPublicKeyFile(dir_ / "alice.pub");
    ASSERT_TRUE(pub.ok() && alice.ok());
    int64_t past = std::time(nullptr) - 10 * 86400;
    auto grant = policy::GrantAccess(sealed, *pub, *alice, past + 86400, past);
    ASSERT_TRUE(grant.ok()) << grant.error().ToString();
    WriteText(dir_ / "expired.grant", policy::GrantToJson(*grant));
    fs::remove_all(sealed);
  }
  r = RunCli({"convert", pkg, dir_ / "late.gguf", "--identity", dir_ / "alice.key", "--grant",
              dir_ / "expired.grant", "--receipt", receipt});
  EXPECT_EQ(r.exit_code, 5) << r.err;
  EXPECT_TRUE(Has(r.err, "expired")) << r.err;
  EXPECT_FALSE(fs::exists(dir_ / "late.gguf"));
  ExpectNoScratch();
}

TEST_F(PolicyEnforce, DerivativeNameRuleInheritanceAndPackPickup) {
  // Llama 3.1 §1.b.i: a model made from the materials must begin its name with "Llama";
  // this variant applies it to conversions and quantizations as well.
  std::string pol = Variant(
      "open-weights-llama3.1.yaml", "on: [fine-tune, merge, train-on-outputs]",
      "on: [convert, quantize, fine-tune, merge, train-on-outputs]", "llama-derivatives.yaml");
  std::string pkg = Pack(pol, "open.oci");
  std::string receipt = Accept(pkg, "open.receipt");
  const std::string out_dir = dir_ / "derived";
  fs::create_directories(out_dir);

  auto r = RunCli({"convert", pkg, out_dir + "/SuperChat-260K.gguf", "--receipt", receipt});
  EXPECT_EQ(r.exit_code, 6) << r.err;
  EXPECT_TRUE(Has(r.err, "Llama 3.1 Community License §1.b.i")) << r.err;
  EXPECT_TRUE(Has(r.err, "SuperChat-260K")) << r.err;
  EXPECT_FALSE(fs::exists(out_dir + "/SuperChat-260K.gguf"));
  r = RunCli({"convert", pkg, out_dir + "/x.gguf", "--name", "SuperChat", "--dtype", "q8_0",
              "--receipt", receipt});
  EXPECT_EQ(r.exit_code, 6) << r.err;
  EXPECT_TRUE(Has(r.err, "made by quantize")) << r.err;
  // No receipt: the licence must be accepted first.
  r = RunCli({"convert", pkg, out_dir + "/Llama-x.gguf"});
  EXPECT_EQ(r.exit_code, 7) << r.err;

  const std::string out = out_dir + "/model.gguf";
  r = RunCli({"convert", pkg, out, "--name", "Llama-stories-260K", "--receipt", receipt});
  ASSERT_EQ(r.exit_code, 0) << r.err;
  json j = InspectJson(out);
  EXPECT_EQ(j["metadata"]["general.name"], "Llama-stories-260K");
  json d = j["derivative"];
  EXPECT_EQ(d["name"], "Llama-stories-260K");
  EXPECT_EQ(d["parent"]["digest"], InspectJson(pkg)["manifest"]["digest"]);
  EXPECT_EQ(d["policy"]["tier"], "open-weights");
  EXPECT_EQ(d["policy"]["licence"], "LicenseRef-Llama-3.1-Community-License");
  r = RunCli({"inspect", out});
  EXPECT_TRUE(Has(r.out, "policy: inherited, tier open-weights")) << r.out;

  // A name derived from the output file obeys the rule too.
  r = RunCli({"convert", pkg, dir_ / "Llama-derived.safetensors", "--receipt", receipt});
  ASSERT_EQ(r.exit_code, 0) << r.err;
  json s = InspectJson(dir_ / "Llama-derived.safetensors");
  EXPECT_EQ(s["derivative"]["name"], "Llama-derived");
  EXPECT_EQ(s["derivative"]["policy"]["tier"], "open-weights");

  // Converting the derivative again: the inherited policy still binds it.
  r = RunCli({"convert", out, out_dir + "/Llama-again.safetensors"});
  EXPECT_EQ(r.exit_code, 7) << r.err;
  r = RunCli({"convert", out, out_dir + "/again.safetensors", "--receipt", receipt});
  EXPECT_EQ(r.exit_code, 6) << r.err;
  r = RunCli({"convert", out, out_dir + "/Llama-again.safetensors", "--receipt", receipt});
  ASSERT_EQ(r.exit_code, 0) << r.err;
  fs::remove(out_dir + "/Llama-again.safetensors");

  // pack of the derivative's folder picks the inherited policy up.
  fs::remove(out_dir + "/weightgate-parent.json");
  r = RunCli({"pack", out_dir, "-o", dir_ / "derived.oci"});
  ASSERT_EQ(r.exit_code, 0) << r.err;
  EXPECT_EQ(InspectJson(dir_ / "derived.oci")["policy"]["tier"], "open-weights");
  r = RunCli({"unpack", dir_ / "derived.oci", "-o", dir_ / "derived-out"});
  EXPECT_EQ(r.exit_code, 7) << r.err;  // the same licence, still to be accepted
}

TEST_F(PolicyEnforce, OpenPackageConvertsWithoutCeremony) {
  std::string pkg = Pack(SourcePath("examples/policies/open-apache-2.0.yaml"), "apache.oci");
  auto r = RunCli({"convert", pkg, dir_ / "apache.gguf", "--json"});
  ASSERT_EQ(r.exit_code, 0) << r.err;
  json d = InspectJson(dir_ / "apache.gguf")["derivative"];
  // Apache's convert does not inherit: the parent is recorded, the policy is not carried.
  EXPECT_TRUE(d["policy"].is_null());
  EXPECT_EQ(d["parent"]["digest"], InspectJson(pkg)["manifest"]["digest"]);
  EXPECT_FALSE(fs::exists(dir_ / "weightgate-policy.yaml"));
  // --identity on an open package is a usage error.
  r = RunCli({"convert", pkg, dir_ / "x.gguf", "--identity", dir_ / "alice.key"});
  EXPECT_EQ(r.exit_code, 2) << r.err;
  ExpectNoScratch();
}

}  // namespace
}  // namespace wg
