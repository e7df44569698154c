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
#include "weightgate/policy/recipients.h"
#include "weightgate/policy/seal.h"
#include "weightgate/signing/keys.h"
#include "weightgate/signing/oms.h"
#include "weightgate/verify/package_signature.h"

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

using test::ReadText;

// Runs `run(dir)` in a fresh folder once per operation index and fault, failing that
// operation, then `judge(dir, status)`. Returns the number of operations of a clean run.
// real_syncs false: syncs still count and fail when chosen but skip the disk
// (FaultyFileSystem::SkipRealSyncs), for verbs run hundreds of times with many fsyncs.
uint64_t ForEveryFault(const std::function<Status(const fs::path&)>& run,
                       const std::function<void(const fs::path&, const Status&)>& judge,
                       bool real_syncs = true) {
  uint64_t ops = 0;
  {
    test::TempDir dir;
    ScopedFaultyFileSystem counting(UINT64_MAX, Fault::kEnospc);
    if (!real_syncs) counting.fs().SkipRealSyncs();
    Status s = run(dir.path());
    EXPECT_TRUE(s.ok()) << s.error().ToString();
    ops = counting.fs().operations();
  }
  EXPECT_GT(ops, 2u);
  std::printf("[ faults   ] %llu operations, each failed 3 ways\n",
              static_cast<unsigned long long>(ops));
  for (Fault fault : kFaults) {
    for (uint64_t i = 0; i < ops; ++i) {
      SCOPED_TRACE(std::string(Name(fault)) + " at operation " + std::to_string(i) + " of " +
                   std::to_string(ops));
      test::TempDir dir;
      Status s = Ok();
      bool injected = false;
      {
        ScopedFaultyFileSystem faulty(i, fault);
        if (!real_syncs) faulty.fs().SkipRealSyncs();
        s = run(dir.path());
        injected = faulty.fs().injected();
      }
      EXPECT_TRUE(injected);
      if (!s.ok()) {
        EXPECT_EQ(s.error().code(), ErrorCode::kIo) << s.error().ToString();
      }
      judge(dir.path(), s);
      if (::testing::Test::HasFailure()) return ops;  // one clear failure, not thousands
    }
  }
  return ops;
}

// ForEveryFault for a verb writing one destination, `name` in the folder: afterwards it is
// absent or `valid(dest)` holds, and nothing else is in the folder.
uint64_t EveryFault(const std::function<Status(const std::string&)>& write,
                    const std::function<void(const std::string&)>& valid,
                    const std::string& name = "out") {
  return ForEveryFault([&](const fs::path& dir) { return write(dir / name); },
                       [&](const fs::path& dir, const Status& s) {
                         const std::string dest = dir / name;
                         EXPECT_FALSE(s.ok() && !fs::exists(dest)) << "succeeded without writing";
                         if (fs::exists(dest)) valid(dest);
                         EXPECT_EQ(Leftovers(dir, {name}), std::vector<std::string>{});
                       });
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
  EveryFault(write, [&](const std::string& dest) {
    EXPECT_TRUE(test::ReadAll(dest) == want) << "destination exists but is not the whole file";
  });
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
  EveryFault([&](const std::string& dest) { return PackTo(model, dest); },
             [&](const std::string& dest) {
               EXPECT_TRUE(test::ReadAll(dest) == want) << "a partial .tar";
             },
             "out.tar");
}

TEST(FaultInjection, PackToAFolderAtEveryOperation) {
  test::TempDir in, ref;
  const std::string model = MakeReleaseFolder(in);
  ASSERT_TRUE(PackTo(model, ref / "ref").ok());
  const auto want = test::ReadTree(ref / "ref");
  EveryFault([&](const std::string& dest) { return PackTo(model, dest); },
             [&](const std::string& dest) {
               EXPECT_TRUE(test::ReadTree(dest) == want) << "a partial package folder";
             });
}

TEST(FaultInjection, UnpackAtEveryOperation) {
  test::TempDir in, pkg;
  const std::string model = MakeReleaseFolder(in);
  ASSERT_TRUE(PackTo(model, pkg / "model.tar").ok());
  const auto want = test::ReadTree(model);
  EveryFault(
      [&](const std::string& dest) -> Status {
        package::UnpackOptions o;
        o.output = dest;
        auto r = package::Unpack(pkg / "model.tar", o);
        if (!r.ok()) return std::move(r).error();
        return Ok();
      },
      [&](const std::string& dest) {
        EXPECT_TRUE(test::ReadTree(dest) == want) << "a partial unpacked folder";
      });
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
  const auto want = test::ReadTree(ref / "hf");
  ASSERT_GE(want.size(), 3u);  // weights, config.json, tokenizer
  EveryFault(convert, [&](const std::string& dest) {
    EXPECT_TRUE(test::ReadTree(dest) == want) << "a partial converted folder";
  });
}

