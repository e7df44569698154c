// Fault injection through the core file seam (core/file.h): every write, fsync, close,
// rename and directory fsync of a GGUF write, a safetensors write (what convert does
// with each tensor stream) and a signature is failed in turn, with ENOSPC, a short write
// and EIO. Afterwards the destination must either not exist, or be complete and valid,
// and no temporary file may be left beside it.
//
// A process killed outright (SIGKILL) is covered by kill_test.cpp.
#include <gtest/gtest.h>

#include <filesystem>

#include "support/faulty_file_system.h"
#include "support/test_util.h"
#include "weightgate/formats/gguf.h"
#include "weightgate/formats/llama2c.h"
#include "weightgate/formats/safetensors.h"
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

// Runs `write(dest)` once per operation index and fault. `valid(dest)` judges a
// destination that exists. Returns the number of operations of a clean run.
uint64_t EveryFault(const std::function<Status(const std::string&)>& write,
                    const std::function<void(const std::string&)>& valid,
                    const std::vector<std::string>& inputs_in_dir = {}) {
  uint64_t ops = 0;
  {
    test::TempDir dir;
    ScopedFaultyFileSystem counting(UINT64_MAX, Fault::kEnospc);
    Status s = write(dir / "out");
    EXPECT_TRUE(s.ok()) << s.error().ToString();
    ops = counting.fs().operations();
  }
  EXPECT_GT(ops, 2u);
  for (Fault fault : kFaults) {
    for (uint64_t i = 0; i < ops; ++i) {
      SCOPED_TRACE(std::string(Name(fault)) + " at operation " + std::to_string(i) + " of " +
                   std::to_string(ops));
      test::TempDir dir;
      const std::string dest = dir / "out";
      Status s = Ok();
      bool injected = false;
      {
        ScopedFaultyFileSystem faulty(i, fault);
        s = write(dest);
        injected = faulty.fs().injected();
      }
      EXPECT_TRUE(injected);
      EXPECT_FALSE(s.ok() && !fs::exists(dest)) << "succeeded without writing";
      if (!s.ok()) {
        EXPECT_EQ(s.error().code(), ErrorCode::kIo) << s.error().ToString();
      }
      if (fs::exists(dest)) valid(dest);
      std::vector<std::string> keep = inputs_in_dir;
      keep.push_back("out");
      EXPECT_EQ(Leftovers(dir.path(), keep), std::vector<std::string>{});
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

}  // namespace
}  // namespace wg
