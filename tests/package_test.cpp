// Packages: the real stories260K folder packed twice (byte-identical tar and folder),
// unpacked back byte for byte, --only, weightgate layers, and one refused package per
// way a package can be bad, each leaving nothing at the destination.
#include "weightgate/package/package.h"

#include <gtest/gtest.h>
#include <sys/stat.h>
#include <unistd.h>

#include <cstdlib>
#include <filesystem>
#include <functional>
#include <map>

#include "support/test_util.h"
#include "weightgate/core/hash.h"

namespace wg::package {
namespace {

namespace fs = std::filesystem;
using test::TempDir;

// A copy of examples/models/stories260K with the files a release carries added.
std::string MakeModel(const TempDir& t) {
  fs::path m = t.path() / "stories260K";
  fs::copy(test::SourcePath("examples/models/stories260K"), m, fs::copy_options::recursive);
  test::WriteText((m / "config.json").string(),
                  "{\"architectures\":[\"LlamaForCausalLM\"],\"model_type\":\"llama\"}\n");
  test::WriteText((m / "README.md").string(), "# stories260K\nA tiny llama2.c model.\n");
  fs::create_directories(m / "scripts");
  test::WriteText((m / "scripts" / "run.py").string(), "print('hello')\n");
  return m.string();
}

PackageSpec Spec(const std::string& model) {
  auto s = DetectSpec(model);
  EXPECT_TRUE(s.ok()) << s.error().ToString();
  return *s;
}

std::string PackTo(const std::string& model, const std::string& out) {
  PackOptions o;
  o.output = out;
  auto r = Pack(model, Spec(model), o);
  EXPECT_TRUE(r.ok()) << r.error().ToString();
  return r.ok() ? r->manifest.digest : "";
}

// Nothing at `out`, and no temporary sibling left beside it.
void ExpectNothingLeft(const std::string& out) {
  EXPECT_FALSE(fs::exists(out)) << out;
  std::string prefix = "." + fs::path(out).filename().string() + ".wg-";
  for (const auto& e : fs::directory_iterator(fs::path(out).parent_path()))
    EXPECT_NE(e.path().filename().string().rfind(prefix, 0), 0u) << "left behind: " << e.path();
}

Error UnpackError(const std::string& pkg, const std::string& out) {
  UnpackOptions o;
  o.output = out;
  auto r = Unpack(pkg, o);
  EXPECT_FALSE(r.ok()) << "unpack of " << pkg << " should have failed";
  ExpectNothingLeft(out);
  return r.ok() ? Error::Usage("no error") : r.error();
}

TEST(Package, DetectsRolesOfTheExampleModel) {
  TempDir t;
  auto spec = Spec(MakeModel(t));
  std::map<std::string, std::string> roles;
  for (const auto& f : spec.files) roles[f.path] = RoleName(f.role);
  std::map<std::string, std::string> want = {
      {"LICENSE", "license"},      {"README.md", "docs"},        {"SOURCES.md", "docs"},
      {"config.json", "config"},   {"scripts/run.py", "code"},   {"stories260K.bin", "weights"},
      {"tok512.bin", "tokenizer"}, {"tok512.model", "tokenizer"}};
  EXPECT_EQ(roles, want);
  EXPECT_EQ(spec.license, "MIT");
  EXPECT_EQ(spec.model.family, "llama");
  EXPECT_EQ(spec.model.architecture, "LlamaForCausalLM");
}

TEST(Package, SpecYamlRoundTripsAndRefusesUnknownKeysAndTraversal) {
  TempDir t;
  auto spec = Spec(MakeModel(t));
  spec.authors = {"Andrej Karpathy"};
  spec.description = "tiny: model";
  test::WriteText(t / "w.yaml", SpecToYaml(spec));
  auto back = LoadSpec(t / "w.yaml");
  ASSERT_TRUE(back.ok()) << back.error().ToString();
  EXPECT_EQ(SpecToYaml(*back), SpecToYaml(spec));

  test::WriteText(t / "typo.yaml", "package: {name: x, verison: 1}\nfiles: []\n");
  auto typo = LoadSpec(t / "typo.yaml");
  ASSERT_FALSE(typo.ok());
  EXPECT_NE(typo.error().ToString().find("package.verison"), std::string::npos)
      << typo.error().ToString();

  test::WriteText(t / "evil.yaml",
                  "package: {name: x}\nfiles:\n  - {path: ../../etc/passwd, role: docs}\n");
  auto evil = LoadSpec(t / "evil.yaml");
  ASSERT_FALSE(evil.ok());
  EXPECT_EQ(evil.error().code(), ErrorCode::kUnsafe);
  EXPECT_NE(evil.error().ToString().find(".."), std::string::npos);
}

TEST(Package, PackingTwiceGivesByteIdenticalTarAndFolder) {
  TempDir t;
  std::string model = MakeModel(t);
  std::string d1 = PackTo(model, t / "a.tar");
  std::string d2 = PackTo(model, t / "b.tar");
  EXPECT_EQ(d1, d2);
  EXPECT_EQ(test::ReadAll(t / "a.tar"), test::ReadAll(t / "b.tar"));
  // A different path, a different clock and umask change nothing.
  ::setenv("SOURCE_DATE_EPOCH", "0", 1);
  mode_t old = ::umask(077);
  std::string d3 = PackTo(model, t / "fa");
  ::umask(old);
  ::unsetenv("SOURCE_DATE_EPOCH");
  std::string d4 = PackTo(model, t / "fb");
  EXPECT_EQ(d3, d1);  // same manifest whether folder or tar
  EXPECT_EQ(test::ReadTree(t.path() / "fa"), test::ReadTree(t.path() / "fb"));
  for (const auto& e : fs::recursive_directory_iterator(t.path() / "fa"))
    if (e.is_regular_file())
      EXPECT_EQ(fs::status(e).permissions() & fs::perms::all,
                fs::perms::owner_read | fs::perms::owner_write | fs::perms::group_read |
                    fs::perms::others_read)
          << e.path();
  // The folder holds exactly the tar's files.
  EXPECT_EQ(test::ReadTree(t.path() / "fa").size(),
            2u + 8u + 2u);  // oci-layout, index, 8 files, config, manifest
}

TEST(Package, SourceDateEpochSetsTarTimesDeterministically) {
  TempDir t;
  std::string model = MakeModel(t);
  ::setenv("SOURCE_DATE_EPOCH", "1700000000", 1);
  PackTo(model, t / "a.tar");
  PackTo(model, t / "b.tar");
  ::unsetenv("SOURCE_DATE_EPOCH");
  PackTo(model, t / "c.tar");
  EXPECT_EQ(test::ReadAll(t / "a.tar"), test::ReadAll(t / "b.tar"));
  EXPECT_NE(test::ReadAll(t / "a.tar"), test::ReadAll(t / "c.tar"));
}

TEST(Package, UnpackRoundTripsEveryFileByteForByte) {
  TempDir t;
  std::string model = MakeModel(t);
  PackTo(model, t / "p.tar");
  PackTo(model, t / "p");
  for (std::string pkg : {t / "p.tar", t / "p"}) {
    std::string out = pkg + ".out";
    UnpackOptions o;
    o.output = out;
    auto r = Unpack(pkg, o);
    ASSERT_TRUE(r.ok()) << r.error().ToString();
    EXPECT_EQ(r->files, 8u);
    EXPECT_EQ(test::ReadTree(out), test::ReadTree(model)) << pkg;
  }
}

TEST(Package, OnlyExtractsTheRolesAsked) {
  TempDir t;
  std::string model = MakeModel(t);
  PackTo(model, t / "p.tar");
  UnpackOptions o;
  o.output = t / "out";
  o.only = {Role::kWeights, Role::kTokenizer};
  ASSERT_TRUE(Unpack(t / "p.tar", o).ok());
  auto tree = test::ReadTree(t.path() / "out");
  std::vector<std::string> names;
  for (const auto& [k, v] : tree) names.push_back(k);
  EXPECT_EQ(names, (std::vector<std::string>{"stories260K.bin", "tok512.bin", "tok512.model"}));
  EXPECT_EQ(tree["stories260K.bin"], test::ReadAll(model + "/stories260K.bin"));
}

TEST(Package, IdenticalFilesShareOneBlob) {
  TempDir t;
  std::string model = MakeModel(t);
  fs::copy_file(model + "/LICENSE", model + "/COPYING");
  PackTo(model, t / "p.tar");
  PackTo(model, t / "p");
  auto reader = oci::LayoutReader::Open(t / "p.tar");
  ASSERT_TRUE(reader.ok());
  EXPECT_EQ((*reader)->BlobDigests().size(), 8u + 2u);  // 9 files, two alike; config; manifest
  EXPECT_EQ(test::ReadAll(t / "p.tar"), test::ReadAll(t / "p.tar"));
  for (std::string pkg : {t / "p.tar", t / "p"}) {
    UnpackOptions o;
    o.output = pkg + ".out";
    ASSERT_TRUE(Unpack(pkg, o).ok());
    EXPECT_EQ(test::ReadTree(o.output), test::ReadTree(model));
  }
}

TEST(Package, WeightgateLayersAreAttachedShownAndNotExtracted) {
  TempDir t;
  std::string model = MakeModel(t);
  PackTo(model, t / "p.tar");
  PackTo(model, t / "p");
  for (std::string pkg : {t / "p.tar", t / "p"}) {
    auto before = Inspect(pkg);
    ASSERT_TRUE(before.ok());
    EXPECT_EQ(before->policy_tier, "");
    EXPECT_EQ(before->signature_status, "absent");
    ASSERT_TRUE(
        AttachLayer(pkg, {std::string(oci::kWeightgatePolicy), "tier: 2\n", "policy.yaml"}).ok());
    ASSERT_TRUE(
        AttachLayer(pkg, {std::string(oci::kWeightgateSignature), "{}", "signature.json"}).ok());
    // Replacing by media type, not adding a second policy.
    auto d = AttachLayer(pkg, {std::string(oci::kWeightgatePolicy), "tier: 3\n", "policy.yaml"});
    ASSERT_TRUE(d.ok()) << d.error().ToString();
    auto after = Inspect(pkg);
    ASSERT_TRUE(after.ok()) << after.error().ToString();
    EXPECT_EQ(after->policy_tier, "3");
    EXPECT_NE(after->signature_status.find("present"), std::string::npos);
    EXPECT_EQ(after->layers.size(), before->layers.size() + 2);
    EXPECT_EQ(after->manifest.config.digest, before->manifest.config.digest);
    for (size_t i = 0; i < before->layers.size(); ++i)
      EXPECT_EQ(after->layers[i].descriptor.digest, before->layers[i].descriptor.digest);
    UnpackOptions o;
    o.output = pkg + ".out";
    ASSERT_TRUE(Unpack(pkg, o).ok());
    EXPECT_EQ(test::ReadTree(o.output), test::ReadTree(model));
  }
}

// ---- bad packages ----

// Builds a package from small files, letting the test corrupt the manifest first.
std::string Craft(const TempDir& t, const std::string& name, bool tar,
                  const std::function<void(oci::Manifest&)>& mutate,
                  std::vector<std::pair<std::string, std::string>> files = {
                      {"model.bin", std::string(5000, 'w')}, {"config.json", "{}"}}) {
  std::string path = t / name;
  oci::WriterOptions wo;
  wo.tar = tar;
  auto w = oci::LayoutWriter::Create(path, wo);
  EXPECT_TRUE(w.ok());
  oci::Manifest m;
  m.artifact_type = std::string(oci::kModelArtifactType);
  for (const auto& [p, content] : files) {
    auto d = (*w)->AddBytes(content, oci::kModelWeightRaw);
    EXPECT_TRUE(d.ok());
    d->annotations[std::string(oci::kAnnotationFilepath)] = p;
    m.layers.push_back(*d);
  }
  m.config = *(*w)->AddBytes("{\"descriptor\":{\"name\":\"x\"},\"config\":{},\"modelfs\":{}}",
                             oci::kModelConfig);
  mutate(m);
  auto md = (*w)->AddBytes(m.Serialize(), oci::kOciManifest);
  oci::Index idx;
  idx.manifests.push_back(*md);
  EXPECT_TRUE((*w)->Commit(idx).ok());
  return path;
}

void ExpectRefused(const std::string& pkg, const TempDir& t, ErrorCode code,
                   const std::string& needle) {
  fs::create_directories(t.path() / "dest");
  Error e = UnpackError(pkg, t / "dest/out");
  EXPECT_EQ(e.code(), code) << e.ToString();
  EXPECT_NE(e.ToString().find(needle), std::string::npos) << e.ToString();
}

TEST(PackageRefuses, TraversalPathsInAnnotations) {
  TempDir t;
  int n = 0;
  for (std::string bad : std::vector<std::string>{"../evil", "a/../../evil", "/etc/passwd", "",
                                                  "a\\..\\b", "a//b", "./a", "a/./b", "a\nb"}) {
    for (bool tar : {false, true}) {
      std::string pkg =
          Craft(t, "p" + std::to_string(n++) + (tar ? ".tar" : ""), tar, [&](oci::Manifest& m) {
            m.layers[0].annotations[std::string(oci::kAnnotationFilepath)] = bad;
          });
      ExpectRefused(pkg, t, bad.empty() ? ErrorCode::kMalformed : ErrorCode::kUnsafe, "layer 0");
    }
  }
}

TEST(PackageRefuses, DuplicatePaths) {
  TempDir t;
  std::string pkg = Craft(t, "p.tar", true, [](oci::Manifest& m) {
    m.layers[1].annotations[std::string(oci::kAnnotationFilepath)] = "model.bin";
  });
  ExpectRefused(pkg, t, ErrorCode::kUnsafe, "same path");
  std::string nested = Craft(t, "q.tar", true, [](oci::Manifest& m) {
    m.layers[1].annotations[std::string(oci::kAnnotationFilepath)] = "model.bin/config.json";
  });
  ExpectRefused(nested, t, ErrorCode::kUnsafe, "folder");
}

TEST(PackageRefuses, ManifestNamingAMissingBlob) {
  TempDir t;
  for (bool tar : {false, true}) {
    std::string pkg = Craft(t, tar ? "p.tar" : "p", tar, [](oci::Manifest& m) {
      m.layers[0].digest = "sha256:" + std::string(64, 'a');
    });
    ExpectRefused(pkg, t, ErrorCode::kMalformed, "blob missing");
  }
  // A folder whose blob file was deleted after packing.
  std::string pkg = Craft(t, "q", false, [](oci::Manifest&) {});
  auto r = oci::LayoutReader::Open(pkg);
  auto m = (*r)->ReadManifest();
  fs::remove(pkg + "/blobs/sha256/" + m->layers[1].digest.substr(7));
  ExpectRefused(pkg, t, ErrorCode::kMalformed, "layer 1 (config.json)");
}

TEST(PackageRefuses, SizeDisagreeingWithTheManifest) {
  TempDir t;
  for (bool tar : {false, true}) {
    std::string pkg =
        Craft(t, tar ? "p.tar" : "p", tar, [](oci::Manifest& m) { m.layers[0].size += 1; });
    ExpectRefused(pkg, t, ErrorCode::kMismatch, "size");
  }
}

TEST(PackageRefuses, BlobWhoseDigestLies) {
  TempDir t;
  std::string model = MakeModel(t);
  // Folder: one byte of the weights changed in place, size unchanged.
  PackTo(model, t / "p");
  auto info = Inspect(t / "p");
  ASSERT_TRUE(info.ok());
  std::string weights;
  for (const auto& l : info->layers)
    if (l.role == "weights") weights = l.descriptor.digest;
  std::string blob = t / ("p/blobs/sha256/" + weights.substr(7));
  auto bytes = test::ReadAll(blob);
  bytes[bytes.size() / 2] ^= 1;
  test::WriteAll(blob, bytes);
  ExpectRefused(t / "p", t, ErrorCode::kMismatch, "stories260K.bin");
  // Tar: the same flip inside the tar.
  PackTo(model, t / "p.tar");
  uint64_t offset = 0;
  {
    auto r = oci::LayoutReader::Open(t / "p.tar");
    oci::Descriptor d;
    d.digest = weights;
    d.size = bytes.size();
    auto b = (*r)->Blob(d);
    ASSERT_TRUE(b.ok());
    offset = b->offset;
  }
  auto tar = test::ReadAll(t / "p.tar");
  tar[offset + 12345] ^= 0x80;
  test::WriteAll(t / "p.tar", tar);
  ExpectRefused(t / "p.tar", t, ErrorCode::kMismatch, "does not match its digest");
}

TEST(PackageRefuses, TruncatedTar) {
  TempDir t;
  std::string model = MakeModel(t);
  PackTo(model, t / "p.tar");
  auto tar = test::ReadAll(t / "p.tar");
  int n = 0;
  // Inside the big blob, inside a header, just before index.json, and at almost nothing.
  for (size_t cut : {tar.size() / 2, size_t{3000}, size_t{2300}, tar.size() - 1024 - 512 - 100,
                     tar.size() - 1024 - 1024, size_t{100}}) {
    std::string p = t / ("cut" + std::to_string(n++) + ".tar");
    test::WriteAll(p, std::vector<uint8_t>(tar.begin(), tar.begin() + cut));
    fs::create_directories(t.path() / "dest");
    Error e = UnpackError(p, t / "dest/out");
    EXPECT_TRUE(e.code() == ErrorCode::kMalformed || e.code() == ErrorCode::kMismatch)
        << e.ToString();
    EXPECT_NE(e.ToString().find(p), std::string::npos) << e.ToString();
  }
}

// Runs a shell command (tar, ln) for fixtures the writer refuses to make.
void Sh(const std::string& cmd) {
  ASSERT_EQ(std::system(cmd.c_str()), 0) << cmd;
}

TEST(PackageRefuses, LinksDevicesAndDuplicateEntriesInATar) {
  TempDir t;
  std::string dir = Craft(t, "p", false, [](oci::Manifest&) {});
  auto r = oci::LayoutReader::Open(dir);
  auto m = (*r)->ReadManifest();
  std::string blob = "blobs/sha256/" + m->layers[0].digest.substr(7);
  fs::create_directories(t.path() / "dest");
  // A symlink where a blob should be.
  Sh("cp -r " + dir + " " + (t / "s") + " && cd " + (t / "s") + " && mv " + blob +
     " ../moved && ln -s ../../../moved " + blob + " && tar -cf ../sym.tar .");
  ExpectRefused(t / "sym.tar", t, ErrorCode::kUnsafe, "symbolic link");
  ExpectRefused(t / "s", t, ErrorCode::kUnsafe, "not a regular file");
  // A hard link entry (tar stores the second name as a link to the first).
  Sh("cp -r " + dir + " " + (t / "h") + " && cd " + (t / "h") + " && ln " + blob +
     " blobs/zz-link && tar -cf ../hard.tar oci-layout index.json blobs");
  ExpectRefused(t / "hard.tar", t, ErrorCode::kUnsafe, "hard link");
  // A fifo (a special file, like a device).
  Sh("cp -r " + dir + " " + (t / "f") + " && cd " + (t / "f") +
     " && mkfifo blobs/fifo && tar -cf ../fifo.tar .");
  ExpectRefused(t / "fifo.tar", t, ErrorCode::kUnsafe, "special entry");
  // The same blob name twice (appended with tar -r).
  Sh("cd " + dir + " && tar -cf " + (t / "dup.tar") + " . && tar -rf " + (t / "dup.tar") + " ./" +
     blob);
  ExpectRefused(t / "dup.tar", t, ErrorCode::kUnsafe, "duplicate entry");
  // And a tar of the untouched folder is accepted (the fixtures differ only as stated).
  Sh("cd " + dir + " && tar -cf " + (t / "good.tar") + " .");
  UnpackOptions o;
  o.output = t / "dest/good";
  auto ok = Unpack(t / "good.tar", o);
  EXPECT_TRUE(ok.ok()) << ok.error().ToString();
}

TEST(PackageRefuses, OutputThatExists) {
  TempDir t;
  std::string pkg = Craft(t, "p.tar", true, [](oci::Manifest&) {});
  fs::create_directories(t.path() / "exists");
  UnpackOptions o;
  o.output = t / "exists";
  auto r = Unpack(pkg, o);
  ASSERT_FALSE(r.ok());
  EXPECT_EQ(r.error().code(), ErrorCode::kUsage);
  std::string model = MakeModel(t);
  PackOptions po;
  po.output = pkg;
  auto before = test::ReadAll(pkg);
  auto p = Pack(model, Spec(model), po);
  ASSERT_FALSE(p.ok());
  EXPECT_EQ(p.error().code(), ErrorCode::kUsage) << p.error().ToString();
  EXPECT_EQ(test::ReadAll(pkg), before);
}

TEST(OciLayout, BlobWriterChecksDigestAndSizeAndRejectsBadDigests) {
  TempDir t;
  for (bool tar : {false, true}) {
    oci::WriterOptions wo;
    wo.tar = tar;
    std::string path = t / (tar ? "l.tar" : "l");
    auto w = oci::LayoutWriter::Create(path, wo);
    ASSERT_TRUE(w.ok());
    std::string data = "hello";
    std::string good =
        HashBytes(HashAlgo::kSha256, Bytes(reinterpret_cast<const uint8_t*>(data.data()), 5))
            .Prefixed();
    {
      auto bw = (*w)->BeginBlob(5, "x/y", "sha256:" + std::string(64, 'b'));
      ASSERT_TRUE(bw.ok());
      ASSERT_TRUE((*bw)->Write(Bytes(reinterpret_cast<const uint8_t*>(data.data()), 5)).ok());
      auto d = (*bw)->Finish();
      ASSERT_FALSE(d.ok());
      EXPECT_EQ(d.error().code(), ErrorCode::kMismatch);
    }
    auto bw = (*w)->BeginBlob(5, "x/y", good);
    ASSERT_TRUE((*bw)->Write(Bytes(reinterpret_cast<const uint8_t*>(data.data()), 5)).ok());
    auto d = (*bw)->Finish();
    ASSERT_TRUE(d.ok()) << d.error().ToString();
    EXPECT_EQ(d->digest, good);
    bw->reset();
    EXPECT_FALSE((*w)->BeginBlob(5, "x/y", "sha256:XYZ").ok());
    EXPECT_EQ((*w)->BeginBlob(5, "x/y", "sha512:" + std::string(128, 'a')).error().code(),
              ErrorCode::kUnsupported);
    oci::Index idx;
    ASSERT_TRUE((*w)->Commit(idx).ok());
    auto r = oci::LayoutReader::Open(path);
    ASSERT_TRUE(r.ok()) << r.error().ToString();
    EXPECT_EQ((*r)->BlobDigests(), std::vector<std::string>{good});
  }
}

}  // namespace
}  // namespace wg::package
