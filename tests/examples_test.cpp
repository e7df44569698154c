// The examples/ flows, run as their READMEs say: examples/release pushes the bundled real
// model (stories260K) to a loopback docker-registry, examples/download-verify pulls,
// verifies, checks the policy and unpacks it; the CI examples parse as YAML, call only verbs
// and flags weightgate has, and their validate command line works on the release.
#include <gtest/gtest.h>

#include <filesystem>
#include <map>
#include <nlohmann/json.hpp>
#include <sstream>

#include "support/registry_server.h"
#include "support/test_util.h"

namespace wg::test {
namespace {

namespace fs = std::filesystem;
using json = nlohmann::json;

using test::ReadText;

// KEY=VALUE lines.
std::map<std::string, std::string> ReadEnvFile(const std::string& path) {
  std::map<std::string, std::string> out;
  std::istringstream in(ReadText(path));
  for (std::string line; std::getline(in, line);)
    if (auto eq = line.find('='); eq != std::string::npos)
      out[line.substr(0, eq)] = line.substr(eq + 1);
  return out;
}

std::vector<std::string> ExampleEnv(const std::vector<std::string>& extra) {
  std::vector<std::string> env = {std::string("WEIGHTGATE=") + WG_BINARY};
  env.insert(env.end(), extra.begin(), extra.end());
  return env;
}

class ExamplesTest : public ::testing::Test {
 protected:
  void SetUp() override {
    if (!HaveProgram("bash")) GTEST_SKIP() << "bash is not installed";
  }
  // examples/release/release.sh against `registry`; returns release.env.
  std::map<std::string, std::string> Release(const RegistryServer& registry,
                                             const std::string& work,
                                             const std::vector<std::string>& env = {}) {
    std::vector<std::string> e = {"WG_REGISTRY=" + registry.host(), "WG_PLAIN_HTTP=1"};
    e.insert(e.end(), env.begin(), env.end());
    CliResult r = RunCommand({"bash", SourcePath("examples/release/release.sh"),
                              SourcePath("examples/models/stories260K"), work},
                             ExampleEnv(e), 300);
    EXPECT_EQ(r.exit_code, 0) << r.out << r.err;
    return ReadEnvFile(work + "/release.env");
  }
  CliResult DownloadVerify(const std::map<std::string, std::string>& release,
                           const std::string& context, const std::string& work) {
    return RunCommand({"bash", SourcePath("examples/download-verify/download-verify.sh"),
                       release.at("WG_REF"), release.at("WG_PUBLISHER_PUB"), context, work},
                      ExampleEnv({"WG_PLAIN_HTTP=1"}), 300);
  }
  TempDir tmp_;
};

TEST_F(ExamplesTest, ReleaseThenDownloadVerifyOnTheBundledModel) {
  RegistryServer registry;
  if (!registry.ok()) GTEST_SKIP() << "no loopback registry: " << registry.error();
  auto release = Release(registry, tmp_ / "release");
  ASSERT_TRUE(release.count("WG_REF")) << "release.env missing";
  EXPECT_EQ(release["WG_REF"], registry.host() + "/examples/stories260k:v1");
  // The CI gate ran on the package before the push and wrote its reports.
  json report = json::parse(ReadText(tmp_ / "release/validate.json"), nullptr, false);
  ASSERT_FALSE(report.is_discarded());
  EXPECT_TRUE(report["exit_code"] == 0 || report["exit_code"] == 3) << report.dump(2);
  for (const auto& c : report["checks"])
    if (c["name"] == "signature") EXPECT_EQ(c["status"], "passed") << c;  // the package's

  CliResult r = DownloadVerify(
      release, SourcePath("examples/policies/contexts/university-lab.yaml"), tmp_ / "download");
  ASSERT_EQ(r.exit_code, 0) << r.out << r.err;
  // What came out is the model that went in, byte for byte.
  for (const char* f : {"stories260K.bin", "tok512.bin", "LICENSE"})
    EXPECT_EQ(ReadAll(tmp_ / (std::string("download/model/") + f)),
              ReadAll(SourcePath(std::string("examples/models/stories260K/") + f)))
        << f;
  EXPECT_TRUE(fs::exists(tmp_ / "download/model/model.sig"));
}

TEST_F(ExamplesTest, DownloadVerifyStopsBeforeUnpackingWhenThePolicySaysNo) {
  RegistryServer registry;
  if (!registry.ok()) GTEST_SKIP() << "no loopback registry: " << registry.error();
  // Llama 3.1's licence asks a platform over 700M monthly users for a separate licence.
  auto release =
      Release(registry, tmp_ / "release",
              {"WG_POLICY=" + SourcePath("examples/policies/open-weights-llama3.1.yaml")});
  ASSERT_TRUE(release.count("WG_REF"));
  CliResult r = DownloadVerify(release, SourcePath("examples/policies/contexts/big-platform.yaml"),
                               tmp_ / "download");
  EXPECT_EQ(r.exit_code, 7) << r.out << r.err;
  EXPECT_FALSE(fs::exists(tmp_ / "download/model"));
}

TEST_F(ExamplesTest, ReleaseStartsItsOwnLoopbackRegistryWhenNoneIsGiven) {
  if (!HaveProgram("docker-registry")) GTEST_SKIP() << "docker-registry is not installed";
  CliResult r = RunCommand({"bash", SourcePath("examples/release/release.sh"),
                            SourcePath("examples/models/stories260K"), tmp_ / "release"},
                           ExampleEnv({}), 300);
  ASSERT_EQ(r.exit_code, 0) << r.out << r.err;
  EXPECT_NE(r.err.find("loopback registry on 127.0.0.1:"), std::string::npos) << r.err;
}

// Every `weightgate VERB ...` the CI examples run, as {"file", "verb", "flags", "line"};
// plus the Kubernetes Job's container, checked in Python where the YAML is parsed.
const char* kCiCommands = R"PY(
import json, re, shlex, sys, yaml
out = []
def strings(node):
    if isinstance(node, dict):
        for v in node.values(): yield from strings(v)
    elif isinstance(node, list):
        for v in node: yield from strings(v)
    elif isinstance(node, str):
        yield node
for path in sys.argv[1:]:
    doc = yaml.safe_load(open(path))
    assert isinstance(doc, dict), path
    if doc.get("kind") == "Job":
        c = doc["spec"]["template"]["spec"]["containers"][0]
        assert c["resources"]["limits"]["nvidia.com/gpu"] == 1, path
        argv = c["command"] + c["args"]
        assert argv[0] == "weightgate", argv
        out.append({"file": path, "verb": argv[1],
                    "flags": [a for a in argv[2:] if a.startswith("--")], "line": " ".join(argv)})
        continue
    for s in strings(doc):
        text = s.replace("\\\n", " ").replace("\n", " ")
        for m in re.finditer(r"(?:^|[\s;&|(])weightgate\s+([a-z-]+)([^;&|]*)", text):
            flags = [t.split("=")[0] for t in shlex.split(m.group(2)) if t.startswith("--")]
            out.append({"file": path, "verb": m.group(1), "flags": flags, "line": m.group(0).strip()})
print(json.dumps(out))
)PY";

TEST_F(ExamplesTest, CiExamplesParseAndCallVerbsAndFlagsThatExist) {
  std::vector<std::string> argv = {WG_PYTHON, "-c", kCiCommands};
  for (const char* f : {"github-actions.yml", "gitlab-ci.yml", "k8s-gpu-check-job.yaml"})
    argv.push_back(SourcePath(std::string("examples/ci/") + f));
  CliResult r = RunCommand(argv);
  ASSERT_EQ(r.exit_code, 0) << r.err;
  json commands = json::parse(r.out);
  std::map<std::string, int> per_file;
  for (const auto& c : commands) {
    SCOPED_TRACE(c["line"].get<std::string>());
    ++per_file[fs::path(c["file"].get<std::string>()).filename().string()];
    CliResult help = RunCli({c["verb"], "--help"});
    ASSERT_EQ(help.exit_code, 0) << "no verb " << c["verb"];
    for (const auto& flag : c["flags"])
      EXPECT_NE(help.out.find(flag.get<std::string>()), std::string::npos)
          << c["verb"] << " has no flag " << flag;
  }
  EXPECT_GE(per_file["github-actions.yml"], 1);
  EXPECT_GE(per_file["gitlab-ci.yml"], 1);
  EXPECT_EQ(per_file["k8s-gpu-check-job.yaml"], 1);
}

// The CI examples' command line, on a signed release folder and a deploy context: JUnit
// and JSON written, and the exit status one the CI snippet accepts (0, or 3 without GPU).
TEST_F(ExamplesTest, ValidateTheWayTheCiExamplesRunIt) {
  std::string dir = tmp_ / "models/release";
  fs::create_directories(dir);
  fs::copy(SourcePath("examples/models/stories260K"), dir);
  ASSERT_EQ(RunCli({"keygen", "-o", tmp_ / "publisher"}).exit_code, 0);
  WriteText(dir + "/policy.yaml", ReadText(SourcePath("examples/policies/open-apache-2.0.yaml")));
  ASSERT_EQ(RunCli({"sign", dir, "--key", tmp_ / "publisher.key"}).exit_code, 0);
  CliResult r =
      RunCli({"validate", dir, "--pub", tmp_ / "publisher.pub", "--context",
              SourcePath("examples/policies/contexts/commercial-startup.yaml"), "--gpu", "auto",
              "--junit", tmp_ / "validate.xml", "--json", tmp_ / "validate.json"});
  EXPECT_TRUE(r.exit_code == 0 || r.exit_code == 3) << r.exit_code << r.out << r.err;
  json j = json::parse(ReadText(tmp_ / "validate.json"));
  for (const auto& c : j["checks"]) {
    if (c["name"] == "policy") EXPECT_EQ(c["status"], "passed") << c;
    EXPECT_NE(c["status"], "failed") << c;
    EXPECT_NE(c["status"], "error") << c;
  }
  CliResult xml = RunCommand({WG_PYTHON, "-c",
                              "import sys, xml.etree.ElementTree as E; "
                              "print(len(list(E.parse(sys.argv[1]).getroot().iter('testcase'))))",
                              tmp_ / "validate.xml"});
  EXPECT_EQ(xml.out, "8\n") << xml.err;
}

}  // namespace
}  // namespace wg::test
