// Fault injection through the core file seam (core/file.h): every write, truncate, fsync,
// close, mkdir, rename and directory fsync of pack (to a .tar and to a folder), unpack,
// convert (a GGUF, a safetensors file, a Hugging Face folder) and sign is failed in turn,
// with ENOSPC, a short write and EIO. Afterwards the destination must either not exist,
// or be complete and valid (byte-identical to a clean run), and no temporary file or
// folder may be left beside it. Pull (from a loopback registry, to a folder and to a .tar)
// is failed the same way, and a second pull must then resume and finish.
//
// A process killed outright (SIGKILL) is covered by kill_test.cpp.
#include <gtest/gtest.h>

#include <filesystem>
#include <map>

#include "support/faulty_file_system.h"
#include "support/registry_server.h"
#include "support/test_util.h"
#include "weightgate/formats/convert.h"
#include "weightgate/formats/gguf.h"
#include "weightgate/formats/llama2c.h"
#include "weightgate/formats/safetensors.h"
#include "weightgate/package/package.h"
#include "weightgate/package/registry_transfer.h"
#include "weightgate/signing/keys.h"
#include "weightgate/signing/oms.h"

namespace fs = std::filesystem;

namespace wg {
namespace {

using test::Fault;
using test::ScopedFaultyFileSystem;

constexpr Fault kFaults[] = {Fault::kEnospc, Fault::kShortWrite, Fault::kIo};
const char* Name(Fault f) {
  return f == Fault::kEnospc ? "ENOSPC" : f == Fault::kShortWrite ? "short write" : "EIO";
}

// Names in dir other than `keep` (a failed write must leave no temporary behind).
std::vector<std::string> Leftovers(const fs::path& dir, const std::vector<std::string>& keep) {
  std::vector<std::string> out;
  for (const auto& e : fs::directory_iterator(dir)) {
    std::string n = e.path().filename().string();
    if (std::find(keep.begin(), keep.end(), n) == keep.end()) out.push_back(n);
  }
  return out;
}

// Every regular file under dir, relative path -> bytes.
std::map<std::string, std::vector<uint8_t>> Tree(const fs::path& dir) {
  std::map<std::string, std::vector<uint8_t>> out;
  for (const auto& e : fs::recursive_directory_iterator(dir))
    if (e.is_regular_file())
      out[fs::relative(e.path(), dir).generic_string()] = test::ReadAll(e.path().string());
  return out;
}

// What a verb may do beyond "destination absent or complete, nothing beside it".
struct FaultRunOptions {
  // Syncs still count and fail when chosen, but skip the disk (see SkipRealSyncs).
  bool skip_real_syncs = false;
  // A name (in the destination's folder) a failed run may leave on purpose.
  std::function<std::string(const std::string& dest)> kept_on_failure;
  // Called after each faulted run has been checked.
  std::function<void(const std::string& dest)> after;
};

// Runs `write(dest)` once per operation index and fault, dest being `name` in a fresh
// folder. `valid(dest)` judges a destination that exists. Returns the number of operations
// of a clean run.
uint64_t EveryFault(const std::function<Status(const std::string&)>& write,
                    const std::function<void(const std::string&)>& valid,
                    const std::string& name = "out", const FaultRunOptions& opt = {}) {
  uint64_t ops = 0;
  {
    test::TempDir dir;
    ScopedFaultyFileSystem counting(UINT64_MAX, Fault::kEnospc);
    if (opt.skip_real_syncs) counting.fs().SkipRealSyncs();
    Status s = write(dir / name);
    EXPECT_TRUE(s.ok()) << s.error().ToString();
    ops = counting.fs().operations();
  }
  EXPECT_GT(ops, 2u);
  for (Fault fault : kFaults) {
    for (uint64_t i = 0; i < ops; ++i) {
      SCOPED_TRACE(std::string(Name(fault)) + " at operation " + std::to_string(i) + " of " +
                   std::to_string(ops));
      test::TempDir dir;
      const std::string dest = dir / name;
      Status s = Ok();
      bool injected = false;
      {
        ScopedFaultyFileSystem faulty(i, fault);
        if (opt.skip_real_syncs) faulty.fs().SkipRealSyncs();
        s = write(dest);
        injected = faulty.fs().injected();
      }
      EXPECT_TRUE(injected);
      EXPECT_FALSE(s.ok() && !fs::exists(dest)) << "succeeded without writing";
      std::vector<std::string> may_stay = {name};
      if (!s.ok()) {
        EXPECT_EQ(s.error().code(), ErrorCode::kIo) << s.error().ToString();
        if (opt.kept_on_failure) may_stay.push_back(opt.kept_on_failure(dest));
      }
      if (fs::exists(dest)) valid(dest);
      EXPECT_EQ(Leftovers(dir.path(), may_stay), std::vector<std::string>{});
      if (opt.after && !::testing::Test::HasFailure()) opt.after(dest);
      if (::testing::Test::HasFailure()) return ops;  // one clear failure, not thousands
    }
  }
  return ops;
}

TEST(FaultInjection, GgufWriteAtEveryOperation) {
  const std::string src = test::TestData("models/stories260K-gguf/stories260K.gguf");
  auto g = ReadGguf(src);
  ASSERT_TRUE(g.ok()) << g.error().ToString();
  const std::vector<uint8_t> want = test::ReadAll(src);
  auto write = [&](const std::string& dest) {
    std::vector<TensorWriteSpec> specs;
    for (const auto& t : g->catalog.tensors) specs.push_back(CopyTensor(t));
    return WriteGguf(dest, g->kvs, std::move(specs), g->alignment);
  };
  uint64_t ops = EveryFault(write, [&](const std::string& dest) {
    EXPECT_TRUE(test::ReadAll(dest) == want) << "destination exists but is not the whole file";
  });
  RecordProperty("operations", static_cast<int>(ops));
}

TEST(FaultInjection, SafetensorsWriteOfAConvertedModelAtEveryOperation) {
  // llama2.c -> safetensors, tensor by tensor, as convert streams it.
  auto m = ReadLlama2c(test::TestData("models/stories260K/stories260K.bin"), "-");
  ASSERT_TRUE(m.ok()) << m.error().ToString();
  auto write = [&](const std::string& dest) {
    std::vector<TensorWriteSpec> specs;
    for (const auto& t : m->catalog.tensors) specs.push_back(CopyTensor(t));
    return WriteSafetensors(dest, {{"format", "pt"}}, std::move(specs));
  };
  test::TempDir ref_dir;
  ASSERT_TRUE(write(ref_dir / "ref").ok());
  const std::vector<uint8_t> want = test::ReadAll(ref_dir / "ref");
  EveryFault(write, [&](const std::string& dest) {
    EXPECT_TRUE(test::ReadAll(dest) == want) << "destination exists but is not the whole file";
    auto back = ReadSafetensors(dest);
    EXPECT_TRUE(back.ok()) << back.error().ToString();
  });
}

TEST(FaultInjection, SignAtEveryOperation) {
  test::TempDir model;
  test::WriteText(model / "config.json", "{\"dim\": 64}\n");
  test::WriteAll(model / "model.bin",
                 test::ReadAll(test::TestData("models/stories260K/tok512.bin")));
  auto key = signing::EcKey::Generate(signing::Curve::kP256);
  ASSERT_TRUE(key.ok());
  signing::Signer signer{&*key, {}};
  auto write = [&](const std::string& dest) -> Status {
    signing::FolderSignOptions o;
    o.signature_path = dest;
    auto r = signing::SignModelFolder(model.path().string(), signer, o);
    if (!r.ok()) return std::move(r).error();
    return Ok();
  };
  EveryFault(write, [&](const std::string& dest) {
    signing::TrustPolicy trust;
    trust.public_key = &*key;
    signing::FolderVerifyOptions vo;
    vo.signature_path = dest;
    auto r = signing::VerifyModelFolder(model.path().string(), trust, vo);
    ASSERT_TRUE(r.ok()) << r.error().ToString();
    EXPECT_TRUE(r->diff.empty()) << r->diff.Describe();
  });
}

// The real model as a release folder: weights, tokenizers, licence, a nested script and
// a second copy of the licence (a duplicate blob, which the tar writer truncates away).
std::string MakeReleaseFolder(const test::TempDir& t) {
  fs::path m = t.path() / "stories260K";
  fs::copy(test::SourcePath("examples/models/stories260K"), m, fs::copy_options::recursive);
  test::WriteText((m / "config.json").string(),
                  "{\"architectures\":[\"LlamaForCausalLM\"],\"model_type\":\"llama\"}\n");
  fs::create_directories(m / "docs" / "legal");
  fs::copy_file(m / "LICENSE", m / "docs" / "legal" / "LICENSE.copy");
  fs::create_directories(m / "scripts");
  test::WriteText((m / "scripts" / "run.py").string(), "print('hello')\n");
  return m.string();
}

Status PackTo(const std::string& model, const std::string& dest) {
  auto spec = package::DetectSpec(model);
  if (!spec.ok()) return std::move(spec).error();
  package::PackOptions o;
  o.output = dest;
  auto policy = package::PolicyLayer("tier: open\nlicense: {spdx: MIT}\n", "policy.yaml");
  if (!policy.ok()) return std::move(policy).error();
  o.extra_layers.push_back(*policy);
  auto r = package::Pack(model, *spec, o);
  if (!r.ok()) return std::move(r).error();
  return Ok();
}

TEST(FaultInjection, PackToATarAtEveryOperation) {
  test::TempDir in, ref;
  const std::string model = MakeReleaseFolder(in);
  ASSERT_TRUE(PackTo(model, ref / "ref.tar").ok());
  const std::vector<uint8_t> want = test::ReadAll(ref / "ref.tar");
  uint64_t ops = EveryFault([&](const std::string& dest) { return PackTo(model, dest); },
                            [&](const std::string& dest) {
                              EXPECT_TRUE(test::ReadAll(dest) == want) << "a partial .tar";
                            },
                            "out.tar");
  RecordProperty("operations", static_cast<int>(ops));
}

TEST(FaultInjection, PackToAFolderAtEveryOperation) {
  test::TempDir in, ref;
  const std::string model = MakeReleaseFolder(in);
  ASSERT_TRUE(PackTo(model, ref / "ref").ok());
  const auto want = Tree(ref / "ref");
  uint64_t ops = EveryFault([&](const std::string& dest) { return PackTo(model, dest); },
                            [&](const std::string& dest) {
                              EXPECT_TRUE(Tree(dest) == want) << "a partial package folder";
                            });
  RecordProperty("operations", static_cast<int>(ops));
}

TEST(FaultInjection, UnpackAtEveryOperation) {
  test::TempDir in, pkg;
  const std::string model = MakeReleaseFolder(in);
  ASSERT_TRUE(PackTo(model, pkg / "model.tar").ok());
  const auto want = Tree(model);
  uint64_t ops = EveryFault(
      [&](const std::string& dest) -> Status {
        package::UnpackOptions o;
        o.output = dest;
        auto r = package::Unpack(pkg / "model.tar", o);
        if (!r.ok()) return std::move(r).error();
        return Ok();
      },
      [&](const std::string& dest) {
        EXPECT_TRUE(Tree(dest) == want) << "a partial unpacked folder";
      });
  RecordProperty("operations", static_cast<int>(ops));
}

TEST(FaultInjection, ConvertToAHuggingFaceFolderAtEveryOperation) {
  const std::string src = test::TestData("models/stories260K/stories260K.bin");
  const std::string tok = test::TestData("models/stories260K/tok512.bin");
  auto convert = [&](const std::string& dest) -> Status {
    ConvertOptions o;
    o.to = TargetFormat::kSafetensors;
    o.tokenizer = tok;
    o.quiet = true;
    auto r = Convert(src, dest, o);
    if (!r.ok()) return std::move(r).error();
    return Ok();
  };
  test::TempDir ref;
  Status made = convert(ref / "hf");
  ASSERT_TRUE(made.ok()) << made.error().ToString();
  const auto want = Tree(ref / "hf");
  ASSERT_GE(want.size(), 3u);  // weights, config.json, tokenizer
  EveryFault(convert, [&](const std::string& dest) {
    EXPECT_TRUE(Tree(dest) == want) << "a partial converted folder";
  });
}

// ---- pull ----

// The release folder packed and pushed to a loopback registry (Debian's docker-registry).
class PullFaultTest : public ::testing::Test {
 protected:
  void SetUp() override {
    server_ = std::make_unique<test::RegistryServer>();
    if (!server_->ok()) GTEST_SKIP() << "skipping registry test: " << server_->error();
    const std::string model = MakeReleaseFolder(in_);
    ASSERT_TRUE(PackTo(model, in_ / "pkg").ok());
    auto ref = package::ImageReference::Parse(server_->host() + "/fault/model:v1");
    ASSERT_TRUE(ref.ok()) << ref.error().ToString();
    ref_ = *ref;
    auto pushed = package::PushPackage(in_ / "pkg", ref_, Options());
    ASSERT_TRUE(pushed.ok()) << pushed.error().ToString();
  }
  static package::RegistryOptions Options() {
    package::RegistryOptions o;
    o.plain_http = true;
    o.progress = false;
    o.initial_backoff = std::chrono::milliseconds(10);
    o.max_backoff = std::chrono::milliseconds(100);
    return o;
  }
  Result<package::PullResult> Pull(const std::string& dest) {
    return package::PullPackage(ref_, dest, Options());
  }

