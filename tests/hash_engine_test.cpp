// The hashing engines against their references: BLAKE3 against Debian's b3sum (the official
// test-vector inputs and random lengths around block and chunk boundaries, every SIMD level,
// streamed in odd pieces and split over threads); multi-buffer SHA-256 against OpenSSL with
// every lane holding a different length; HashFileRanges against hashing the bytes directly.
#include "weightgate/core/hash_engine.h"

#include <gtest/gtest.h>

#include <cstdio>
#include <map>
#include <random>
#include <string>
#include <vector>

#include "support/test_util.h"
#include "weightgate/core/hash.h"
#include "weightgate/core/hash_files.h"
#include "weightgate/core/thread_pool.h"

namespace wg {
namespace {

using test::TempDir;

std::vector<uint8_t> Pattern(size_t n) {
  std::vector<uint8_t> v(n);
  for (size_t i = 0; i < n; ++i) v[i] = static_cast<uint8_t>(i % 251);
  return v;
}

std::vector<uint8_t> Random(size_t n, std::mt19937_64& rng) {
  std::vector<uint8_t> v(n);
  for (auto& b : v) b = static_cast<uint8_t>(rng());
  return v;
}

// Runs b3sum once over many files; returns path -> hex.
std::map<std::string, std::string> B3sum(const std::vector<std::string>& paths) {
  std::map<std::string, std::string> out;
  std::string cmd = "b3sum";
  for (const auto& p : paths) cmd += " '" + p + "'";
  FILE* f = popen(cmd.c_str(), "r");
  if (!f) return out;
  char line[4096];
  while (fgets(line, sizeof line, f)) {
    std::string s(line);
    if (s.size() < 67) continue;
    std::string path = s.substr(66);
    while (!path.empty() && (path.back() == '\n' || path.back() == '\r')) path.pop_back();
    out[path] = s.substr(0, 64);
  }
  pclose(f);
  return out;
}

bool HaveB3sum() {
  return std::system("b3sum --version >/dev/null 2>&1") == 0;
}

std::vector<SimdLevel> Blake3Levels() {
  std::vector<SimdLevel> v;
  for (SimdLevel s : {SimdLevel::kPortable, SimdLevel::kAvx2, SimdLevel::kAvx512})
    if (CpuSupports(s)) v.push_back(s);
  return v;
}

std::string Blake3Hex(Bytes data, SimdLevel simd, ThreadPool* pool = nullptr, size_t piece = 0) {
  auto h = NewBlake3Hasher(simd, pool);
  if (piece == 0) {
    h->Update(data);
  } else {
    for (size_t i = 0; i < data.size(); i += piece)
      h->Update(data.subspan(i, std::min(piece, data.size() - i)));
  }
  return h->Finish().Hex();
}

// Checks every engine and several ways of feeding `inputs` against b3sum.
void CheckBlake3(const std::vector<std::vector<uint8_t>>& inputs, const std::string& what) {
  TempDir dir;
  std::vector<std::string> paths;
  for (size_t i = 0; i < inputs.size(); ++i) {
    paths.push_back(dir / ("in" + std::to_string(i)));
    test::WriteAll(paths.back(), inputs[i]);
  }
  auto expected = B3sum(paths);
  ASSERT_EQ(expected.size(), inputs.size()) << "b3sum did not answer for every file";
  ThreadPool pool(3);
  for (size_t i = 0; i < inputs.size(); ++i) {
    const std::string& want = expected[paths[i]];
    Bytes data(inputs[i]);
    for (SimdLevel s : Blake3Levels()) {
      SCOPED_TRACE(what + " length " + std::to_string(data.size()) + " " +
                   std::string(SimdLevelName(s)));
      EXPECT_EQ(Blake3Hex(data, s), want);
      EXPECT_EQ(Blake3Hex(data, s, nullptr, 1), want) << "byte by byte";
      EXPECT_EQ(Blake3Hex(data, s, nullptr, 1000), want) << "1000-byte pieces";
      EXPECT_EQ(Blake3Hex(data, s, nullptr, 4096 + 7), want) << "4103-byte pieces";
      EXPECT_EQ(Blake3Hex(data, s, &pool), want) << "tree split over threads";
    }
  }
}

TEST(Blake3, OfficialTestVectorInputsMatchB3sum) {
  if (!HaveB3sum()) GTEST_SKIP() << "b3sum not installed (scripts/install-deps --with-test)";
  std::vector<std::vector<uint8_t>> inputs;
  for (size_t n : {0,    1,    1023, 1024, 1025, 2048, 2049, 3072, 3073,  4096,  4097,
                   5120, 5121, 6144, 6145, 7168, 7169, 8192, 8193, 16384, 31744, 102400})
    inputs.push_back(Pattern(n));
  CheckBlake3(inputs, "official");
  // The first official vector, as printed in the specification's test_vectors.json.
  EXPECT_EQ(HashBytes(HashAlgo::kBlake3, {}).Hex(),
            "af1349b9f5f9a1a6a0404dea36dcc9499bcb25c9adc112b7cc9a93cae41f3262");
}

TEST(Blake3, RandomLengthsAroundBlockAndChunkBoundariesMatchB3sum) {
  if (!HaveB3sum()) GTEST_SKIP() << "b3sum not installed (scripts/install-deps --with-test)";
  std::mt19937_64 rng(42);
  std::vector<size_t> lengths;
  for (size_t n = 0; n <= 130; ++n) lengths.push_back(n);
  for (size_t base : {1024, 2048, 3072, 8192, 16384, 32768, 33792, 65536})
    for (long d : {-65, -64, -63, -1, 0, 1, 63, 64, 65}) lengths.push_back(base + d);
  std::vector<std::vector<uint8_t>> inputs;
  for (size_t n : lengths) inputs.push_back(Random(n, rng));
  CheckBlake3(inputs, "random");
}

TEST(Blake3, LargeInputsSplitOverThreadsMatchB3sum) {
  if (!HaveB3sum()) GTEST_SKIP() << "b3sum not installed (scripts/install-deps --with-test)";
  std::mt19937_64 rng(7);
  // Whole multiples of the 1 MiB parallel subtree, and lengths just past them.
  std::vector<std::vector<uint8_t>> inputs;
  for (size_t n : {(3u << 20), (5u << 20) + 1, (8u << 20) + 1024, (9u << 20) + 777})
    inputs.push_back(Random(n, rng));
  CheckBlake3(inputs, "large");
}

// SHA-256 -------------------------------------------------------------------------------

std::vector<Sha256Engine> MultiBufferEngines() {
  std::vector<Sha256Engine> v;
  for (Sha256Engine e : {Sha256Engine::kMultiBufferAvx2, Sha256Engine::kMultiBufferAvx512})
    if (CpuSupports(e)) v.push_back(e);
  return v;
}

void CheckSha256(const std::vector<std::vector<uint8_t>>& msgs) {
  std::vector<Bytes> views(msgs.begin(), msgs.end());
  std::vector<Digest> want(views.size());
  Sha256Many(views, want, Sha256Engine::kOpenSsl);
  for (Sha256Engine e : MultiBufferEngines()) {
    std::vector<Digest> got(views.size());
    Sha256Many(views, got, e);
    for (size_t i = 0; i < views.size(); ++i)
      EXPECT_EQ(got[i].Hex(), want[i].Hex())
          << Sha256EngineName(e) << " message " << i << " length " << views[i].size();
  }
}

TEST(Sha256MultiBuffer, EveryLengthUpTo300MatchesOpenSsl) {
  if (MultiBufferEngines().empty()) GTEST_SKIP() << "no multi-buffer engine runs on this CPU";
  std::mt19937_64 rng(1);
  std::vector<std::vector<uint8_t>> msgs;
  for (size_t n = 0; n <= 300; ++n) msgs.push_back(Random(n, rng));
  CheckSha256(msgs);
  // Shuffled, so that lanes run side by side with different lengths and refill at different times.
  std::shuffle(msgs.begin(), msgs.end(), rng);
  CheckSha256(msgs);
}

TEST(Sha256MultiBuffer, BlockBoundariesInEveryLaneMatchOpenSsl) {
  if (MultiBufferEngines().empty()) GTEST_SKIP() << "no multi-buffer engine runs on this CPU";
  std::mt19937_64 rng(2);
  std::vector<std::vector<uint8_t>> msgs;
  for (size_t blocks : {1, 2, 3, 16, 17})
    for (long d : {-10, -9, -8, -1, 0, 1, 55, 56, 57}) {
      long n = static_cast<long>(blocks * 64) + d;
      if (n >= 0) msgs.push_back(Random(static_cast<size_t>(n), rng));
    }
  // Each rotation puts every length into every lane.
  for (size_t rot = 0; rot < 16; ++rot) {
    std::rotate(msgs.begin(), msgs.begin() + 1, msgs.end());
    CheckSha256(msgs);
  }
  // A few long messages next to short ones (lanes drain at very different times).
  msgs.push_back(Random(1 << 20, rng));
  msgs.push_back(Random((1 << 20) + 55, rng));
  std::shuffle(msgs.begin(), msgs.end(), rng);
  CheckSha256(msgs);
}

TEST(Sha256MultiBuffer, FewerMessagesThanLanes) {
  std::mt19937_64 rng(3);
  for (size_t count = 0; count <= 3; ++count) {
    std::vector<std::vector<uint8_t>> msgs;
    for (size_t i = 0; i < count; ++i) msgs.push_back(Random(100 * i + 1000, rng));
    CheckSha256(msgs);
  }
}

// HashFileRanges ------------------------------------------------------------------------

TEST(HashFileRanges, EqualsHashingTheBytesForFilesAndShards) {
  TempDir dir;
  std::mt19937_64 rng(9);
  std::vector<std::vector<uint8_t>> files;
  std::vector<FileRange> ranges;
  for (size_t n : std::vector<size_t>{0, 1, 4095, 70000, (3u << 20) + 5, (6u << 20) + 3}) {
    files.push_back(Random(n, rng));
    std::string p = dir / ("f" + std::to_string(n));
    test::WriteAll(p, files.back());
    ranges.push_back({p});
    // Shards of 1 MiB + 1 (so shard boundaries fall inside chunks) with a short last shard.
    for (uint64_t off = 0; off < n; off += (1u << 20) + 1)
      ranges.push_back({p, off, std::min<uint64_t>((1u << 20) + 1, n - off)});
    ranges.push_back({p, n, 0});
  }
  for (HashAlgo algo : {HashAlgo::kSha256, HashAlgo::kBlake3})
    for (unsigned threads : {1u, 0u, 3u}) {
      auto got = HashFileRanges(ranges, algo, threads);
      ASSERT_TRUE(got.ok()) << got.error().ToString();
      ASSERT_EQ(got->size(), ranges.size());
      for (size_t i = 0; i < ranges.size(); ++i) {
        auto bytes = test::ReadAll(ranges[i].path);
        uint64_t len = ranges[i].length == UINT64_MAX ? bytes.size() : ranges[i].length;
        Digest want = HashBytes(algo, Bytes(bytes).subspan(ranges[i].offset, len));
        EXPECT_EQ((*got)[i], want) << HashAlgoName(algo) << " " << ranges[i].path << " @"
                                   << ranges[i].offset << "+" << len << " threads " << threads;
      }
    }
  auto one = HashFile(ranges[0].path, HashAlgo::kSha256);
  ASSERT_TRUE(one.ok());
  EXPECT_EQ(one->Hex(), "e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855");
}

TEST(HashFileRanges, ErrorsNameTheFile) {
  TempDir dir;
  std::string p = dir / "short.bin";
  test::WriteAll(p, std::vector<uint8_t>(100, 1));
  std::vector<FileRange> past{{p, 90, 20}};
  auto r = HashFileRanges(past, HashAlgo::kSha256);
  ASSERT_FALSE(r.ok());
  EXPECT_EQ(r.error().code(), ErrorCode::kMalformed);
  EXPECT_NE(r.error().ToString().find("short.bin"), std::string::npos) << r.error().ToString();
  std::vector<FileRange> start{{p, 101}};
  EXPECT_FALSE(HashFileRanges(start, HashAlgo::kBlake3).ok());
  std::vector<FileRange> missing{{p}, {dir / "missing.bin"}};
  r = HashFileRanges(missing, HashAlgo::kBlake3);
  ASSERT_FALSE(r.ok());
  EXPECT_EQ(r.error().code(), ErrorCode::kIo);
  EXPECT_NE(r.error().ToString().find("missing.bin"), std::string::npos) << r.error().ToString();
}

}  // namespace
}  // namespace wg
