// Quantization and float conversions against the reference: gguf-py's gguf.quants (and
// numpy for F16) compute the expected bytes from the same inputs (tests/support/
// quant_oracle.py), and every result must match bit for bit. The SIMD paths are compared
// with the scalar fallback over every 16-bit input and millions of f32 bit patterns.
#include "weightgate/core/quant.h"

#include <gtest/gtest.h>

#include <cfloat>
#include <cmath>
#include <cstring>
#include <filesystem>
#include <random>

#include "support/test_util.h"
#include "weightgate/core/half.h"

namespace wg {
namespace {

using test::TempDir;
constexpr int kMissingPackages = 77;

template <typename T>
void WriteVec(const std::string& path, const std::vector<T>& v) {
  std::vector<uint8_t> b(v.size() * sizeof(T));
  std::memcpy(b.data(), v.data(), b.size());
  test::WriteAll(path, b);
}

template <typename T>
std::vector<T> ReadVec(const std::string& path) {
  auto b = test::ReadAll(path);
  std::vector<T> v(b.size() / sizeof(T));
  std::memcpy(v.data(), b.data(), v.size() * sizeof(T));
  return v;
}

// Runs the oracle on jobs "op:TYPE:in:out"; returns its exit status.
int RunOracle(const std::vector<std::string>& jobs) {
  std::string cmd =
      std::string(WG_PYTHON) + " " + test::SourcePath("tests/support/quant_oracle.py");
  for (const auto& j : jobs) cmd += " " + j;
  int status = std::system(cmd.c_str());
  return WIFEXITED(status) ? WEXITSTATUS(status) : 128;
}

#define SKIP_WITHOUT_ORACLE(rc)                                        \
  if (!std::filesystem::exists(WG_PYTHON) || (rc) == kMissingPackages) \
  GTEST_SKIP() << "no Python with numpy and gguf at " WG_PYTHON        \
                  " (configure with -DWG_PYTHON=/path/to/venv/bin/python)"

// Blocks of 32 inputs for the quantizers: random data over many magnitudes plus every
// edge case the reference code has a branch or a rounding step for.
std::vector<float> QuantInputs() {
  std::mt19937 rng(1234);
  std::normal_distribution<float> normal(0.0f, 1.0f);
  std::uniform_real_distribution<float> uni(-1.0f, 1.0f);
  std::vector<float> v;
  auto block = [&](auto f) {
    for (int j = 0; j < 32; ++j) v.push_back(f(j));
  };
  // Random blocks, scaled from 1e-30 to 1e30.
  for (int b = 0; b < 3000; ++b) {
    const float scale = std::pow(10.0f, static_cast<float>(static_cast<int>(rng() % 61) - 30));
    block([&](int) { return normal(rng) * scale; });
  }
  // All zero; one large negative value (Q4_0 takes the signed value with the largest
  // magnitude); opposite signs of equal magnitude (the first one wins).
  block([](int) { return 0.0f; });
  block([&](int j) { return j == 5 ? -7.25f : uni(rng) * 7.0f; });
  block([&](int j) { return j == 31 ? -100.0f : uni(rng) * 99.0f; });
  block([](int j) { return j % 2 ? -3.0f : 3.0f; });
  block([](int j) { return j % 2 ? 3.0f : -3.0f; });
  // Finite extremes: the f16 scale overflows to infinity, quants stay finite.
  block([](int j) { return j % 3 == 0 ? -FLT_MAX : FLT_MAX / static_cast<float>(j + 1); });
  block([](int j) { return j == 0 ? FLT_MAX : -FLT_MAX * 0.5f; });
  block([](int j) { return 65504.0f * static_cast<float>(j - 16) / 16.0f; });
  // Subnormal and tiny inputs: the inverse scale overflows, or the f16 scale underflows.
  block([](int j) { return j == 0 ? 1e-39f : j == 1 ? -5e-40f : 0.0f; });
  block([](int j) { return static_cast<float>(j) * 1e-9f; });
  block([](int j) { return FLT_MIN * static_cast<float>(j - 7); });
  // Exact halves: Q8_0 with amax 127 (d = 1) rounds k + 0.5 away from zero; Q4_0 with
  // max -8 (d = 1) truncates exact integers.
  for (int k = -127; k < 127; k += 32)
    block([k](int j) { return j == 0 ? 127.0f : static_cast<float>(k + j) + 0.5f; });
  for (int s : {1, -1})
    block([s](int j) { return j == 0 ? -8.0f : s * (static_cast<float>(j % 16) - 8.5f) / 2; });
  // Q4_0 near its truncation boundaries, where fused and unfused rounding differ.
  for (int b = 0; b < 2000; ++b) {
    const float max = normal(rng) * 10.0f;
    block([&](int j) {
      if (j == 0) return max;
      const float k = static_cast<float>(rng() % 16) - 7.5f;
      const float eps = static_cast<float>(static_cast<int>(rng() % 9) - 4) * 1.2e-7f;
      return -max / 8 * k * (1 + eps);
    });
  }
  // Integers and a huge dynamic range inside one block.
  block([](int j) { return static_cast<float>(j - 16); });
  block([](int j) { return std::ldexp(1.0f, j * 4 - 64) * (j % 2 ? -1.0f : 1.0f); });
  return v;
}

TEST(Quant, QuantizeMatchesGgufPy) {
  TempDir dir;
  const std::vector<float> x = QuantInputs();
  const size_t n = x.size();
  WriteVec(dir / "x.f32", x);
  const int rc = RunOracle({"quantize:Q8_0:" + dir / "x.f32" + ":" + dir / "q8",
                            "quantize:Q4_0:" + dir / "x.f32" + ":" + dir / "q4"});
  SKIP_WITHOUT_ORACLE(rc);
  ASSERT_EQ(rc, 0);

  const auto want8 = test::ReadAll(dir / "q8");
  const auto want4 = test::ReadAll(dir / "q4");
  ASSERT_EQ(want8.size(), n / 32 * sizeof(BlockQ8_0));
  ASSERT_EQ(want4.size(), n / 32 * sizeof(BlockQ4_0));
  for (bool simd : {true, false}) {
    SCOPED_TRACE(simd ? "simd" : "scalar");
    SetSimdForTesting(simd);
    std::vector<BlockQ8_0> q8(n / 32);
    QuantizeRowQ8_0(x.data(), q8.data(), n);
    size_t bad8 = 0;
    for (size_t b = 0; b < q8.size(); ++b)
      if (std::memcmp(&q8[b], want8.data() + b * 34, 34) != 0 && bad8++ < 5)
        ADD_FAILURE() << "Q8_0 block " << b << " differs from gguf-py";
    EXPECT_EQ(bad8, 0u);

    std::vector<BlockQ4_0> q4(n / 32);
    QuantizeRowQ4_0(x.data(), q4.data(), n);
    size_t bad4 = 0;
    for (size_t b = 0; b < q4.size(); ++b)
      if (std::memcmp(&q4[b], want4.data() + b * 18, 18) != 0 && bad4++ < 5)
        ADD_FAILURE() << "Q4_0 block " << b << " differs from gguf-py";
    EXPECT_EQ(bad4, 0u);
  }
  SetSimdForTesting(true);

  // FromF32 is the same code behind a byte pointer that need not be aligned.
  std::vector<uint8_t> bytes(want8.size() + 1);
  ASSERT_TRUE(FromF32(DType::kQ8_0, x.data(), bytes.data() + 1, n).ok());
  EXPECT_TRUE(std::equal(want8.begin(), want8.end(), bytes.begin() + 1));
}

// Q4_0's reference result depends on fusing x*id + 8.5f; we promise the fused one.
TEST(Quant, Q4_0RoundsAsAFusedMultiplyAdd) {
  const std::vector<float> x = QuantInputs();
  std::vector<BlockQ4_0> q4(x.size() / 32);
  QuantizeRowQ4_0(x.data(), q4.data(), x.size());
  size_t unfused_differs = 0;
  for (size_t b = 0; b < q4.size(); ++b) {
    const float* xb = x.data() + b * 32;
    float amax = 0, max = 0;
    for (int j = 0; j < 32; ++j)
      if (amax < std::fabs(xb[j])) amax = std::fabs(xb[j]), max = xb[j];
    const float d = max / -8, id = d != 0 ? 1.0f / d : 0.0f;
    for (int j = 0; j < 32; ++j) {
      const float fused = std::fma(xb[j], id, 8.5f);
      if (!std::isfinite(fused)) continue;  // covered by the oracle comparison
      const int want = std::min(15, static_cast<int>(fused));
      const int got = j < 16 ? q4[b].qs[j] & 0xF : q4[b].qs[j - 16] >> 4;
      ASSERT_EQ(got, want) << "block " << b << " element " << j;
      volatile float product = xb[j] * id;  // rounded on its own, as an unfused build does
      unfused_differs += std::min(15, static_cast<int>(product + 8.5f)) != want;
    }
  }
  // The boundary blocks do reach the cases where the two roundings disagree.
  EXPECT_GT(unfused_differs, 0u);
}

// llama.cpp keeps max = 0.0f for an all-zero block, so d = 0.0f / -8 = -0.0 whatever
// the zeros' signs; gguf-py takes the block's first element, and writes +0.0 when that is
// -0.0. We follow llama.cpp: the files it writes are what users compare against.
TEST(Quant, Q4_0NegativeZeroBlockFollowsLlamaCpp) {
  std::vector<float> x(32, -0.0f);
  BlockQ4_0 q;
  QuantizeRowQ4_0(x.data(), &q, 32);
  EXPECT_EQ(q.d, 0x8000);
  for (uint8_t b : q.qs) EXPECT_EQ(b, 0x88);
}

// Blocks with random bytes whose f16 scales are finite, plus extreme scales.
std::vector<uint8_t> RandomBlocks(DType t, size_t count, uint32_t seed) {
  const uint32_t size = Info(t).block_bytes;
  std::mt19937 rng(seed);
  std::vector<uint8_t> b(size * count);
  for (auto& c : b) c = static_cast<uint8_t>(rng());
  std::vector<size_t> scale_offsets;
  if (t == DType::kQ8_0 || t == DType::kQ4_0) scale_offsets = {0};
  if (t == DType::kQ4K) scale_offsets = {0, 2};
  if (t == DType::kQ6K) scale_offsets = {208};
  const uint16_t extremes[] = {0x7bff, 0xfbff, 0x0001, 0x8000, 0x0000, 0x3c00, 0x0400};
  for (size_t k = 0; k < count; ++k) {
    uint8_t* block = b.data() + k * size;
    for (size_t off : scale_offsets) {
      uint16_t h;
      std::memcpy(&h, block + off, 2);
      if ((h & 0x7c00) == 0x7c00) h &= 0xbfff;  // no inf/NaN: clear an exponent bit
      if (k < 7) h = extremes[k];
      std::memcpy(block + off, &h, 2);
    }
    // All-zero and all-ones quants in a few blocks.
    if (k == 3 || k == 4)
      std::memset(block + (t == DType::kQ6K ? 0 : scale_offsets.size() * 2), k == 3 ? 0x00 : 0xff,
                  size - 2 * scale_offsets.size());
  }
  return b;
}

TEST(Quant, DequantizeMatchesGgufPy) {
  TempDir dir;
  const std::vector<std::pair<DType, std::string>> types = {
      {DType::kQ8_0, "Q8_0"}, {DType::kQ4_0, "Q4_0"}, {DType::kQ4K, "Q4_K"}, {DType::kQ6K, "Q6_K"}};
  std::vector<std::string> jobs;
  for (const auto& [t, name] : types) {
    test::WriteAll(dir / name, RandomBlocks(t, 1000, 99));
    jobs.push_back("dequantize:" + name + ":" + dir / name + ":" + dir / (name + ".f32"));
  }
  const int rc = RunOracle(jobs);
  SKIP_WITHOUT_ORACLE(rc);
  ASSERT_EQ(rc, 0);
  for (const auto& [t, name] : types) {
    SCOPED_TRACE(name);
    const auto blocks = test::ReadAll(dir / name);
    const auto want = ReadVec<uint32_t>(dir / (name + ".f32"));
    const uint64_t n = blocks.size() / Info(t).block_bytes * Info(t).block_elems;
    ASSERT_EQ(want.size(), n);
    // Through an unaligned source pointer, as a tensor in a mapped file may be.
    std::vector<uint8_t> shifted(blocks.size() + 3);
    std::memcpy(shifted.data() + 3, blocks.data(), blocks.size());
    std::vector<float> got(n);
    ASSERT_TRUE(ToF32(t, shifted.data() + 3, got.data(), n).ok());
    size_t bad = 0;
    for (uint64_t i = 0; i < n; ++i)
      if (FloatBits(got[i]) != want[i] && bad++ < 5)
        ADD_FAILURE() << "element " << i << ": got " << got[i] << " want " << BitsFloat(want[i]);
    EXPECT_EQ(bad, 0u);
  }
}

// f32 bit patterns: random ones, every exponent, and the rounding cases of f16 and bf16.
std::vector<uint32_t> F32Patterns(bool with_nan) {
  std::mt19937 rng(5);
  std::vector<uint32_t> v;
  for (int i = 0; i < 1 << 20; ++i) v.push_back(static_cast<uint32_t>(rng()));
  for (uint32_t e = 0; e < 256; ++e)
    for (uint32_t m : {0u, 1u, 0xfffu, 0x1000u, 0x1001u, 0x2000u, 0x3000u, 0x7fffu, 0x8000u,
                       0x18000u, 0x7fffffu, 0x7fe000u, 0x7ff000u})
      for (uint32_t s : {0u, 0x80000000u}) v.push_back(s | (e << 23) | m);
  if (!with_nan)
    for (auto& u : v)
      if ((u & 0x7fffffff) > 0x7f800000) u &= 0xff7fffff;  // now a finite value
  return v;
}

TEST(Quant, FloatConversionsMatchNumpyAndGgufPy) {
  TempDir dir;
  // numpy does not quiet NaNs the way F16C and ggml do; NaNs are compared in the SIMD
  // tests below against the scalar code, which follows ggml.
  const auto bits = F32Patterns(false);
  WriteVec(dir / "x.f32", bits);
  std::vector<uint16_t> all16(65536);
  for (uint32_t i = 0; i < 65536; ++i) all16[i] = static_cast<uint16_t>(i);
  std::vector<uint16_t> finite16;
  for (uint16_t h : all16)
    if ((h & 0x7c00) != 0x7c00 || (h & 0x3ff) == 0) finite16.push_back(h);
  WriteVec(dir / "h.f16", finite16);
  WriteVec(dir / "b.bf16", all16);
  const int rc = RunOracle({"quantize:F16:" + dir / "x.f32" + ":" + dir / "x.f16",
                            "quantize:BF16:" + dir / "x.f32" + ":" + dir / "x.bf16",
                            "dequantize:F16:" + dir / "h.f16" + ":" + dir / "h.f32",
                            "dequantize:BF16:" + dir / "b.bf16" + ":" + dir / "b.f32"});
  SKIP_WITHOUT_ORACLE(rc);
  ASSERT_EQ(rc, 0);
  const uint64_t n = bits.size();
  const auto* x = reinterpret_cast<const float*>(bits.data());
  for (bool simd : {true, false}) {
    SCOPED_TRACE(simd ? "simd" : "scalar");
    SetSimdForTesting(simd);
    std::vector<uint16_t> f16(n), bf16(n);
    ASSERT_TRUE(FromF32(DType::kF16, x, reinterpret_cast<uint8_t*>(f16.data()), n).ok());
    ASSERT_TRUE(FromF32(DType::kBF16, x, reinterpret_cast<uint8_t*>(bf16.data()), n).ok());
    EXPECT_TRUE(f16 == ReadVec<uint16_t>(dir / "x.f16"));
    EXPECT_TRUE(bf16 == ReadVec<uint16_t>(dir / "x.bf16"));
    std::vector<uint32_t> h32(finite16.size()), b32(65536);
    ASSERT_TRUE(ToF32(DType::kF16, reinterpret_cast<const uint8_t*>(finite16.data()),
                      reinterpret_cast<float*>(h32.data()), finite16.size())
                    .ok());
    ASSERT_TRUE(ToF32(DType::kBF16, reinterpret_cast<const uint8_t*>(all16.data()),
                      reinterpret_cast<float*>(b32.data()), 65536)
                    .ok());
    EXPECT_TRUE(h32 == ReadVec<uint32_t>(dir / "h.f32"));
    EXPECT_TRUE(b32 == ReadVec<uint32_t>(dir / "b.f32"));
  }
  SetSimdForTesting(true);
}

// Converts with SIMD on and off; both must give the same bytes.
std::pair<std::vector<uint8_t>, std::vector<uint8_t>> BothWays(DType from, const void* src,
                                                               DType to, uint64_t n) {
  const uint64_t out = *ByteSize(to, n);
  std::vector<uint8_t> a(out), b(out);
  SetSimdForTesting(true);
  EXPECT_TRUE(Convert(from, static_cast<const uint8_t*>(src), to, a.data(), n).ok());
  SetSimdForTesting(false);
  EXPECT_TRUE(Convert(from, static_cast<const uint8_t*>(src), to, b.data(), n).ok());
  SetSimdForTesting(true);
  return {a, b};
}

TEST(QuantSimd, SameBitsAsScalarForEveryInput) {
  if (!SimdAvailable()) GTEST_SKIP() << "this CPU lacks AVX2/F16C; only the scalar path runs";
  std::vector<uint16_t> all16(65536 + 5);  // + 5: a tail shorter than a vector
  for (uint32_t i = 0; i < all16.size(); ++i) all16[i] = static_cast<uint16_t>(i * 40503u);
  for (uint32_t i = 0; i < 65536; ++i) all16[i] = static_cast<uint16_t>(i);
  for (auto [from, to] : {std::pair{DType::kBF16, DType::kF16},
                          {DType::kBF16, DType::kF32},
                          {DType::kF16, DType::kF32}}) {
    auto [simd, scalar] = BothWays(from, all16.data(), to, all16.size());
    EXPECT_TRUE(simd == scalar) << Name(from) << " -> " << Name(to);
  }
  const auto bits = F32Patterns(true);
  auto [simd, scalar] = BothWays(DType::kF32, bits.data(), DType::kF16, bits.size() - 3);
  EXPECT_TRUE(simd == scalar) << "F32 -> F16";
  // And both are the scalar conversion of half.h, element by element.
  for (size_t i = 0; i < bits.size() - 3; ++i) {
    uint16_t h;
    std::memcpy(&h, simd.data() + 2 * i, 2);
    ASSERT_EQ(h, F32ToF16(BitsFloat(bits[i]))) << std::hex << bits[i];
  }
}

// Blocks with NaNs and infinities have no reference values worth matching, but the
// vector quantizers must still give what the scalar reference code gives.
TEST(QuantSimd, QuantizersMatchScalarOnNonFiniteBlocks) {
  if (!SimdAvailable()) GTEST_SKIP() << "this CPU lacks AVX2/F16C; only the scalar path runs";
  std::vector<float> x = QuantInputs();
  std::mt19937 rng(77);
  const float specials[] = {NAN, -NAN, INFINITY, -INFINITY, FLT_MAX, -FLT_MAX, 1e-40f, 0.0f};
  for (int b = 0; b < 400; ++b)
    for (int j = 0; j < 32; ++j)
      x.push_back(rng() % 4 ? static_cast<float>(static_cast<int>(rng() % 200) - 100)
                            : specials[rng() % 8]);
  const uint64_t n = x.size();
  for (DType t : {DType::kQ8_0, DType::kQ4_0}) {
    auto [simd, scalar] = BothWays(DType::kF32, x.data(), t, n);
    EXPECT_TRUE(simd == scalar) << Name(t);
  }
}

TEST(QuantConvert, PathsAgreeAndChunkingIsInvisible) {
  std::mt19937 rng(3);
  std::normal_distribution<float> normal;
  const uint64_t n = 3 * 4096 + 256;  // crosses internal chunks, ends mid-chunk
  std::vector<float> x(n);
  for (auto& v : x) v = normal(rng);
  auto convert = [&](DType from, const std::vector<uint8_t>& src, DType to) {
    std::vector<uint8_t> out(*ByteSize(to, n));
    Status s = Convert(from, src.data(), to, out.data(), n);
    EXPECT_TRUE(s.ok()) << s.error().ToString();
    return out;
  };
  std::vector<uint8_t> f32(n * 4);
  std::memcpy(f32.data(), x.data(), f32.size());
  const auto bf16 = convert(DType::kF32, f32, DType::kBF16);
  const auto q4 = convert(DType::kF32, f32, DType::kQ4_0);
  // BF16 -> Q8_0 goes through f32 in chunks; it must equal the two steps done whole.
  const auto q8_direct = convert(DType::kBF16, bf16, DType::kQ8_0);
  const auto bf16_f32 = convert(DType::kBF16, bf16, DType::kF32);
  std::vector<float> widened(n);
  std::memcpy(widened.data(), bf16_f32.data(), n * 4);
  std::vector<BlockQ8_0> q8(n / 32);
  QuantizeRowQ8_0(widened.data(), q8.data(), n);
  EXPECT_EQ(std::memcmp(q8.data(), q8_direct.data(), q8_direct.size()), 0);
  // Q4_0 -> F16 = dequantize then round to f16.
  const auto q4_f16 = convert(DType::kQ4_0, q4, DType::kF16);
  std::vector<float> deq(n);
  ASSERT_TRUE(ToF32(DType::kQ4_0, q4.data(), deq.data(), n).ok());
  for (uint64_t i = 0; i < n; ++i) {
    uint16_t h;
    std::memcpy(&h, q4_f16.data() + 2 * i, 2);
    ASSERT_EQ(h, F32ToF16(deq[i])) << i;
  }
  // Same dtype copies.
  EXPECT_EQ(convert(DType::kQ4_0, q4, DType::kQ4_0), q4);
  // F16 -> F64 and back to F16 is lossless.
  const auto f16 = convert(DType::kF32, f32, DType::kF16);
  EXPECT_EQ(convert(DType::kF64, convert(DType::kF16, f16, DType::kF64), DType::kF16), f16);
}

TEST(QuantConvert, IntegersAndBoolWiden) {
  const int16_t i16[] = {-32768, -1, 0, 7, 32767};
  float out[5];
  ASSERT_TRUE(ToF32(DType::kI16, reinterpret_cast<const uint8_t*>(i16), out, 5).ok());
  EXPECT_EQ(std::vector<float>(out, out + 5), (std::vector<float>{-32768, -1, 0, 7, 32767}));
  const uint64_t u64[] = {0, 1, (1ull << 53) + 1, UINT64_MAX, 3};
  ASSERT_TRUE(ToF32(DType::kU64, reinterpret_cast<const uint8_t*>(u64), out, 5).ok());
  EXPECT_EQ(out[2], 9007199254740992.0f);
  EXPECT_EQ(out[3], 18446744073709551616.0f);
  const uint8_t b[] = {0, 1, 2, 255, 0};
  ASSERT_TRUE(ToF32(DType::kBool, b, out, 5).ok());
  EXPECT_EQ(std::vector<float>(out, out + 5), (std::vector<float>{0, 1, 1, 1, 0}));
}

TEST(QuantConvert, RefusesWhatItCannotDo) {
  std::vector<uint8_t> src(1024), dst(4096);
  Status s = Convert(DType::kF32, src.data(), DType::kQ8_0, dst.data(), 33);
  ASSERT_FALSE(s.ok());
  EXPECT_EQ(s.error().code(), ErrorCode::kUsage);
  EXPECT_NE(s.error().ToString().find("multiple of 32"), std::string::npos) << s.error().ToString();
  s = Convert(DType::kQ4K, src.data(), DType::kF32, dst.data(), 32);
  ASSERT_FALSE(s.ok());
  EXPECT_NE(s.error().ToString().find("multiple of 256"), std::string::npos);
  s = Convert(DType::kF8E4M3, src.data(), DType::kF32, dst.data(), 4);
  ASSERT_FALSE(s.ok());
  EXPECT_EQ(s.error().code(), ErrorCode::kUnsupported);
  s = Convert(DType::kF32, src.data(), DType::kI32, dst.data(), 4);
  ASSERT_FALSE(s.ok());
  EXPECT_EQ(s.error().code(), ErrorCode::kUnsupported);
  s = Convert(DType::kF16, src.data(), DType::kQ4K, dst.data(), 256);
  ASSERT_FALSE(s.ok());
  EXPECT_EQ(s.error().code(), ErrorCode::kUnsupported);
  // F8 copies unchanged.
  src[0] = 0x7e;
  EXPECT_TRUE(Convert(DType::kF8E5M2, src.data(), DType::kF8E5M2, dst.data(), 1).ok());
  EXPECT_EQ(dst[0], 0x7e);
}

}  // namespace
}  // namespace wg