  Status PullTo(const std::string& dest) {
    ScopedFaultyFileSystem no_faults(UINT64_MAX, Fault::kEnospc);
    no_faults.fs().SkipRealSyncs();
    auto r = Pull(dest);
    if (!r.ok()) return std::move(r).error();
    bytes_downloaded_ = r->stats.bytes_downloaded;
    return Ok();
  }

  // Pulls into `name` once per operation and fault (see EveryFault). Beside the output
  // there may stay only the staging folder a folder pull keeps after an I/O error, so that
  // the next pull resumes. Then a pull without faults into the same path (the output
  // removed first where the faulted pull had finished it) must succeed, pass `valid` and
  // leave no staging behind. Returns the number of operations of a clean pull.
  uint64_t EveryPullFault(const std::string& name,
                          const std::function<void(const std::string&)>& valid) {
    const bool tar = name.size() > 4 && name.substr(name.size() - 4) == ".tar";
    test::TempDir clean;
    EXPECT_TRUE(PullTo(clean / name).ok());
    const uint64_t all_bytes = bytes_downloaded_;
    uint64_t resumed = 0;  // second pulls that downloaded less than everything
    FaultRunOptions opt;
    opt.skip_real_syncs = true;
    if (!tar)
      opt.kept_on_failure = [](const std::string& dest) {
        return fs::path(package::PullStagingPath(dest)).filename().string();
      };
    opt.after = [&](const std::string& dest) {
      if (fs::exists(dest)) fs::remove_all(dest);
      Status again = PullTo(dest);
      EXPECT_TRUE(again.ok()) << "the pull after the fault: " << again.error().ToString();
      if (!again.ok()) return;
      if (bytes_downloaded_ < all_bytes) ++resumed;
      valid(dest);
      EXPECT_EQ(Leftovers(fs::path(dest).parent_path(), {name}), std::vector<std::string>{});
    };
    uint64_t ops = EveryFault(
        [&](const std::string& dest) -> Status {
          auto r = Pull(dest);
          if (!r.ok()) return std::move(r).error();
          return Ok();
        },
        valid, name, opt);
    // A folder pull resumes from what the failed one kept; a .tar starts over.
    if (!tar) {
      EXPECT_GT(resumed, 0u);
    }
    RecordProperty("resumed", static_cast<int>(resumed));
    return ops;
  }

