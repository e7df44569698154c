// weightgate validate as a CI job runs it, on the bundled real model (llama2.c stories260K):
// a signed folder passes; tampered weights, a wrong key, a malicious pickle, a truncated
// checkpoint and a denied use each fail with their documented exit code; the JUnit XML is
// well-formed (parsed by Python's ElementTree) and the JSON is one valid document.
#include "weightgate/verify/validate.h"

#include <gtest/gtest.h>

#include <filesystem>
#include <nlohmann/json.hpp>

#include "support/registry_server.h"
#include "support/test_util.h"
#include "weightgate/gpu_check/devices.h"
#include "weightgate/package/media_types.h"
#include "weightgate/package/package.h"
#include "weightgate/verify/golden_package.h"

namespace wg::test {
namespace {

namespace fs = std::filesystem;
using json = nlohmann::json;

// Parses a JUnit file with Python's XML parser and prints "tests failures errors skipped
// testcases" (the attribute counts, then the <testcase> elements counted).
std::string JunitCounts(const std::string& path) {
  const char* script =
      "import sys, xml.etree.ElementTree as ET\n"
      "root = ET.parse(sys.argv[1]).getroot()\n"
      "s = root.find('testsuite')\n"
      "print(s.get('tests'), s.get('failures'), s.get('errors'), s.get('skipped'),\n"
      "      len(s.findall('testcase')))\n";
  CliResult r = RunCommand({WG_PYTHON, "-c", script, path});
  EXPECT_EQ(r.exit_code, 0) << r.err;
  return r.out;
}

class ValidateTest : public ::testing::Test {
 protected:
  void SetUp() override {
    release_ = tmp_ / "release";
    fs::create_directories(release_);
    for (const char* f : {"stories260K.bin", "tok512.bin", "LICENSE"})
      fs::copy_file(SourcePath(std::string("examples/models/stories260K/") + f),
                    fs::path(release_) / f);
    ASSERT_EQ(RunCli({"keygen", "--algo", "ecdsa-p256", "-o", tmp_ / "publisher"}).exit_code, 0);
    ASSERT_EQ(RunCli({"keygen", "--algo", "ecdsa-p256", "-o", tmp_ / "other"}).exit_code, 0);
    auto s = RunCli({"sign", release_, "--key", tmp_ / "publisher.key"});
    ASSERT_EQ(s.exit_code, 0) << s.err;
  }

  // Runs validate with --json FILE and returns the exit code and the parsed report.
  json Validate(std::vector<std::string> args, int expected_exit) {
    std::vector<std::string> argv = {"-q", "validate"};
    argv.insert(argv.end(), args.begin(), args.end());
    argv.insert(argv.end(), {"--json", tmp_ / "report.json"});
    CliResult r = RunCli(argv);
    EXPECT_EQ(r.exit_code, expected_exit) << r.out << r.err;
    json j = json::parse(ReadText(tmp_ / "report.json"), nullptr, false);
    EXPECT_FALSE(j.is_discarded());
    EXPECT_EQ(j["exit_code"], expected_exit);
    return j;
  }
  static const json& Check(const json& report, const std::string& name) {
    for (const auto& c : report["checks"])
      if (c["name"] == name) return c;
    ADD_FAILURE() << "no check " << name;
    static const json none;
    return none;
  }

