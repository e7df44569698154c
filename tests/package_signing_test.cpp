// Package signatures (verify/package_signature.h) on the real stories260K model: a package
// with a policy and a golden record is signed and verifies, in folder and .tar form; then a
// campaign of more than 1000 mutations of the signed package - byte flips at the start,
// middle and end of every covered blob (weights, tokenizers, policy, golden record, config),
// of the signature and of the manifest, truncations, appended bytes, deleted blobs, layers
// removed from, added to or renamed in the manifest, a policy swapped in from another
// package, edited bundle fields, a signature by another key - each refused with its reason.
// Mutations happen on one working copy and are undone after each check; the .tar form of
// each mutation is the mutated folder written as a tar.
#include <archive.h>
#include <archive_entry.h>
#include <gtest/gtest.h>

#include <algorithm>
#include <filesystem>
#include <functional>
#include <map>
#include <nlohmann/json.hpp>
#include <optional>
#include <random>

#include "support/test_util.h"
#include "weightgate/core/file.h"
#include "weightgate/core/hash.h"
#include "weightgate/package/package.h"
#include "weightgate/signing/bundle.h"
#include "weightgate/signing/keys.h"
#include "weightgate/signing/statement.h"
#include "weightgate/verify/package_signature.h"

namespace wg {
namespace {

namespace fs = std::filesystem;
using test::TempDir;

const char* const kModelFiles[] = {"stories260K.bin", "tok512.bin", "tok512.model"};
constexpr char kGolden[] = "{\"prompt\":\"Once upon a time\",\"tokens\":[1,403,407]}";

std::string Text(const std::vector<uint8_t>& b) {
  return std::string(b.begin(), b.end());
}
std::vector<uint8_t> Bytes(const std::string& s) {
  return {s.begin(), s.end()};
}

// The real model, plus a second copy of a tokenizer (two layers sharing one blob).
std::string MakeModel(const fs::path& dir) {
  fs::path m = dir / "model";
  fs::create_directories(m / "tokenizer");
  for (const char* f : kModelFiles)
    fs::copy_file(test::TestData(std::string("models/stories260K/") + f), m / f);
  fs::copy_file(m / "tok512.bin", m / "tokenizer" / "tok512.bin");
  for (const auto& e : fs::recursive_directory_iterator(m))
    fs::permissions(e.path(), fs::perms::owner_write, fs::perm_options::add);
  return m.string();
}

package::PackageSpec Spec() {
  package::PackageSpec s;
  s.name = "stories260K";
  s.version = "1.0.0";
  s.license = "Apache-2.0";
  s.model.family = "llama";
  s.files = {{"stories260K.bin", package::Role::kWeights, ""},
             {"tok512.bin", package::Role::kTokenizer, ""},
             {"tok512.model", package::Role::kTokenizer, ""},
             {"tokenizer/tok512.bin", package::Role::kTokenizer, ""}};
  return s;
}

std::string Policy(const std::string& name) {
  return Text(test::ReadAll(test::SourcePath("examples/policies/" + name)));
}

void PackTo(const std::string& model, const std::string& out, const std::string& policy) {
  package::PackOptions o;
  o.output = out;
  auto layer = package::PolicyLayer(Policy(policy), policy);
  ASSERT_TRUE(layer.ok()) << layer.error().ToString();
  o.extra_layers = {*layer, {std::string(oci::kWeightgateGolden), kGolden, "golden.json"}};
  auto r = package::Pack(model, Spec(), o);
  ASSERT_TRUE(r.ok()) << r.error().ToString();
}

signing::Signer SignerOf(const signing::EcKey& k) {
  signing::Signer s;
  s.key = &k;
  return s;
}

signing::TrustPolicy TrustOf(const signing::EcKey& k) {
  signing::TrustPolicy t;
  t.public_key = &k;
  return t;
}

// Writes an OCI layout folder as one tar, blob files as they are (even when they no longer
// match their names), in the order pack uses.
void TarFolder(const fs::path& dir, const std::string& tar) {
  archive* a = archive_write_new();
  archive_write_set_format_pax_restricted(a);
  ASSERT_EQ(archive_write_open_filename(a, tar.c_str()), ARCHIVE_OK);
  auto put = [&](const std::string& name, const std::vector<uint8_t>* data) {
    archive_entry* e = archive_entry_new();
    archive_entry_set_pathname(e, name.c_str());
    archive_entry_set_filetype(e, data ? AE_IFREG : AE_IFDIR);
    archive_entry_set_perm(e, data ? 0644 : 0755);
    archive_entry_set_size(e, data ? static_cast<la_int64_t>(data->size()) : 0);
    ASSERT_EQ(archive_write_header(a, e), ARCHIVE_OK);
    if (data && !data->empty()) {
      ASSERT_EQ(archive_write_data(a, data->data(), data->size()),
                static_cast<la_ssize_t>(data->size()));
    }
    archive_entry_free(e);
  };
  auto layout = test::ReadAll((dir / "oci-layout").string());
  put("oci-layout", &layout);
  put("blobs/", nullptr);
  put("blobs/sha256/", nullptr);
  std::vector<fs::path> blobs;
  for (const auto& e : fs::directory_iterator(dir / "blobs" / "sha256")) blobs.push_back(e.path());
  std::sort(blobs.begin(), blobs.end());
  for (const auto& b : blobs) {
    auto data = test::ReadAll(b.string());
    put("blobs/sha256/" + b.filename().string(), &data);
  }
  auto index = test::ReadAll((dir / "index.json").string());
  put("index.json", &index);
  archive_write_close(a);
  archive_write_free(a);
}

// ---- the signed packages, built once ----

struct World {
  TempDir dir;
  std::optional<signing::EcKey> key, other;
  std::string model, folder, tar;
  // A signature by the right key over a package with another policy.
  std::string foreign_bundle;
};

World& Env() {
  static World* w = [] {
    auto* w = new World;
    w->key.emplace(signing::EcKey::Generate(signing::Curve::kP256).value());
    w->other.emplace(signing::EcKey::Generate(signing::Curve::kP256).value());
    w->model = MakeModel(w->dir.path());
    w->folder = w->dir / "pkg";
    w->tar = w->dir / "pkg.tar";
    PackTo(w->model, w->folder, "open-apache-2.0.yaml");
    PackTo(w->model, w->tar, "open-apache-2.0.yaml");
    PackTo(w->model, w->dir / "foreign.tar", "research-only-llama1.yaml");
    for (const auto& p : {w->folder, w->tar}) {
      auto r = verify::SignPackage(p, SignerOf(*w->key), {});
      EXPECT_TRUE(r.ok()) << r.error().ToString();
    }
    auto f = verify::SignPackage(w->dir / "foreign.tar", SignerOf(*w->key), {});
    EXPECT_TRUE(f.ok());
    w->foreign_bundle = f->bundle;
    return w;
  }();
  return *w;
}

TEST(PackageSigning, SignedPackagesVerifyInFolderAndTarForm) {
  World& w = Env();
  for (const auto& pkg : {w.folder, w.tar}) {
    auto r = verify::VerifyPackage(pkg, TrustOf(*w.key), {});
    ASSERT_TRUE(r.ok()) << r.error().ToString();
    EXPECT_TRUE(r->diff.empty()) << r->diff.Describe();
    std::vector<std::string> names;
    for (const auto& res : r->signature.manifest.resources) names.push_back(res.path);
    EXPECT_EQ(names,
              (std::vector<std::string>{".weightgate/golden.json", ".weightgate/model-config.json",
                                        ".weightgate/policy.yaml", "stories260K.bin", "tok512.bin",
                                        "tok512.model", "tokenizer/tok512.bin"}));
    EXPECT_EQ(r->verified, 7u);
    EXPECT_EQ(r->signature.method, "key");
    EXPECT_EQ(r->signature.signer, w.key->Hint());
    EXPECT_EQ(r->signature.manifest.model_name, "stories260K");
    // The file resources are exactly the layers' OCI digests (files + sha256).
    auto reader = oci::LayoutReader::Open(pkg);
    ASSERT_TRUE(reader.ok());
    auto m = (*reader)->ReadManifest();
    ASSERT_TRUE(m.ok());
    for (const auto& l : m->layers) {
      for (const auto& res : r->signature.manifest.resources) {
        if (res.path == l.Annotation(oci::kAnnotationFilepath)) {
          EXPECT_EQ("sha256:" + res.DigestHex(), l.digest);
        }
      }
    }
    auto summary = verify::DescribePackageSignature(pkg);
    ASSERT_TRUE(summary.ok());
    EXPECT_TRUE(summary->present);
    EXPECT_EQ(summary->signer, w.key->Hint());
    EXPECT_EQ(summary->resources, 7u);
  }
  // The signature layer is an ordinary OMS bundle: the statement is model_signing's.
  auto info = package::Inspect(w.tar);
  ASSERT_TRUE(info.ok());
  EXPECT_NE(info->signature_status.find("present"), std::string::npos);
}

TEST(PackageSigning, ShardsAndBlake3RoundTripAndNameTheTamperedFile) {
  World& w = Env();
  TempDir t;
  for (bool tar : {false, true}) {
    std::string pkg = t / (tar ? "s.tar" : "s");
    PackTo(w.model, pkg, "open-apache-2.0.yaml");
    verify::PackageSignOptions o;
    o.serialization.method = signing::SerializationMethod::kShards;
    o.serialization.shard_size = 100'000;
    o.serialization.hash = HashAlgo::kBlake3;
    auto s = verify::SignPackage(pkg, SignerOf(*w.key), o);
    ASSERT_TRUE(s.ok()) << s.error().ToString();
    EXPECT_EQ(s->manifest.resources.size(), 11u + 6u);  // 1056540 bytes in 11 shards
    auto r = verify::VerifyPackage(pkg, TrustOf(*w.key), {});
    ASSERT_TRUE(r.ok()) << r.error().ToString();
    EXPECT_TRUE(r->diff.empty()) << r->diff.Describe();
    EXPECT_EQ(r->verified, 17u);
    // One flipped byte in the 6th shard of the weights.
    auto reader = oci::LayoutReader::Open(pkg);
    auto m = (*reader)->ReadManifest();
    auto blob = (*reader)->Blob(m->layers[0]);
    ASSERT_TRUE(blob.ok());
    std::string file = blob->file->path();
    uint64_t at = blob->offset + 550'000;
    reader->reset();
    auto bytes = test::ReadAll(file);
    bytes[at] ^= 0x40;
    test::WriteAll(file, bytes);
    r = verify::VerifyPackage(pkg, TrustOf(*w.key), {});
    ASSERT_TRUE(r.ok()) << r.error().ToString();
    EXPECT_EQ(r->diff.modified, std::vector<std::string>{"stories260K.bin"});
    EXPECT_TRUE(r->diff.missing.empty() && r->diff.extra.empty()) << r->diff.Describe();
    EXPECT_EQ(r->inconsistent, std::vector<std::string>{"stories260K.bin"});
  }
}

TEST(PackageSigning, SignRefusesABlobThatLiesAboutItsDigest) {
  World& w = Env();
  TempDir t;
  for (bool tar : {false, true}) {
    std::string pkg = t / (tar ? "lie.tar" : "lie");
    PackTo(w.model, pkg, "open-apache-2.0.yaml");
    auto reader = oci::LayoutReader::Open(pkg);
    auto m = (*reader)->ReadManifest();
    auto blob = (*reader)->Blob(m->layers[2]);  // tok512.model
    std::string file = blob->file->path();
    uint64_t at = blob->offset + 17;
    reader->reset();
    auto before = test::ReadAll(file);
    auto bytes = before;
    bytes[at] ^= 1;
    test::WriteAll(file, bytes);
    for (auto ser : {signing::SerializationMethod::kFiles, signing::SerializationMethod::kShards}) {
      verify::PackageSignOptions o;
      o.serialization.method = ser;
      auto s = verify::SignPackage(pkg, SignerOf(*w.key), o);
      ASSERT_FALSE(s.ok());
      EXPECT_EQ(s.error().code(), ErrorCode::kMismatch) << s.error().ToString();
      EXPECT_NE(s.error().ToString().find("tok512.model"), std::string::npos)
          << s.error().ToString();
    }
    auto info = package::Inspect(pkg);
    ASSERT_TRUE(info.ok());
    EXPECT_EQ(info->signature_status, "absent");  // nothing was attached
  }
}

TEST(PackageSigning, PolicyAttachedAfterSigningIsExtraUntilResigned) {
  World& w = Env();
  TempDir t;
  std::string pkg = t / "p.tar";
  package::PackOptions o;
  o.output = pkg;
  ASSERT_TRUE(package::Pack(w.model, Spec(), o).ok());
  ASSERT_TRUE(verify::SignPackage(pkg, SignerOf(*w.key), {}).ok());
  auto layer = package::PolicyLayer(Policy("open-apache-2.0.yaml"), "policy");
  ASSERT_TRUE(package::AttachLayer(pkg, *layer).ok());
  auto r = verify::VerifyPackage(pkg, TrustOf(*w.key), {});
  ASSERT_TRUE(r.ok());
  EXPECT_EQ(r->diff.extra, std::vector<std::string>{".weightgate/policy.yaml"});
  ASSERT_TRUE(verify::SignPackage(pkg, SignerOf(*w.key), {}).ok());  // replaces the layer
  r = verify::VerifyPackage(pkg, TrustOf(*w.key), {});
  ASSERT_TRUE(r.ok());
  EXPECT_TRUE(r->diff.empty()) << r->diff.Describe();
  EXPECT_EQ(r->verified, 6u);
  // A detached signature leaves the package alone and verifies with --signature.
  std::string sig = t / "detached.sig";
  verify::PackageSignOptions d;
  d.detached_path = sig;
  auto before = package::Inspect(pkg)->manifest_descriptor.digest;
  ASSERT_TRUE(verify::SignPackage(pkg, SignerOf(*w.other), d).ok());
  EXPECT_EQ(package::Inspect(pkg)->manifest_descriptor.digest, before);
  verify::PackageVerifyOptions vo;
  vo.signature_path = sig;
  r = verify::VerifyPackage(pkg, TrustOf(*w.other), vo);
  ASSERT_TRUE(r.ok()) << r.error().ToString();
  EXPECT_TRUE(r->diff.empty());
}

TEST(PackageSigning, ResigningAFolderPackageInPlaceLeavesNoStaleBlobs) {
  World& w = Env();
  TempDir t;
  std::string pkg = t / "f";
  PackTo(w.model, pkg, "open-apache-2.0.yaml");
  auto blobs = [&] {
    size_t n = 0;
    for (const auto& e : fs::directory_iterator(fs::path(pkg) / "blobs" / "sha256"))
      n += e.is_regular_file();
    return n;
  };
  EXPECT_EQ(blobs(), 7u);  // 3 file blobs (two layers share one), policy, golden, config, manifest
  for (const auto* k : {&*w.key, &*w.other, &*w.key}) {
    ASSERT_TRUE(verify::SignPackage(pkg, SignerOf(*k), {}).ok());
    EXPECT_EQ(blobs(), 8u);  // + the signature; the old signature and manifest are gone
    auto r = verify::VerifyPackage(pkg, TrustOf(*k), {});
    ASSERT_TRUE(r.ok()) << r.error().ToString();
    EXPECT_TRUE(r->diff.empty()) << r->diff.Describe();
  }
  package::UnpackOptions o;
  o.output = t / "out";
  ASSERT_TRUE(package::Unpack(pkg, o).ok());
  EXPECT_EQ(test::ReadAll(t / "out/stories260K.bin"),
            test::ReadAll(test::TestData("models/stories260K/stories260K.bin")));
}

TEST(PackageSigning, UnsignedPackageIsAClearError) {
  World& w = Env();
  TempDir t;
  std::string pkg = t / "u.tar";
  PackTo(w.model, pkg, "open-apache-2.0.yaml");
  auto r = verify::VerifyPackage(pkg, TrustOf(*w.key), {});
  ASSERT_FALSE(r.ok());
  EXPECT_EQ(r.error().code(), ErrorCode::kUsage);
  EXPECT_NE(r.error().message().find("not signed"), std::string::npos);
  auto s = verify::DescribePackageSignature(pkg);
  ASSERT_TRUE(s.ok());
  EXPECT_FALSE(s->present);
}

// ---- the tamper campaign ----

// What a mutation must lead to: a content report naming `name` in one of the lists, or an
// error of one of the codes.
struct Expect {
  enum Kind { kMissing, kExtra, kModified, kError } kind;
  std::vector<std::string> names;  // every one must appear in the list (kMissing..kModified)
  std::vector<ErrorCode> codes;    // one of these (kError)
};

// One working copy of the signed folder package; edits are recorded and undone.
class Workbench {
 public:
  explicit Workbench(const fs::path& root) : root_(root) {}

