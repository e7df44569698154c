// A weightgate process killed with SIGKILL at random points of sign, pack (tar and
// folder), unpack and convert: afterwards the destination either does not exist or is complete
// and verifies. Temporary files may stay behind (nothing runs after SIGKILL); they are
// never at the destination's name, and the next run does not trip over them.
#include <fcntl.h>
#include <gtest/gtest.h>
#include <signal.h>
#include <sys/wait.h>
#include <unistd.h>

#include <chrono>
#include <filesystem>
#include <random>
#include <thread>

#include "support/test_util.h"
#include "weightgate/signing/keys.h"
#include "weightgate/signing/oms.h"

namespace fs = std::filesystem;

namespace wg {
namespace {

using Clock = std::chrono::steady_clock;

// Starts the CLI, kills it after delay_us unless it finished first. Returns the exit
// code, or -1 if it was killed.
int RunAndKill(const std::vector<std::string>& args, int64_t delay_us) {
  pid_t pid = ::fork();
  if (pid == 0) {
    int devnull = ::open("/dev/null", O_RDWR);
    ::dup2(devnull, 0);
    ::dup2(devnull, 1);
    ::dup2(devnull, 2);
    std::vector<char*> argv;
    std::string bin = WG_BINARY;
    argv.push_back(bin.data());
    std::vector<std::string> copy = args;
    for (auto& a : copy) argv.push_back(a.data());
    argv.push_back(nullptr);
    ::execv(bin.c_str(), argv.data());
    std::_Exit(127);
  }
  auto deadline = Clock::now() + std::chrono::microseconds(delay_us);
  int status = 0;
  for (;;) {
    pid_t r = ::waitpid(pid, &status, WNOHANG);
    if (r == pid) return WIFEXITED(status) ? WEXITSTATUS(status) : 128 + WTERMSIG(status);
    if (Clock::now() >= deadline) break;
    std::this_thread::sleep_for(std::chrono::microseconds(50));
  }
  ::kill(pid, SIGKILL);
  ::waitpid(pid, &status, 0);
  if (WIFEXITED(status)) return WEXITSTATUS(status);  // finished just before the kill
  return -1;
}

int64_t CleanRunMicros(const std::vector<std::string>& args) {
  auto t0 = Clock::now();
  EXPECT_EQ(RunAndKill(args, 60'000'000), 0);
  return std::chrono::duration_cast<std::chrono::microseconds>(Clock::now() - t0).count();
}

bool SameTree(const fs::path& a, const fs::path& b) {
  size_t n = 0, m = 0;
  for (const auto& e : fs::recursive_directory_iterator(a)) {
    if (!e.is_regular_file()) continue;
    std::string rel = fs::relative(e.path(), a).generic_string();
    if (!fs::exists(b / rel) ||
        test::ReadAll(e.path().string()) != test::ReadAll((b / rel).string()))
      return false;
    ++n;
  }
  for (const auto& e : fs::recursive_directory_iterator(b)) m += e.is_regular_file();
  return n == m;
}

std::string MakeModel(const test::TempDir& t) {
  fs::path m = t.path() / "model";
  fs::copy(test::SourcePath("examples/models/stories260K"), m, fs::copy_options::recursive);
  test::WriteText((m / "config.json").string(), "{\"model_type\":\"llama\"}\n");
  return m.string();
}

constexpr int kKillsPerVerb = 12;

// Kills `make(dest)` at random points of [0, 1.5 x a clean run]; checks each outcome.
void KillCampaign(const std::function<std::vector<std::string>(const std::string&)>& make,
                  const std::function<void(const std::string&)>& valid, const test::TempDir& t,
                  const std::string& name, const std::string& suffix = "") {
  const int64_t clean = CleanRunMicros(make(t / (name + "-clean" + suffix)));
  valid(t / (name + "-clean" + suffix));
  std::mt19937_64 rng(0x5eed + name.size());
  std::uniform_int_distribution<int64_t> when(0, clean * 3 / 2);
  int killed = 0;
  for (int i = 0; i < kKillsPerVerb; ++i) {
    const std::string dest = t / (name + "-" + std::to_string(i) + suffix);
    int64_t at = when(rng);
    SCOPED_TRACE(name + " killed after " + std::to_string(at) + " us of ~" + std::to_string(clean));
    int rc = RunAndKill(make(dest), at);
    if (rc == -1)
      ++killed;
    else
      EXPECT_EQ(rc, 0);
    if (fs::exists(dest)) valid(dest);
  }
  ::testing::Test::RecordProperty(name + "_killed", killed);
  ::testing::Test::RecordProperty(name + "_clean_us", static_cast<int>(clean));
}

TEST(KillTest, SignLeavesNoSignatureOrAValidOne) {
  test::TempDir t;
  std::string model = MakeModel(t);
  auto key = signing::EcKey::Generate(signing::Curve::kP256);
  ASSERT_TRUE(key.ok());
  ASSERT_TRUE(signing::WriteKeyPair(*key, t / "k", std::nullopt).ok());
  KillCampaign(
      [&](const std::string& dest) {
        return std::vector<std::string>{"sign", model, "--key", t / "k.key", "-o", dest};
      },
      [&](const std::string& dest) {
        signing::TrustPolicy trust;
        trust.public_key = &*key;
        signing::FolderVerifyOptions vo;
        vo.signature_path = dest;
        auto r = signing::VerifyModelFolder(model, trust, vo);
        ASSERT_TRUE(r.ok()) << dest << ": " << r.error().ToString();
        EXPECT_TRUE(r->diff.empty()) << r->diff.Describe();
      },
      t, "sign");
}

TEST(KillTest, PackTarAndFolderLeaveNothingOrAPackageThatUnpacks) {
  test::TempDir t;
  std::string model = MakeModel(t);
  int checked = 0;
  auto valid = [&](const std::string& dest) {
    const std::string out = t / ("unpacked-" + std::to_string(checked++));
    auto u = test::RunCli({"unpack", dest, "-o", out});
    ASSERT_EQ(u.exit_code, 0) << dest << ": " << u.err;
    EXPECT_TRUE(SameTree(model, out)) << dest;
  };
  KillCampaign(
      [&](const std::string& dest) {
        return std::vector<std::string>{"pack", model, "-o", dest};
      },
      valid, t, "pack-tar", ".tar");
  KillCampaign(
      [&](const std::string& dest) {
        return std::vector<std::string>{"pack", model, "-o", dest};
      },
      valid, t, "pack-dir");
}

TEST(KillTest, UnpackLeavesNoFolderOrACompleteOne) {
  test::TempDir t;
  std::string model = MakeModel(t);
  ASSERT_EQ(test::RunCli({"pack", model, "-o", t / "pkg.tar"}).exit_code, 0);
  KillCampaign(
      [&](const std::string& dest) {
        return std::vector<std::string>{"unpack", t / "pkg.tar", "-o", dest};
      },
      [&](const std::string& dest) { EXPECT_TRUE(SameTree(model, dest)) << dest; }, t, "unpack");
}

TEST(KillTest, ConvertLeavesNoOutputOrACompleteOne) {
  // A conversion killed anywhere: the GGUF (and the safetensors file) at the destination
  // either does not exist or is the complete file a clean run writes, byte for byte.
  test::TempDir t;
  std::string model = MakeModel(t);
  const std::string in = model + "/stories260K.bin";
  for (const auto& job : {std::pair<std::string, std::string>{".gguf", "q8_0"},
                          std::pair<std::string, std::string>{".safetensors", "f16"}}) {
    const std::string suffix = job.first, dtype = job.second;
    const std::string clean = t / ("reference" + suffix);
    auto r = test::RunCli({"convert", in, clean, "--dtype", dtype});
    ASSERT_EQ(r.exit_code, 0) << r.err;
    auto expected = test::ReadAll(clean);
    KillCampaign(
        [&](const std::string& dest) {
          return std::vector<std::string>{"convert", in, dest, "--dtype", dtype};
        },
        [&](const std::string& dest) { EXPECT_EQ(test::ReadAll(dest), expected) << dest; }, t,
        "convert" + suffix, suffix);
  }
}

}  // namespace
}  // namespace wg