  TempDir tmp_;
  std::string release_;
};

TEST_F(ValidateTest, SignedFolderPassesEveryCheckWithJunitAndJson) {
  std::string junit = tmp_ / "validate.xml";
  json j =
      Validate({release_, "--pub", tmp_ / "publisher.pub", "--gpu", "skip", "--junit", junit}, 0);
  EXPECT_EQ(j["kind"], "folder");
  EXPECT_EQ(j["outcome"], "passed");
  EXPECT_EQ(Check(j, "format")["status"], "passed");
  EXPECT_EQ(Check(j, "pickle-scan")["status"], "passed");
  EXPECT_EQ(Check(j, "digests")["status"], "passed");
  EXPECT_EQ(Check(j, "signature")["status"], "passed");
  EXPECT_EQ(Check(j, "smoke-cpu")["status"], "passed") << Check(j, "smoke-cpu");
  EXPECT_EQ(Check(j, "smoke-gpu")["status"], "skipped");
  EXPECT_EQ(Check(j, "policy")["status"], "skipped");
  EXPECT_EQ(j["checks"].size(), 8u);
  // The XML parses; the suite's counts agree with its test cases.
  EXPECT_EQ(JunitCounts(junit), "8 0 0 3 8\n");
}

TEST_F(ValidateTest, GpuAutoWithoutGpuIsCpuOnlyAndRequireFails) {
  if (!ListGpus().empty()) {
    json j = Validate({release_, "--pub", tmp_ / "publisher.pub", "--gpu", "require"}, 0);
    EXPECT_EQ(Check(j, "smoke-gpu")["status"], "passed") << Check(j, "smoke-gpu");
    GTEST_SKIP() << "a GPU is visible: checked that --gpu require passes on it";
  }
  json j = Validate({release_, "--pub", tmp_ / "publisher.pub"}, 3);
  EXPECT_EQ(j["outcome"], "cpu-only");
  EXPECT_EQ(Check(j, "smoke-gpu")["status"], "skipped");
  EXPECT_EQ(Check(j, "smoke-gpu")["failure_class"], "cpu-only");
  j = Validate({release_, "--pub", tmp_ / "publisher.pub", "--gpu", "require"}, 1);
  EXPECT_EQ(Check(j, "smoke-gpu")["status"], "failed");
}

TEST_F(ValidateTest, TamperedWeightsFailTheDigestsWithExit1) {
  std::string weights = fs::path(release_) / "stories260K.bin";
  auto bytes = ReadAll(weights);
  bytes[bytes.size() / 2] ^= 0x01;  // one bit of one weight
  WriteAll(weights, bytes);
  json j = Validate({release_, "--pub", tmp_ / "publisher.pub", "--gpu", "skip"}, 1);
  const json& d = Check(j, "digests");
  EXPECT_EQ(d["status"], "failed");
  EXPECT_EQ(d["failure_class"], "check-failed");
  EXPECT_EQ(d["details"][0], "modified: stories260K.bin");
  EXPECT_EQ(Check(j, "signature")["status"], "passed");  // the signature itself is intact
  // Without a key the claimed digests still catch it; the signature is then skipped.
  j = Validate({release_, "--gpu", "skip"}, 1);
  EXPECT_EQ(Check(j, "digests")["status"], "failed");
  EXPECT_EQ(Check(j, "signature")["status"], "skipped");
}

TEST_F(ValidateTest, AnotherKeyIsUntrustedAndAKeyWithoutSignatureToo) {
  json j = Validate({release_, "--pub", tmp_ / "other.pub", "--gpu", "skip"}, 5);
  EXPECT_EQ(Check(j, "signature")["status"], "failed");
  EXPECT_EQ(Check(j, "signature")["failure_class"], "untrusted");
  EXPECT_EQ(Check(j, "digests")["status"], "passed");  // content intact, signer unknown
  fs::remove(fs::path(release_) / "model.sig");
  j = Validate({release_, "--pub", tmp_ / "publisher.pub", "--gpu", "skip"}, 5);
  EXPECT_EQ(Check(j, "signature")["status"], "failed");
  // Without a key an unsigned folder is not a failure, only reported.
  j = Validate({release_, "--gpu", "skip"}, 0);
  EXPECT_EQ(Check(j, "signature")["status"], "skipped");
}

TEST_F(ValidateTest, MaliciousPickleFailsTheScanAndIsNeverExecuted) {
  fs::remove(fs::path(release_) / "model.sig");
  const std::string sentinel = tmp_ / "PWNED";
  WriteText(fs::path(release_) / "evil.pkl", "cos\nsystem\n(S'touch " + sentinel + "'\ntR.");
  std::string junit = tmp_ / "evil.xml";
  json j = Validate({release_, "--gpu", "skip", "--junit", junit}, 1);
  const json& p = Check(j, "pickle-scan");
  EXPECT_EQ(p["status"], "failed");
  ASSERT_FALSE(p["details"].empty());
  EXPECT_NE(p["details"][0].get<std::string>().find("os.system"), std::string::npos) << p;
  EXPECT_FALSE(fs::exists(sentinel));
  EXPECT_EQ(JunitCounts(junit), "8 1 0 6 8\n");  // smoke-cpu not run either
}

TEST_F(ValidateTest, TruncatedCheckpointIsMalformed) {
  // A GGUF cut in half: its header still promises every tensor.
  std::string dir = tmp_ / "gguf";
  fs::create_directories(dir);
  auto bytes = ReadAll(TestData("models/stories260K-gguf/stories260K.gguf"));
  bytes.resize(bytes.size() / 2);
  WriteAll(dir + "/stories260K.gguf", bytes);
  json j = Validate({dir, "--gpu", "skip"}, 9);
  EXPECT_EQ(Check(j, "format")["status"], "failed");
  EXPECT_EQ(Check(j, "format")["failure_class"], "malformed");
  EXPECT_EQ(Check(j, "smoke-cpu")["status"], "skipped");  // never run a broken file
  // A folder with no model file at all is a failed check, not a pass.
  fs::remove(dir + "/stories260K.gguf");
  WriteText(dir + "/README.md", "nothing here");
  j = Validate({dir, "--gpu", "skip"}, 1);
  EXPECT_EQ(Check(j, "format")["status"], "failed");
}

TEST_F(ValidateTest, ResearchOnlyReleaseDeniesACommercialContext) {
  ASSERT_EQ(RunCli({"keygen", "--algo", "x25519", "-o", tmp_ / "lab"}).exit_code, 0);
  std::string pkg = tmp_ / "research.tar";
  auto r = RunCli({"pack", release_, "-o", pkg, "--policy",
                   SourcePath("examples/policies/research-only-llama1.yaml"), "--publisher-key",
                   tmp_ / "publisher.key", "--recipient", tmp_ / "lab.pub"});
  ASSERT_EQ(r.exit_code, 0) << r.err;
  json j =
      Validate({pkg, "--context", SourcePath("examples/policies/contexts/commercial-startup.yaml"),
                "--gpu", "auto"},
               6);
  EXPECT_EQ(j["kind"], "package");
  const json& p = Check(j, "policy");
  EXPECT_EQ(p["status"], "failed");
  EXPECT_EQ(p["failure_class"], "denied");
  EXPECT_EQ(p["message"].get<std::string>().rfind("deny", 0), 0u) << p;
  EXPECT_EQ(Check(j, "digests")["status"], "passed");
  // The weights and their signature are sealed: nothing to scan, run or verify without a
  // grant, even with the key.
  EXPECT_EQ(Check(j, "format")["status"], "skipped");
  EXPECT_EQ(Check(j, "smoke-cpu")["status"], "skipped");
  j = Validate({pkg, "--pub", tmp_ / "publisher.pub", "--context",
                SourcePath("examples/policies/contexts/commercial-startup.yaml")},
               6);
  EXPECT_EQ(Check(j, "signature")["status"], "skipped") << Check(j, "signature");
  // The same package for a university lab: allowed.
  j = Validate({pkg, "--context", SourcePath("examples/policies/contexts/university-lab.yaml"),
                "--gpu", "skip"},
               0);
  EXPECT_EQ(Check(j, "policy")["status"], "passed") << Check(j, "policy");
}

TEST_F(ValidateTest, PackageSignatureLayerIsVerifiedAndATamperedBlobFails) {
  std::string pkg = tmp_ / "pkg";  // an OCI folder, so one blob can be edited in place
  auto r = RunCli({"pack", release_, "-o", pkg, "--policy",
                   SourcePath("examples/policies/open-apache-2.0.yaml")});
  ASSERT_EQ(r.exit_code, 0) << r.err;
  r = RunCli({"sign", pkg, "--key", tmp_ / "publisher.key"});
  ASSERT_EQ(r.exit_code, 0) << r.err;
  json j = Validate({pkg, "--pub", tmp_ / "publisher.pub", "--gpu", "skip"}, 0);
  const json& sig = Check(j, "signature");
  EXPECT_EQ(sig["status"], "passed");
  EXPECT_EQ(sig["message"].get<std::string>().rfind("package signed by", 0), 0u) << sig;
  EXPECT_EQ(Check(j, "digests")["status"], "passed");
  EXPECT_EQ(Check(j, "smoke-cpu")["status"], "passed");
  EXPECT_EQ(Check(j, "golden")["status"], "passed") << Check(j, "golden");  // pack wrote it
  j = Validate({pkg, "--pub", tmp_ / "other.pub", "--gpu", "skip"}, 5);
  EXPECT_EQ(Check(j, "signature")["failure_class"], "untrusted");
  j = Validate({pkg, "--gpu", "skip"}, 0);
  EXPECT_EQ(Check(j, "signature")["status"], "skipped");

  // One bit of the weights blob: extraction refuses it, the package signature too.
  size_t flipped = 0;
  for (const auto& e : fs::directory_iterator(fs::path(pkg) / "blobs/sha256")) {
    if (fs::file_size(e.path()) != fs::file_size(fs::path(release_) / "stories260K.bin")) continue;
    auto bytes = ReadAll(e.path().string());
    bytes[1000] ^= 0x10;
    fs::permissions(e.path(), fs::perms::owner_write, fs::perm_options::add);
    WriteAll(e.path().string(), bytes);
    ++flipped;
  }
  ASSERT_EQ(flipped, 1u);
  j = Validate({pkg, "--pub", tmp_ / "publisher.pub", "--gpu", "skip"}, 1);
  EXPECT_EQ(Check(j, "digests")["status"], "failed") << Check(j, "digests");
  EXPECT_EQ(Check(j, "format")["status"], "skipped");
}

TEST_F(ValidateTest, AGoldenRecordTheModelDoesNotReproduceFails) {
  std::string pkg = tmp_ / "golden-pkg";
  ASSERT_EQ(RunCli({"pack", release_, "-o", pkg}).exit_code, 0);
  auto golden = verify::ReadPackageGolden(pkg);
  ASSERT_TRUE(golden.ok() && *golden) << "pack wrote no golden record";
  GoldenRecord edited = **golden;
  edited.positions[3].top_logits[0] += 1.0f;  // a record of other weights
  package::ExtraLayer layer{std::string(oci::kWeightgateGolden), edited.ToJson(), "golden.json"};
  ASSERT_TRUE(package::AttachLayer(pkg, layer).ok());
  json j = Validate({pkg, "--gpu", "skip"}, 1);
  const json& g = Check(j, "golden");
  EXPECT_EQ(g["status"], "failed") << g;
  EXPECT_FALSE(g["details"].empty());
  EXPECT_EQ(Check(j, "smoke-cpu")["status"], "passed");  // the model itself still runs
}

TEST_F(ValidateTest, JsonOnStdoutIsTheOnlyDocumentThere) {
  CliResult r = RunCli({"-q", "validate", release_, "--json", "-", "--gpu", "skip"});
  EXPECT_EQ(r.exit_code, 0) << r.err;
  json j = json::parse(r.out, nullptr, false);
  ASSERT_FALSE(j.is_discarded()) << r.out;
  EXPECT_EQ(j["summary"]["passed"].get<int>() + j["summary"]["skipped"].get<int>(), 8);
  EXPECT_NE(r.err.find("result: passed (exit 0)"), std::string::npos) << r.err;
}

TEST_F(ValidateTest, MissingPathIsIo) {
  EXPECT_EQ(RunCli({"validate", tmp_ / "absent"}).exit_code, 8);
  EXPECT_EQ(RunCli({"validate", release_, "--gpu", "sometimes"}).exit_code, 2);
}

TEST(ValidateJunit, EscapesWhatXmlCannotCarry) {
  using verify::XmlEscape;
  EXPECT_EQ(XmlEscape("a<b>&\"c'"), "a&lt;b&gt;&amp;&quot;c&apos;");
  EXPECT_EQ(XmlEscape("tab\there\nline"), "tab&#9;here&#10;line");
  EXPECT_EQ(XmlEscape("\x01"), "\xEF\xBF\xBD");
  EXPECT_EQ(XmlEscape("caf\xC3\xA9"), "caf\xC3\xA9");  // valid UTF-8 kept
  EXPECT_EQ(XmlEscape("\xC3"), "\xEF\xBF\xBD");        // truncated sequence
  EXPECT_EQ(XmlEscape("\xED\xA0\x80"), "\xEF\xBF\xBD\xEF\xBF\xBD\xEF\xBF\xBD");  // surrogate
  EXPECT_EQ(XmlEscape("\xC0\xAF"), "\xEF\xBF\xBD\xEF\xBF\xBD");                  // overlong '/'

  // A report whose messages hold every hostile byte still parses.
  verify::ValidateReport report;
  report.path = "we<ird>&\"path\x01\xff";
  report.kind = "folder";
  verify::CheckResult c;
  c.name = "format";
  c.status = verify::CheckStatus::kFailed;
  c.failure = verify::FailureClass::kMalformed;
  c.message = "]]> <!-- \x02\x1f\x7f";
  c.details = {"</failure>", "\xF4\x90\x80\x80"};
  report.checks.push_back(c);
  c.name = "signature";
  c.status = verify::CheckStatus::kSkipped;
  report.checks.push_back(c);
  TempDir tmp;
  WriteText(tmp / "r.xml", verify::ValidateJunitXml(report));
  EXPECT_EQ(JunitCounts(tmp / "r.xml"), "2 1 0 1 2\n");
}

}  // namespace
}  // namespace wg::test
