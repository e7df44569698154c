// The package verbs as a user runs them: init, pack (twice, byte-identical), unpack
// (--only, refusals with exit codes), inspect (text and --json), and interop with skopeo:
// skopeo reads and copies our layout, and weightgate unpacks what skopeo wrote.
#include <gtest/gtest.h>

#include <cstdlib>
#include <filesystem>
#include <nlohmann/json.hpp>

#include "support/test_util.h"

namespace wg {
namespace {

namespace fs = std::filesystem;
using test::RunCli;
using test::TempDir;

std::string MakeModel(const TempDir& t) {
  fs::path m = t.path() / "model";
  fs::copy(test::SourcePath("examples/models/stories260K"), m, fs::copy_options::recursive);
  test::WriteText((m / "config.json").string(), "{\"model_type\":\"llama\"}\n");
  test::WriteText((m / "README.md").string(), "# stories260K\n");
  return m.string();
}

bool SameTree(const fs::path& a, const fs::path& b, const std::vector<std::string>& skip = {}) {
  size_t n = 0;
  for (const auto& e : fs::recursive_directory_iterator(a)) {
    if (!e.is_regular_file()) continue;
    std::string rel = fs::relative(e.path(), a).generic_string();
    if (std::find(skip.begin(), skip.end(), rel) != skip.end()) continue;
    if (test::ReadAll(e.path().string()) != test::ReadAll((b / rel).string())) return false;
    ++n;
  }
  size_t m = 0;
  for (const auto& e : fs::recursive_directory_iterator(b)) m += e.is_regular_file();
  return n == m;
}

TEST(CliPackage, InitPackUnpackInspect) {
  TempDir t;
  std::string model = MakeModel(t);
  auto init = RunCli({"init", model});
  ASSERT_EQ(init.exit_code, 0) << init.err;
  EXPECT_NE(init.out.find("weightgate.yaml: 7 files"), std::string::npos) << init.out;
  auto again = RunCli({"init", model});
  EXPECT_EQ(again.exit_code, 2) << "init must not overwrite without --force";
  std::string yaml =
      test::ReadAll(model + "/weightgate.yaml").empty()
          ? ""
          : std::string(
                reinterpret_cast<const char*>(test::ReadAll(model + "/weightgate.yaml").data()),
                test::ReadAll(model + "/weightgate.yaml").size());
  EXPECT_NE(yaml.find("role: weights"), std::string::npos) << yaml;
  EXPECT_NE(yaml.find("license: MIT"), std::string::npos) << yaml;

  auto a = RunCli({"pack", model, "-o", t / "a.tar"});
  ASSERT_EQ(a.exit_code, 0) << a.err;
  auto b = RunCli({"pack", model, "-o", t / "b.tar", "--manifest", model + "/weightgate.yaml"});
  ASSERT_EQ(b.exit_code, 0) << b.err;
  EXPECT_EQ(test::ReadAll(t / "a.tar"), test::ReadAll(t / "b.tar"));
  ASSERT_EQ(RunCli({"pack", model, "-o", t / "dir"}).exit_code, 0);
  auto exists = RunCli({"pack", model, "-o", t / "dir"});
  EXPECT_EQ(exists.exit_code, 2);
  EXPECT_NE(exists.err.find("already exists"), std::string::npos) << exists.err;

  auto u = RunCli({"unpack", t / "a.tar", "-o", t / "out"});
  ASSERT_EQ(u.exit_code, 0) << u.err;
  EXPECT_TRUE(SameTree(model, t.path() / "out", {"weightgate.yaml"}));

  auto only = RunCli({"unpack", t / "dir", "-o", t / "only", "--only", "config,license"});
  ASSERT_EQ(only.exit_code, 0) << only.err;
  EXPECT_TRUE(fs::exists(t / "only/config.json"));
  EXPECT_TRUE(fs::exists(t / "only/LICENSE"));
  EXPECT_FALSE(fs::exists(t / "only/stories260K.bin"));
  auto badrole = RunCli({"unpack", t / "dir", "-o", t / "x", "--only", "weigths"});
  EXPECT_EQ(badrole.exit_code, 2);
  EXPECT_FALSE(fs::exists(t / "x"));

  auto text = RunCli({"inspect", t / "a.tar"});
  ASSERT_EQ(text.exit_code, 0) << text.err;
  EXPECT_NE(text.out.find("licence    MIT"), std::string::npos) << text.out;
  EXPECT_NE(text.out.find("stories260K.bin"), std::string::npos) << text.out;
  auto js = RunCli({"inspect", "--json", t / "dir"});
  ASSERT_EQ(js.exit_code, 0) << js.err;
  auto j = nlohmann::json::parse(js.out);  // exactly one document
  EXPECT_EQ(j["form"], "folder");
  EXPECT_EQ(j["manifest"]["artifactType"], "application/vnd.cncf.model.manifest.v1+json");
  EXPECT_EQ(j["config"]["descriptor"]["licenses"][0], "MIT");
  EXPECT_EQ(j["files"].size(), 7u);
  EXPECT_EQ(j["signature"], "absent");
  EXPECT_TRUE(j["policy"].is_null());
  bool found = false;
  for (const auto& f : j["files"])
    if (f["path"] == "stories260K.bin") {
      found = true;
      EXPECT_EQ(f["role"], "weights");
      EXPECT_EQ(f["size"], 1056540);
      EXPECT_EQ(f["mediaType"], "application/vnd.cncf.model.weight.v1.raw");
    }
  EXPECT_TRUE(found);
}

TEST(CliPackage, TamperedPackageExitsOneAndLeavesNothing) {
  TempDir t;
  std::string model = MakeModel(t);
  ASSERT_EQ(RunCli({"pack", model, "-o", t / "p.tar"}).exit_code, 0);
  auto tar = test::ReadAll(t / "p.tar");
  // The largest blob (the weights) is the bulk of the tar: flip a byte in its middle.
  tar[tar.size() / 2] ^= 1;
  test::WriteAll(t / "p.tar", tar);
  auto r = RunCli({"unpack", t / "p.tar", "-o", t / "out"});
  EXPECT_EQ(r.exit_code, 1) << r.err;
  EXPECT_NE(r.err.find("weightgate: error:"), std::string::npos);
  EXPECT_NE(r.err.find("stories260K.bin"), std::string::npos) << r.err;
  EXPECT_FALSE(fs::exists(t / "out"));
}

TEST(CliPackage, PolicyLayerFromPackIsShownByInspectAndNotUnpacked) {
  TempDir t;
  std::string model = MakeModel(t);
  const std::string policy = test::SourcePath("examples/policies/open-apache-2.0.yaml");
  auto p = RunCli({"pack", model, "-o", t / "p.tar", "--policy", policy});
  ASSERT_EQ(p.exit_code, 0) << p.err;
  auto text = RunCli({"inspect", t / "p.tar"});
  EXPECT_NE(text.out.find("tier open"), std::string::npos) << text.out;
  auto js = nlohmann::json::parse(RunCli({"inspect", "--json", t / "p.tar"}).out);
  EXPECT_EQ(js["policy"]["tier"], "open");
  EXPECT_EQ(js["layers"][0]["mediaType"], "application/vnd.weightgate.policy.v1+yaml");
  ASSERT_EQ(RunCli({"unpack", t / "p.tar", "-o", t / "out"}).exit_code, 0);
  EXPECT_FALSE(fs::exists(t / "out/open-apache-2.0.yaml"));
  test::WriteText(t / "bad.yaml", "tier: [unclosed\n");
  auto bad = RunCli({"pack", model, "-o", t / "q.tar", "--policy", t / "bad.yaml"});
  EXPECT_EQ(bad.exit_code, 2) << bad.err;
  EXPECT_NE(bad.err.find("bad.yaml"), std::string::npos) << bad.err;
  EXPECT_FALSE(fs::exists(t / "q.tar"));
}

bool HaveSkopeo() {
  return std::system("skopeo --version >/dev/null 2>&1") == 0;
}

std::string Capture(const std::string& cmd) {
  std::string out;
  FILE* p = ::popen(cmd.c_str(), "r");
  if (!p) return out;
  char buf[4096];
  size_t n;
  while ((n = std::fread(buf, 1, sizeof buf, p)) > 0) out.append(buf, n);
  ::pclose(p);
  return out;
}

TEST(CliPackage, SkopeoReadsAndCopiesOurLayoutAndWeReadItsCopies) {
  if (!HaveSkopeo()) GTEST_SKIP() << "skopeo not installed (scripts/install-deps --with-test)";
  TempDir t;
  std::string model = MakeModel(t);
  ASSERT_EQ(RunCli({"pack", model, "-o", t / "pkg"}).exit_code, 0);
  ASSERT_EQ(RunCli({"pack", model, "-o", t / "pkg.tar"}).exit_code, 0);
  std::string ours =
      Capture("cat " + (t / "pkg") + "/blobs/sha256/$(skopeo inspect --raw oci:" + (t / "pkg") +
              " | sha256sum | cut -c1-64)");
  std::string raw = Capture("skopeo inspect --raw oci:" + (t / "pkg") + " 2>&1");
  auto m = nlohmann::json::parse(raw, nullptr, false);
  ASSERT_FALSE(m.is_discarded()) << raw;
  EXPECT_EQ(m["artifactType"], "application/vnd.cncf.model.manifest.v1+json");
  EXPECT_EQ(raw, ours);  // skopeo found the manifest blob under its digest
  // skopeo copies the layout (folder and tar) verbatim: same manifest, same blobs.
  ASSERT_EQ(std::system(("skopeo copy -q oci:" + (t / "pkg") + " oci:" + (t / "copy") +
                         ":v1 >/dev/null 2>&1")
                            .c_str()),
            0);
  ASSERT_EQ(std::system(("skopeo copy -q oci-archive:" + (t / "pkg.tar") +
                         " oci-archive:" + (t / "copy.tar") + ":v1 >/dev/null 2>&1")
                            .c_str()),
            0);
  EXPECT_EQ(Capture("skopeo inspect --raw oci:" + (t / "copy") + ":v1"), raw);
  // weightgate reads skopeo's layouts: the unpacked files are the model's.
  for (std::string pkg : {t / "copy", t / "copy.tar"}) {
    auto u = RunCli({"unpack", pkg, "-o", pkg + ".out"});
    ASSERT_EQ(u.exit_code, 0) << u.err;
    EXPECT_TRUE(SameTree(model, pkg + ".out", {"weightgate.yaml"})) << pkg;
  }
}

}  // namespace
}  // namespace wg