TEST(FaultInjection, KeygenAtEveryOperation) {
  auto key = signing::EcKey::Generate(signing::Curve::kP256);
  ASSERT_TRUE(key.ok());
  auto recipient = policy::RecipientKey::Generate("x25519");
  ASSERT_TRUE(recipient.ok());
  // Both files or neither; a private key always 0600 and matching its public key.
  auto judge = [](const fs::path& dir, const Status& s, const std::string& public_pem) {
    const bool has_key = fs::exists(dir / "id.key"), has_pub = fs::exists(dir / "id.pub");
    EXPECT_EQ(has_key, has_pub) << "half a key pair";
    EXPECT_EQ(s.ok(), has_key);
    if (has_key) {
      EXPECT_EQ(fs::status(dir / "id.key").permissions() & fs::perms::mask,
                fs::perms::owner_read | fs::perms::owner_write);
      EXPECT_EQ(ReadText(dir / "id.pub"), public_pem);
    }
    EXPECT_EQ(Leftovers(dir, {"id.key", "id.pub"}), std::vector<std::string>{});
  };
  ForEveryFault([&](const fs::path& dir) { return signing::WriteKeyPair(*key, dir / "id", {}); },
                [&](const fs::path& dir, const Status& s) {
                  judge(dir, s, key->PublicPem());
                  if (fs::exists(dir / "id.key")) {
                    auto back = signing::EcKey::LoadPrivatePem(ReadText(dir / "id.key"), {});
                    ASSERT_TRUE(back.ok()) << back.error().ToString();
                    EXPECT_EQ(back->PublicPem(), key->PublicPem());
                  }
                });
  ForEveryFault(
      [&](const fs::path& dir) {
        return policy::WriteRecipientKeyPair(*recipient, dir / "id", {});
      },
      [&](const fs::path& dir, const Status& s) { judge(dir, s, recipient->PublicPem()); });
}

// A gated release: the real model sealed for one recipient under the closed policy.
struct GatedRelease {
  test::TempDir in;
  std::string model = MakeReleaseFolder(in);
  std::string policy_file = test::SourcePath("examples/policies/closed-internal.yaml");
  signing::EcKey publisher = std::move(signing::EcKey::Generate(signing::Curve::kP256)).value();
  policy::RecipientKey alice = std::move(policy::RecipientKey::Generate("x25519")).value();
  std::string alice_pub = in / "alice.pub";
  int64_t now = 1800000000;
  GatedRelease() { test::WriteText(alice_pub, alice.PublicPem()); }
  Status Seal(const std::string& out) const {
    policy::SealOptions o;
    o.recipient_pubs = {alice_pub};
    return policy::SealFolder(model, policy_file, out, publisher, o, now);
  }
  // The model's files plus the policy, as unsealing gives them back.
  std::map<std::string, std::vector<uint8_t>> Plain() const {
    auto t = test::ReadTree(model);
    t[policy::kPolicyFile] = test::ReadAll(policy_file);
    return t;
  }
};

TEST(FaultInjection, SealAtEveryOperation) {
  GatedRelease r;
  const auto want = r.Plain();
  EveryFault([&](const std::string& dest) { return r.Seal(dest); },
             [&](const std::string& dest) {
               test::TempDir check;
               Status s = policy::UnsealFolder(dest, check / "plain", r.alice,
                                               dest + "/grants/alice.grant", r.now);
               ASSERT_TRUE(s.ok()) << s.error().ToString();
               EXPECT_TRUE(test::ReadTree(check / "plain") == want)
                   << "a sealed folder that lost bytes";
             });
}

TEST(FaultInjection, UnsealAtEveryOperation) {
  GatedRelease r;
  test::TempDir sealed;
  ASSERT_TRUE(r.Seal(sealed / "s").ok());
  const auto want = r.Plain();
  EveryFault(
      [&](const std::string& dest) {
        return policy::UnsealFolder(sealed / "s", dest, r.alice, sealed / "s/grants/alice.grant",
                                    r.now);
      },
      [&](const std::string& dest) {
        EXPECT_TRUE(test::ReadTree(dest) == want) << "a partial plaintext folder";
      });
}