  test::TempDir in_;
  std::unique_ptr<test::RegistryServer> server_;
  package::ImageReference ref_;
  uint64_t bytes_downloaded_ = 0;  // by the last PullTo
};

TEST_F(PullFaultTest, PullToAFolderAtEveryOperation) {
  test::TempDir ref;
  auto clean = Pull(ref / "ref");
  ASSERT_TRUE(clean.ok()) << clean.error().ToString();
  const auto want = Tree(ref / "ref");
  ASSERT_GE(want.size(), 5u);
  uint64_t ops = EveryPullFault("out", [&](const std::string& dest) {
    EXPECT_TRUE(Tree(dest) == want) << "a partial pulled folder";
  });
  RecordProperty("operations", static_cast<int>(ops));
}

TEST_F(PullFaultTest, PullToATarAtEveryOperation) {
  test::TempDir ref;
  auto clean = Pull(ref / "ref.tar");
  ASSERT_TRUE(clean.ok()) << clean.error().ToString();
  const std::vector<uint8_t> want = test::ReadAll(ref / "ref.tar");
  uint64_t ops = EveryPullFault("out.tar", [&](const std::string& dest) {
    EXPECT_TRUE(test::ReadAll(dest) == want) << "a partial pulled .tar";
  });
  RecordProperty("operations", static_cast<int>(ops));
}

}  // namespace
}  // namespace wg