  std::string Blob(const std::string& digest) const {
    return (root_ / "blobs" / "sha256" / digest.substr(7)).string();
  }
  std::vector<uint8_t> Read(const std::string& path) const { return test::ReadAll(path); }
  void Write(const std::string& path, const std::vector<uint8_t>& bytes) {
    Save(path);
    test::WriteAll(path, bytes);
  }
  void Remove(const std::string& path) {
    Save(path);
    fs::remove(path);
  }
  void Undo() {
    for (auto& [path, bytes] : saved_) {
      if (bytes)
        test::WriteAll(path, *bytes);
      else
        fs::remove(path);
    }
    saved_.clear();
  }

  oci::Manifest Manifest() const {
    auto index = oci::Index::Parse(Text(Read((root_ / "index.json").string())), "index");
    auto m = oci::Manifest::Parse(Text(Read(Blob(index->manifests[0].digest))), "manifest");
    return *m;
  }
  // Stores bytes as a new blob and returns its descriptor.
  oci::Descriptor AddBlob(const std::string& content, const std::string& media_type) {
    oci::Descriptor d;
    d.media_type = media_type;
    d.digest =
        HashBytes(HashAlgo::kSha256,
                  wg::Bytes(reinterpret_cast<const uint8_t*>(content.data()), content.size()))
            .Prefixed();
    d.size = content.size();
    if (!fs::exists(Blob(d.digest))) Write(Blob(d.digest), Bytes(content));
    return d;
  }
  // Replaces the manifest consistently: new manifest blob, index pointing at it.
  void SetManifest(const oci::Manifest& m) {
    auto index = *oci::Index::Parse(Text(Read((root_ / "index.json").string())), "index");
    oci::Descriptor d = AddBlob(m.Serialize(), std::string(oci::kOciManifest));
    index.manifests[0].digest = d.digest;
    index.manifests[0].size = d.size;
    Write((root_ / "index.json").string(), Bytes(index.Serialize()));
  }