// Signing a package attaches the bundle in place (a folder gains two blobs and a new
// index.json; a tar is rewritten beside itself and swapped in): after a failure the
// package is exactly as it was, or signed and verifying.
TEST(FaultInjection, SignAPackageInPlaceAtEveryOperation) {
  test::TempDir in, pkgs;
  const std::string model = MakeReleaseFolder(in);
  auto key = signing::EcKey::Generate(signing::Curve::kP256);
  ASSERT_TRUE(key.ok());
  signing::Signer signer{&*key, {}};
  signing::TrustPolicy trust;
  trust.public_key = &*key;
  for (const std::string name : {"model.tar", "model"}) {
    SCOPED_TRACE(name);
    const fs::path original = pkgs / name;
    ASSERT_TRUE(PackTo(model, original).ok());
    auto snapshot = [](const fs::path& p) {
      return fs::is_directory(p)
                 ? test::ReadTree(p)
                 : std::map<std::string, std::vector<uint8_t>>{{"", test::ReadAll(p.string())}};
    };
    const auto before = snapshot(original);
    ForEveryFault(
        [&](const fs::path& dir) -> Status {
          fs::copy(original, dir / name, fs::copy_options::recursive);
          auto r = verify::SignPackage(dir / name, signer, {});
          if (!r.ok()) return std::move(r).error();
          return Ok();
        },
        [&](const fs::path& dir, const Status& s) {
          const fs::path pkg = dir / name;
          if (s.ok() || snapshot(pkg) != before) {
            auto v = verify::VerifyPackage(pkg, trust, {});
            ASSERT_TRUE(v.ok()) << "neither the old package nor a signed one: "
                                << v.error().ToString();
            EXPECT_TRUE(v->diff.empty()) << v->diff.Describe();
          }
          EXPECT_EQ(Leftovers(dir, {name}), std::vector<std::string>{});
        });
  }
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

  // Pulls into `name` once per operation and fault (see ForEveryFault). Afterwards the
  // output is absent or `valid`, and beside it there is nothing but the staging folder a
  // folder pull keeps after an I/O error, so that the next pull resumes. Then a pull
  // without faults into the same path (the output removed first where the faulted pull had
  // finished it) must succeed, pass `valid` and leave no staging behind. Returns the
  // number of operations of a clean pull.
  uint64_t EveryPullFault(const std::string& name,
                          const std::function<void(const std::string&)>& valid) {
    const bool tar = name.size() > 4 && name.substr(name.size() - 4) == ".tar";
    test::TempDir clean;
    EXPECT_TRUE(PullTo(clean / name).ok());
    const uint64_t all_bytes = bytes_downloaded_;
    uint64_t resumed = 0;  // second pulls that downloaded less than everything
    auto run = [&](const fs::path& dir) -> Status {
      auto r = Pull(dir / name);
      if (!r.ok()) return std::move(r).error();
      return Ok();
    };
    auto judge = [&](const fs::path& dir, const Status& s) {
      const std::string dest = dir / name;
      EXPECT_FALSE(s.ok() && !fs::exists(dest)) << "succeeded without writing";
      if (fs::exists(dest)) valid(dest);
      std::vector<std::string> may_stay = {name};
      if (!tar && !s.ok())
        may_stay.push_back(fs::path(package::PullStagingPath(dest)).filename().string());
      EXPECT_EQ(Leftovers(dir, may_stay), std::vector<std::string>{});
      if (::testing::Test::HasFailure()) return;

      if (fs::exists(dest)) fs::remove_all(dest);
      Status again = PullTo(dest);
      ASSERT_TRUE(again.ok()) << "the pull after the fault: " << again.error().ToString();
      if (bytes_downloaded_ < all_bytes) ++resumed;
      valid(dest);
      EXPECT_EQ(Leftovers(dir, {name}), std::vector<std::string>{});
    };
    uint64_t ops = ForEveryFault(run, judge, /*real_syncs=*/false);
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
  const auto want = test::ReadTree(ref / "ref");
  ASSERT_GE(want.size(), 5u);
  uint64_t ops = EveryPullFault("out", [&](const std::string& dest) {
    EXPECT_TRUE(test::ReadTree(dest) == want) << "a partial pulled folder";
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
