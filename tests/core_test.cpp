// core/: errors, atomic output, memory maps, dtypes, half conversions, thread pool.
#include <gtest/gtest.h>

#include <atomic>
#include <filesystem>
#include <random>

#include "support/test_util.h"
#include "weightgate/core/byte_reader.h"
#include "weightgate/core/dtype.h"
#include "weightgate/core/error.h"
#include "weightgate/core/file.h"
#include "weightgate/core/half.h"
#include "weightgate/core/thread_pool.h"

namespace wg {
namespace {

TEST(Error, CarriesContext) {
  Error e = Error::Malformed("tensor data out of bounds")
                .File("m.gguf")
                .Offset(1234)
                .Field("blk.0.attn_q.weight")
                .Expected("end <= 4096")
                .Found("8192");
  EXPECT_EQ(e.ToString(),
            "m.gguf: offset 1234: blk.0.attn_q.weight: tensor data out of bounds "
            "(expected end <= 4096, found 8192)");
  // Outer layers add context but never overwrite what the inner layer knew.
  e.File("other");
  EXPECT_EQ(*e.file(), "m.gguf");
}

TEST(AtomicFile, AppearsOnlyOnCommit) {
  test::TempDir dir;
  std::string path = dir / "out.bin";
  {
    auto f = AtomicFile::Create(path);
    ASSERT_TRUE(f.ok()) << f.error().ToString();
    ASSERT_TRUE((*f)->Append(std::string_view("hello")).ok());
    EXPECT_FALSE(std::filesystem::exists(path));
    ASSERT_TRUE((*f)->Commit().ok());
  }
  EXPECT_EQ(test::ReadAll(path).size(), 5u);
  size_t entries = 0;
  for (auto& e : std::filesystem::directory_iterator(dir.path())) (void)e, ++entries;
  EXPECT_EQ(entries, 1u);
}

TEST(AtomicFile, AbandonedLeavesNothing) {
  test::TempDir dir;
  {
    auto f = AtomicFile::Create(dir / "out.bin");
    ASSERT_TRUE(f.ok());
    ASSERT_TRUE((*f)->AppendZeros(10 << 20).ok());
  }
  EXPECT_TRUE(test::DirIsEmpty(dir.path()));
}

TEST(MappedFile, MissingFileNamesPath) {
  auto m = MappedFile::Open("/nonexistent/x.safetensors");
  ASSERT_FALSE(m.ok());
  EXPECT_EQ(m.error().code(), ErrorCode::kIo);
  EXPECT_NE(m.error().ToString().find("/nonexistent/x.safetensors"), std::string::npos);
}

TEST(ByteReader, TruncationReportsOffsetAndField) {
  uint8_t buf[6] = {1, 0, 0, 0, 2, 0};
  ByteReader r(Bytes(buf, 6), "f.bin", 100);
  EXPECT_EQ(*r.Read<uint32_t>("a"), 1u);
  auto v = r.Read<uint32_t>("count");
  ASSERT_FALSE(v.ok());
  EXPECT_EQ(*v.error().offset(), 104u);
  EXPECT_EQ(*v.error().field(), "count");
}

TEST(DType, BlockGeometry) {
  EXPECT_EQ(*ByteSize(DType::kQ8_0, 64), 68u);
  EXPECT_EQ(*ByteSize(DType::kQ4K, 256), 144u);
  EXPECT_EQ(*ByteSize(DType::kQ6K, 512), 420u);
  EXPECT_FALSE(ByteSize(DType::kQ4_0, 33).ok());
  EXPECT_EQ(*DTypeFromName("bf16"), DType::kBF16);
  EXPECT_EQ(*DTypeFromName("q4_k"), DType::kQ4K);
  uint64_t huge[] = {1ull << 40, 1ull << 40};
  EXPECT_FALSE(ElementCount(huge).ok());
}

TEST(Half, RoundToNearestEven) {
  EXPECT_EQ(F32ToF16(1.0f), 0x3c00);
  EXPECT_EQ(F32ToF16(65504.0f), 0x7bff);
  EXPECT_EQ(F32ToF16(65520.0f), 0x7c00);             // rounds up to inf
  EXPECT_EQ(F32ToF16(BitsFloat(0x3f801000)), 0x3c00);  // tie -> even (down)
  EXPECT_EQ(F32ToF16(BitsFloat(0x3f803000)), 0x3c02);  // tie -> even (up)
  EXPECT_EQ(F32ToF16(5.96046448e-08f), 0x0001);       // smallest subnormal
  EXPECT_EQ(F32ToBF16(BitsFloat(0x3f808000)), 0x3f80);  // tie -> even
  EXPECT_EQ(F32ToBF16(BitsFloat(0x3f818000)), 0x3f82);
  // Every f16 survives a round trip through f32.
  for (uint32_t h = 0; h < 65536; ++h) {
    float f = F16ToF32(static_cast<uint16_t>(h));
    if (f != f) continue;
    EXPECT_EQ(F32ToF16(f), h);
  }
}

TEST(ThreadPool, RunsEveryIndexAndReportsLowestError) {
  ThreadPool pool(4);
  std::atomic<int> sum{0};
  ASSERT_TRUE(pool.ParallelFor(1000, [&](size_t i) { sum += static_cast<int>(i); return Ok(); }).ok());
  EXPECT_EQ(sum.load(), 999 * 1000 / 2);
  Status s = pool.ParallelFor(100, [&](size_t i) -> Status {
    if (i == 7) return Error::Malformed("seven");
    return Ok();
  });
  ASSERT_FALSE(s.ok());
  EXPECT_EQ(s.error().message(), "seven");
}

}  // namespace
}  // namespace wg
