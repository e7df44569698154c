// Replays every input a fuzzer ever crashed on (tests/fuzz/regressions/<target>/<file>)
// through the same target body the fuzzer ran (tests/support/fuzz_targets.cpp). In the
// sanitizer build (scripts/test --sanitize) a regression shows up as an ASan/UBSan abort;
// in the normal build as a crash or a hang.
#include <gtest/gtest.h>

#include <filesystem>

#include "support/fuzz_targets.h"
#include "support/test_util.h"

namespace fs = std::filesystem;

namespace wg::fuzz {
namespace {

TEST(FuzzRegressions, EveryTargetHasARegressionFolder) {
  for (const auto& t : AllTargets())
    EXPECT_TRUE(fs::is_directory(test::SourcePath(std::string("tests/fuzz/regressions/") + t.name)))
        << t.name;
}

TEST(FuzzRegressions, ReplayEveryKeptInput) {
  size_t replayed = 0;
  for (const auto& t : AllTargets()) {
    fs::path dir = test::SourcePath(std::string("tests/fuzz/regressions/") + t.name);
    if (!fs::is_directory(dir)) continue;
    for (const auto& e : fs::directory_iterator(dir)) {
      if (!e.is_regular_file() || e.path().filename().string()[0] == '.') continue;
      SCOPED_TRACE(e.path().string());
      std::vector<uint8_t> bytes = test::ReadAll(e.path().string());
      EXPECT_EQ(t.run(bytes.data(), bytes.size()), 0);
      ++replayed;
    }
  }
  RecordProperty("replayed", static_cast<int>(replayed));
}

// Inputs every parser must refuse quietly: empty, one byte, and the real test files
// fed to the wrong parser (a GGUF to the pickle machine, ...).
TEST(FuzzRegressions, CrossFedRealFiles) {
  const std::vector<std::string> files = {
      test::TestData("models/stories260K/stories260K.bin"),
      test::TestData("models/stories260K/tok512.bin"),
  };
  for (const auto& t : AllTargets()) {
    SCOPED_TRACE(t.name);
    uint8_t one = 0;
    EXPECT_EQ(t.run(&one, 0), 0);
    EXPECT_EQ(t.run(&one, 1), 0);
    for (const auto& f : files) {
      if (!fs::exists(f)) continue;
      std::vector<uint8_t> bytes = test::ReadAll(f);
      EXPECT_EQ(t.run(bytes.data(), bytes.size()), 0);
    }
  }
}

}  // namespace
}  // namespace wg::fuzz