 private:
  void Save(const std::string& path) {
    if (saved_.count(path)) return;
    if (fs::exists(path))
      saved_[path] = test::ReadAll(path);
    else
      saved_[path] = std::nullopt;
  }
  fs::path root_;
  std::map<std::string, std::optional<std::vector<uint8_t>>> saved_;
};

std::string Check(const Result<verify::PackageVerifyReport>& r, const Expect& e) {
  if (e.kind == Expect::kError) {
    if (r.ok()) return "accepted (diff: " + r->diff.Describe() + "), expected an error";
    if (std::find(e.codes.begin(), e.codes.end(), r.error().code()) == e.codes.end())
      return "wrong error: " + r.error().ToString();
    return "";
  }
  if (!r.ok()) return "error instead of a content report: " + r.error().ToString();
  const auto& d = r->diff;
  const auto& list = e.kind == Expect::kMissing ? d.missing
                     : e.kind == Expect::kExtra ? d.extra
                                                : d.modified;
  for (const auto& n : e.names)
    if (std::find(list.begin(), list.end(), n) == list.end())
      return "'" + n + "' not reported (diff: " + d.Describe() + ")";
  if (d.empty()) return "accepted";
  return "";
}

TEST(PackageSigning, ThousandMutationsOfASignedPackageAreAllRefused) {
  World& w = Env();
  TempDir t;
  fs::path work = t.path() / "work";
  fs::copy(w.folder, work, fs::copy_options::recursive);
  std::string tar = t / "work.tar";
  Workbench bench(work);
  const oci::Manifest pristine = bench.Manifest();
  auto covered = verify::CoveredBlobs(pristine);
  ASSERT_TRUE(covered.ok());
  const oci::Descriptor* sig_layer = nullptr;
  for (const auto& l : pristine.layers)
    if (l.media_type == oci::kWeightgateSignature) sig_layer = &l;
  ASSERT_NE(sig_layer, nullptr);
  const std::string bundle_text = Text(bench.Read(bench.Blob(sig_layer->digest)));
  // Every covered name that shares a blob with `c` changes with it.
  auto sharing = [&](const verify::CoveredBlob& c) {
    std::vector<std::string> names;
    for (const auto& o : *covered)
      if (o.descriptor.digest == c.descriptor.digest) names.push_back(o.name);
    return names;
  };

  std::mt19937_64 rng(20261201);
  auto pick = [&](uint64_t n) { return std::uniform_int_distribution<uint64_t>(0, n - 1)(rng); };
  size_t checked = 0;
  std::map<std::string, size_t> per_kind;
  auto run = [&](const std::string& kind, const std::function<Expect()>& mutate) {
    Expect e = mutate();
    for (bool as_tar : {false, true}) {
      std::string pkg = work.string();
      if (as_tar) {
        TarFolder(work, tar);
        pkg = tar;
      }
      auto r = verify::VerifyPackage(pkg, TrustOf(*w.key), {});
      std::string why = Check(r, e);
      EXPECT_EQ(why, "") << kind << (as_tar ? " (tar)" : " (folder)");
      ++checked;
      ++per_kind[kind];
    }
    bench.Undo();
  };

  // Byte flips at the start, middle, end and anywhere in every covered blob.
  for (const auto& c : *covered) {
    std::string file = bench.Blob(c.descriptor.digest);
    uint64_t n = c.descriptor.size;
    for (int i = 0; i < 60; ++i) {
      uint64_t at = i < 4    ? uint64_t(i)
                    : i < 8  ? n - 1 - uint64_t(i - 4)
                    : i < 12 ? n / 2 + i - 8
                             : pick(n);
      run("flip " + c.name, [&] {
        auto b = bench.Read(file);
        b[at] ^= uint8_t(1u << pick(8));
        bench.Write(file, b);
        return Expect{Expect::kModified, sharing(c), {}};
      });
    }
    for (int i = 0; i < 4; ++i)
      run("truncate " + c.name, [&] {
        auto b = bench.Read(file);
        b.resize(i == 0 ? 0 : pick(b.size()));
        bench.Write(file, b);
        return Expect{Expect::kModified, sharing(c), {}};
      });
    for (int i = 0; i < 4; ++i)
      run("append to " + c.name, [&] {
        auto b = bench.Read(file);
        for (uint64_t k = 0, extra = 1 + pick(64); k < extra; ++k) b.push_back(uint8_t(pick(256)));
        bench.Write(file, b);
        return Expect{Expect::kModified, sharing(c), {}};
      });
    run("delete blob of " + c.name, [&] {
      bench.Remove(file);
      return Expect{Expect::kMissing, sharing(c), {}};
    });
  }

  // The signature and the manifest themselves.
  for (const auto* target : {"signature", "manifest"}) {
    for (int i = 0; i < 24; ++i)
      run(std::string("flip ") + target, [&] {
        std::string file =
            target == std::string("signature")
                ? bench.Blob(sig_layer->digest)
                : bench.Blob(
                      oci::Index::Parse(Text(bench.Read((work / "index.json").string())), "i")
                          ->manifests[0]
                          .digest);
        auto b = bench.Read(file);
        uint64_t at = i == 0 ? 0 : i == 1 ? b.size() - 1 : i == 2 ? b.size() / 2 : pick(b.size());
        b[at] ^= uint8_t(1u << pick(8));
        bench.Write(file, b);
        return Expect{Expect::kError, {}, {ErrorCode::kMismatch}};
      });
  }
  for (int i = 0; i < 6; ++i)
    run("resize signature", [&] {
      std::string file = bench.Blob(sig_layer->digest);
      auto b = bench.Read(file);
      if (i % 2)
        b.resize(pick(b.size()));
      else
        b.push_back('\n');
      bench.Write(file, b);
      return Expect{Expect::kError, {}, {ErrorCode::kMismatch}};
    });

  // Manifest edits, made consistently (new manifest blob, index updated).
  for (size_t i = 0; i < pristine.layers.size(); ++i) {
    const auto& l = pristine.layers[i];
    run("remove layer " + std::to_string(i), [&] {
      oci::Manifest m = pristine;
      m.layers.erase(m.layers.begin() + long(i));
      bench.SetManifest(m);
      if (l.media_type == oci::kWeightgateSignature)
        return Expect{Expect::kError, {}, {ErrorCode::kUsage}};
      for (const auto& c : *covered)
        if (c.descriptor.digest == l.digest && c.descriptor.annotations == l.annotations &&
            c.descriptor.media_type == l.media_type)
          return Expect{Expect::kMissing, {c.name}, {}};
      ADD_FAILURE() << "layer " << i << " not covered";
      return Expect{Expect::kError, {}, {}};
    });
  }
  for (int i = 0; i < 30; ++i)
    run("add layer", [&] {
      oci::Manifest m = pristine;
      std::string content(1 + pick(4096), '\0');
      for (auto& ch : content) ch = char(pick(256));
      std::string name;
      if (i % 3 == 0) {
        auto d = bench.AddBlob(content, std::string(oci::kModelWeightRaw));
        name = "added/" + std::to_string(i) + ".bin";
        d.annotations[std::string(oci::kAnnotationFilepath)] = name;
        d.annotations[std::string(oci::kAnnotationRole)] = "weights";
        m.layers.push_back(d);
      } else if (i % 3 == 1) {
        auto d = bench.AddBlob(content, "application/vnd.example.unknown.v1");
        name = ".weightgate/other/" + d.digest.substr(0, 6) + "-" + d.digest.substr(7);
        m.layers.push_back(d);
      } else {
        m.layers.push_back(bench.AddBlob(content, "application/vnd.weightgate.lineage.v1+json"));
        name = ".weightgate/lineage.json";
      }
      bench.SetManifest(m);
      return Expect{Expect::kExtra, {name}, {}};
    });
  for (const char* other :
       {"research-only-llama1.yaml", "open-weights-llama3.1.yaml", "closed-internal.yaml"})
    run("swap policy", [&] {
      oci::Manifest m = pristine;
      for (auto& l : m.layers)
        if (l.media_type == oci::kWeightgatePolicy) {
          auto d = bench.AddBlob(Policy(other), l.media_type);
          d.annotations = l.annotations;
          l = d;
        }
      bench.SetManifest(m);
      return Expect{Expect::kModified, {".weightgate/policy.yaml"}, {}};
    });
  for (int i = 0; i < 6; ++i)
    run("edit golden or config", [&] {
      oci::Manifest m = pristine;
      if (i % 2) {
        auto d = bench.AddBlob("{\"prompt\":\"x\",\"n\":" + std::to_string(i) + "}",
                               std::string(oci::kWeightgateGolden));
        for (auto& l : m.layers)
          if (l.media_type == oci::kWeightgateGolden) l = d;
        bench.SetManifest(m);
        return Expect{Expect::kModified, {".weightgate/golden.json"}, {}};
      }
      std::string cfg = Text(bench.Read(bench.Blob(m.config.digest)));
      cfg.replace(cfg.find("Apache-2.0"), 10, i == 0 ? "MIT" : "LicenseRef-x" + std::to_string(i));
      m.config = bench.AddBlob(cfg, m.config.media_type);
      bench.SetManifest(m);
      return Expect{Expect::kModified, {".weightgate/model-config.json"}, {}};
    });
  for (int i = 0; i < 12; ++i)
    run("rename file", [&] {
      oci::Manifest m = pristine;
      auto& l = m.layers[pick(4)];
      std::string old = l.Annotation(oci::kAnnotationFilepath);
      std::string renamed = i % 2 ? old + ".orig" : "renamed/" + std::to_string(i) + "/" + old;
      l.annotations[std::string(oci::kAnnotationFilepath)] = renamed;
      bench.SetManifest(m);
      Expect e{Expect::kExtra, {renamed}, {}};
      return e;
    });
  run("model file takes a reserved name", [&] {
    oci::Manifest m = pristine;
    m.layers[0].annotations[std::string(oci::kAnnotationFilepath)] = ".weightgate/policy.yaml";
    bench.SetManifest(m);
    return Expect{Expect::kError, {}, {ErrorCode::kMalformed}};
  });
  run("two signature layers", [&] {
    oci::Manifest m = pristine;
    m.layers.push_back(*sig_layer);
    bench.SetManifest(m);
    return Expect{Expect::kError, {}, {ErrorCode::kMalformed}};
  });

  // The signature layer replaced (consistently) by an edited or foreign bundle.
  auto with_bundle = [&](const std::string& text) {
    oci::Manifest m = pristine;
    for (auto& l : m.layers)
      if (l.media_type == oci::kWeightgateSignature) {
        auto d = bench.AddBlob(text, l.media_type);
        d.annotations = l.annotations;
        l = d;
      }
    bench.SetManifest(m);
  };
  auto bundle = [&] { return nlohmann::json::parse(bundle_text); };
  for (int i = 0; i < 12; ++i) {
    run("bundle: another statement", [&] {
      auto j = bundle();
      std::string payload = *signing::Base64Decode(j["dsseEnvelope"]["payload"].get<std::string>());
      size_t at = payload.find("\"digest\": \"") + 11 + pick(64);
      payload[at] = payload[at] == 'a' ? 'b' : 'a';
      j["dsseEnvelope"]["payload"] = signing::Base64Encode(payload);
      with_bundle(j.dump());
      return Expect{Expect::kError, {}, {ErrorCode::kBadSignature}};
    });
    run("bundle: another signature", [&] {
      auto j = bundle();
      std::string sig =
          *signing::Base64Decode(j["dsseEnvelope"]["signatures"][0]["sig"].get<std::string>());
      sig[8 + pick(sig.size() - 8)] ^= 0x10;
      j["dsseEnvelope"]["signatures"][0]["sig"] = signing::Base64Encode(sig);
      with_bundle(j.dump());
      // A flipped DER byte either breaks the encoding or the value: both fail to verify.
      return Expect{Expect::kError, {}, {ErrorCode::kBadSignature, ErrorCode::kMalformed}};
    });
  }
  run("bundle: payload type", [&] {
    auto j = bundle();
    j["dsseEnvelope"]["payloadType"] = "application/json";
    with_bundle(j.dump());
    return Expect{Expect::kError, {}, {ErrorCode::kBadSignature}};
  });
  run("bundle: key hint", [&] {
    auto j = bundle();
    j["verificationMaterial"]["publicKey"]["hint"] = w.other->Hint();
    with_bundle(j.dump());
    return Expect{Expect::kError, {}, {ErrorCode::kMalformed}};
  });
  run("bundle: media type", [&] {
    auto j = bundle();
    j["mediaType"] = "application/vnd.dev.sigstore.bundle+json;version=0.9";
    with_bundle(j.dump());
    return Expect{Expect::kError, {}, {ErrorCode::kMalformed, ErrorCode::kUnsupported}};
  });
  run("bundle: no envelope", [&] {
    auto j = bundle();
    j.erase("dsseEnvelope");
    with_bundle(j.dump());
    return Expect{Expect::kError, {}, {ErrorCode::kMalformed, ErrorCode::kUnsupported}};
  });
  run("bundle: not JSON", [&] {
    with_bundle(bundle_text.substr(0, bundle_text.size() / 2));
    return Expect{Expect::kError, {}, {ErrorCode::kMalformed}};
  });
  run("signature from another key", [&] {
    // The same statement, signed by `other`.
    auto j = bundle();
    std::string payload = *signing::Base64Decode(j["dsseEnvelope"]["payload"].get<std::string>());
    auto manifest = signing::ManifestFromStatement(payload);
    auto other_bundle = signing::SignManifest(*manifest, SignerOf(*w.other));
    with_bundle(*other_bundle);
    return Expect{Expect::kError, {}, {ErrorCode::kUntrusted}};
  });
  run("signature of another package by the same key", [&] {
    with_bundle(w.foreign_bundle);
    return Expect{Expect::kModified, {".weightgate/policy.yaml"}, {}};
  });

  // Undo really restored everything.
  auto clean = verify::VerifyPackage(work.string(), TrustOf(*w.key), {});
  ASSERT_TRUE(clean.ok()) << clean.error().ToString();
  EXPECT_TRUE(clean->diff.empty()) << clean->diff.Describe();
  EXPECT_GE(checked, 1000u);
  RecordProperty("mutations", int(checked));
  std::printf("%zu mutation checks (each mutation on the folder and as a tar):\n", checked);
  for (const auto& [k, n] : per_kind) std::printf("  %4zu  %s\n", n, k.c_str());
}

// ---- the verbs ----

TEST(PackageSigningCli, SignVerifyInspectWithExitCodes) {
  World& w = Env();
  TempDir t;
  using test::RunCli;
  ASSERT_EQ(RunCli({"keygen", "--algo", "ecdsa-p256", "-o", t / "rel"}).exit_code, 0);
  ASSERT_EQ(RunCli({"keygen", "--algo", "ecdsa-p384", "-o", t / "oth"}).exit_code, 0);
  std::string policy = test::SourcePath("examples/policies/open-apache-2.0.yaml");
  for (std::string pkg : {t / "p.tar", t / "p"}) {
    auto pack = RunCli({"pack", w.model, "-o", pkg, "--policy", policy});
    ASSERT_EQ(pack.exit_code, 0) << pack.err;
    auto unsigned_ = RunCli({"verify", pkg, "--pub", t / "rel.pub"});
    EXPECT_EQ(unsigned_.exit_code, 2) << unsigned_.err;
    EXPECT_NE(unsigned_.err.find("not signed"), std::string::npos) << unsigned_.err;
    EXPECT_NE(RunCli({"inspect", pkg}).out.find("signature  absent"), std::string::npos);

    auto sign = RunCli({"sign", pkg, "--key", t / "rel.key"});
    ASSERT_EQ(sign.exit_code, 0) << sign.err;
    // 5 files, the policy, the golden record pack writes, the config.
    EXPECT_NE(sign.out.find("signed 7 resources of package"), std::string::npos) << sign.out;
    auto ok = RunCli({"verify", pkg, "--pub", t / "rel.pub"});
    EXPECT_EQ(ok.exit_code, 0) << ok.err;
    EXPECT_NE(ok.out.find("verified 7 resources"), std::string::npos) << ok.out;
    auto js = RunCli({"verify", pkg, "--pub", t / "rel.pub", "--json"});
    EXPECT_EQ(js.exit_code, 0);
    auto j = nlohmann::json::parse(js.out);
    EXPECT_EQ(j["ok"], true);
    EXPECT_EQ(j["package"], true);
    EXPECT_EQ(j["verified"], 7);

    auto inspect = RunCli({"inspect", pkg});
    EXPECT_NE(inspect.out.find("signature  present, key "), std::string::npos) << inspect.out;
    EXPECT_NE(inspect.out.find("not verified"), std::string::npos) << inspect.out;
    auto inspect_ok = RunCli({"inspect", pkg, "--pub", t / "rel.pub", "--json"});
    ASSERT_EQ(inspect_ok.exit_code, 0) << inspect_ok.err;
    EXPECT_EQ(nlohmann::json::parse(inspect_ok.out)["signatureInfo"]["verified"], true);
    EXPECT_NE(RunCli({"inspect", pkg, "--pub", t / "oth.pub"}).out.find("signature  INVALID"),
              std::string::npos);

    EXPECT_EQ(RunCli({"verify", pkg, "--pub", t / "oth.pub"}).exit_code, 5);
    EXPECT_EQ(RunCli({"sign", pkg, "--key", t / "rel.key", "--ignore-paths", "x"}).exit_code, 2);

    // One flipped byte in the weights: exit 1 naming the file.
    std::string file;
    uint64_t at = 0;
    {
      auto reader = oci::LayoutReader::Open(pkg);
      auto m = (*reader)->ReadManifest();
      for (const auto& l : m->layers)
        if (l.Annotation(oci::kAnnotationFilepath) == "stories260K.bin") {
          auto b = (*reader)->Blob(l);
          file = b->file->path();
          at = b->offset + b->size / 3;
        }
    }
    auto original = test::ReadAll(file);
    auto flipped = original;
    flipped[at] ^= 0x80;
    test::WriteAll(file, flipped);
    auto bad = RunCli({"verify", pkg, "--pub", t / "rel.pub"});
    EXPECT_EQ(bad.exit_code, 1) << bad.err;
    EXPECT_NE(bad.err.find("modified: stories260K.bin"), std::string::npos) << bad.err;
    auto badj =
        nlohmann::json::parse(RunCli({"verify", pkg, "--pub", t / "rel.pub", "--json"}).out);
    EXPECT_EQ(badj["exit_code"], 1);
    EXPECT_EQ(badj["modified"], nlohmann::json::array({"stories260K.bin"}));
    EXPECT_EQ(RunCli({"sign", pkg, "--key", t / "rel.key"}).exit_code, 1);  // refuses to sign it
    test::WriteAll(file, original);

    // A detached signature by another key.
    auto det = RunCli({"sign", pkg, "--key", t / "oth.key", "-o", t / "det.sig"});
    ASSERT_EQ(det.exit_code, 0) << det.err;
    EXPECT_EQ(
        RunCli({"verify", pkg, "--pub", t / "oth.pub", "--signature", t / "det.sig"}).exit_code, 0);
    EXPECT_EQ(RunCli({"verify", pkg, "--pub", t / "rel.pub"}).exit_code, 0);  // layer unchanged

    // A signature layer whose statement was edited: exit 4; one that is not a bundle: exit 9.
    auto summary = verify::DescribePackageSignature(pkg);
    ASSERT_TRUE(summary.ok());
    auto bundle = nlohmann::json::parse(Text(test::ReadAll(t / "det.sig")));
    std::string payload =
        *signing::Base64Decode(bundle["dsseEnvelope"]["payload"].get<std::string>());
    payload.replace(payload.find("stories260K.bin"), 15, "stories999K.bin");
    bundle["dsseEnvelope"]["payload"] = signing::Base64Encode(payload);
    ASSERT_TRUE(package::AttachLayer(pkg, {std::string(oci::kWeightgateSignature), bundle.dump(),
                                           "signature.sigstore.json"})
                    .ok());
    EXPECT_EQ(RunCli({"verify", pkg, "--pub", t / "oth.pub"}).exit_code, 4);
    ASSERT_TRUE(package::AttachLayer(
                    pkg, {std::string(oci::kWeightgateSignature), "{}", "signature.sigstore.json"})
                    .ok());
    EXPECT_EQ(RunCli({"verify", pkg, "--pub", t / "rel.pub"}).exit_code, 9);
    auto broken = RunCli({"inspect", pkg});
    EXPECT_EQ(broken.exit_code, 0);
    EXPECT_NE(broken.out.find("present but unreadable"), std::string::npos) << broken.out;
  }
}

TEST(PackageSigningCli, SealedReleaseGatingRecordAndGrantsAreCovered) {
  World& w = Env();
  TempDir t;
  using test::RunCli;
  ASSERT_EQ(RunCli({"keygen", "--algo", "ecdsa-p256", "-o", t / "pub"}).exit_code, 0);
  ASSERT_EQ(RunCli({"keygen", "--algo", "x25519", "-o", t / "alice"}).exit_code, 0);
  std::string pkg = t / "closed.tar";
  auto pack = RunCli({"pack", w.model, "-o", pkg, "--policy",
                      test::SourcePath("examples/policies/closed-internal.yaml"), "--publisher-key",
                      t / "pub.key", "--recipient", t / "alice.pub"});
  ASSERT_EQ(pack.exit_code, 0) << pack.err;
  ASSERT_EQ(RunCli({"sign", pkg, "--key", t / "pub.key"}).exit_code, 0);
  auto ok = RunCli({"verify", pkg, "--pub", t / "pub.pub", "--json"});
  ASSERT_EQ(ok.exit_code, 0) << ok.out << ok.err;
  auto reader = oci::LayoutReader::Open(pkg);
  auto m = (*reader)->ReadManifest();
  auto covered = verify::CoveredBlobs(*m);
  ASSERT_TRUE(covered.ok());
  std::vector<std::string> names;
  for (const auto& c : *covered) names.push_back(c.name);
  for (const char* n : {"gating.json", "grants/alice.grant", ".weightgate/policy.yaml",
                        "stories260K.bin.wgenc", ".weightgate/model-config.json"})
    EXPECT_NE(std::find(names.begin(), names.end(), n), names.end()) << n;
  // A byte of the grant inside the package.
  std::string file;
  uint64_t at = 0;
  for (const auto& l : m->layers)
    if (l.Annotation(oci::kAnnotationFilepath) == "grants/alice.grant") {
      auto b = (*reader)->Blob(l);
      file = b->file->path();
      at = b->offset + b->size / 2;
    }
  reader->reset();
  auto bytes = test::ReadAll(file);
  bytes[at] ^= 0x01;
  test::WriteAll(file, bytes);
  auto bad = RunCli({"verify", pkg, "--pub", t / "pub.pub", "--json"});
  EXPECT_EQ(bad.exit_code, 1);
  EXPECT_EQ(nlohmann::json::parse(bad.out)["modified"],
            nlohmann::json::array({"grants/alice.grant"}));
}

}  // namespace
}  // namespace wg
