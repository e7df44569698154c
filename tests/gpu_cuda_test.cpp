// The CUDA twin against the CPU reference on the real stories260K model, per weight
// dtype; the generic tensor pass against host statistics; and the host halves (tensor
// statistics, logit comparison, --device parsing) that run on every machine.
//
// Tests that need a GPU skip with the reason CUDA gives ("no CUDA device visible: ...",
// or "built without CUDA ...") so that a CPU-only run says plainly what it did not test.
#include <gtest/gtest.h>

#include <algorithm>
#include <cmath>
#include <cstring>
#include <fstream>
#include <limits>
#include <nlohmann/json.hpp>
#include <random>

#include "../gpu_check/src/cuda_upload.h"
#include "../gpu_check/src/dequant_element.h"
#include "support/test_util.h"
#include "weightgate/core/quant.h"
#include "weightgate/formats/convert.h"
#include "weightgate/gpu_check/cpu_reference.h"
#include "weightgate/gpu_check/cuda_forward.h"
#include "weightgate/gpu_check/device_check.h"
#include "weightgate/gpu_check/tensor_stats.h"

namespace wg {
namespace {

using test::TestData;

const std::string kLlama2c = "models/stories260K/stories260K.bin";

// Why CUDA tests cannot run here; empty when a device is visible.
std::string NoCudaReason() {
  auto devices = ListCudaDevices();
  return devices.ok() ? "" : devices.error().message();
}

#define SKIP_WITHOUT_CUDA()                        \
  do {                                             \
    const std::string wg_why_ = NoCudaReason();    \
    if (!wg_why_.empty()) GTEST_SKIP() << wg_why_; \
  } while (0)

std::vector<int32_t> PublishedStory(int32_t n) {
  std::ifstream in(TestData("models/stories260K/expected_greedy.json"));
  nlohmann::json g = nlohmann::json::parse(in);
  std::vector<int32_t> fed = {1};  // BOS, then the published continuation
  for (int32_t t : g["cases"][1]["next_token_ids"].get<std::vector<int32_t>>()) fed.push_back(t);
  fed.resize(std::min<size_t>(fed.size(), n));
  return fed;
}

// stories260K in `dtype`, written by our own converter as a GGUF (F32: the original).
std::string ModelIn(const test::TempDir& dir, const std::string& dtype) {
  if (dtype == "F32") return TestData(kLlama2c);
  const std::string out = dir / ("stories260K-" + dtype + ".gguf");
  ConvertOptions o;
  o.to = TargetFormat::kGguf;
  o.dtype = DTypeFromName(dtype);
  o.quiet = true;
  auto r = Convert(TestData(kLlama2c), out, o);
  EXPECT_TRUE(r.ok()) << r.error().ToString();
  return out;
}

std::vector<std::vector<float>> CpuLogits(const LlamaModel& m, const std::vector<int32_t>& fed) {
  CpuReference cpu(m, static_cast<int32_t>(fed.size()));
  std::vector<std::vector<float>> out;
  for (size_t p = 0; p < fed.size(); ++p) {
    auto l = cpu.Forward(fed[p], static_cast<int32_t>(p));
    EXPECT_TRUE(l.ok()) << l.error().ToString();
    if (!l.ok()) break;
    out.push_back(**l);
  }
  return out;
}

// ---- CUDA forward pass vs the CPU twin (skip without a GPU) ----

class CudaTwinPerDtype : public ::testing::TestWithParam<std::string> {};

TEST_P(CudaTwinPerDtype, LogitsAndGreedyTokensMatchTheCpuReference) {
  SKIP_WITHOUT_CUDA();
  test::TempDir dir;
  auto m = LoadLlamaModel(ModelIn(dir, GetParam()));
  ASSERT_TRUE(m.ok()) << m.error().ToString();
  const std::vector<int32_t> fed = PublishedStory(48);
  const auto cpu = CpuLogits(*m, fed);
  auto gpu = CudaForward::Create(*m, 0, static_cast<int32_t>(fed.size()));
  ASSERT_TRUE(gpu.ok()) << gpu.error().ToString();
  EXPECT_GT((*gpu)->load_stats().bytes, 0u);
  std::vector<std::vector<float>> dev;
  for (size_t p = 0; p < fed.size(); ++p) {
    auto l = (*gpu)->Forward(fed[p], static_cast<int32_t>(p));
    ASSERT_TRUE(l.ok()) << l.error().ToString();
    dev.push_back(**l);
  }
  const LogitComparison c = CompareLogits(cpu, dev, LogitTolerance(DominantWeightDType(*m)));
  EXPECT_TRUE(c.passed) << c.why;
  EXPECT_EQ(c.nan + c.inf, 0u);
  // Same weights on both sides: far tighter than the documented tolerance.
  EXPECT_LT(c.max_rel_error, 1e-4) << GetParam();
  for (size_t p = 0; p < fed.size(); ++p)
    EXPECT_EQ(Argmax(dev[p]), Argmax(cpu[p])) << GetParam() << " position " << p;
}

INSTANTIATE_TEST_SUITE_P(Stories260K, CudaTwinPerDtype,
                         ::testing::Values("F32", "F16", "BF16", "Q8_0", "Q4_0"),
                         [](const auto& info) { return info.param; });

TEST(CudaTwin, HuggingFaceRotateHalvesLayoutMatches) {
  SKIP_WITHOUT_CUDA();
  test::TempDir dir;
  ConvertOptions o;
  o.to = TargetFormat::kSafetensors;
  o.quiet = true;
  ASSERT_TRUE(Convert(TestData(kLlama2c), dir / "hf", o).ok());
  auto m = LoadLlamaModel(dir / "hf");
  ASSERT_TRUE(m.ok()) << m.error().ToString();
  ASSERT_EQ(m->config.rope_layout, RopeLayout::kHalves);
  const std::vector<int32_t> fed = PublishedStory(24);
  SmokePass cpu;
  cpu.prompt_ids = {fed[0]};
  cpu.next_ids.assign(fed.begin() + 1, fed.end());
  auto report = RunDevicePasses(*m, cpu, "0");
  ASSERT_TRUE(report.ok()) << report.error().ToString();
  ASSERT_EQ(report->passes.size(), 1u);
  EXPECT_TRUE(report->passes[0].passed)
      << report->passes[0].error << report->passes[0].comparison.why;
}

// A GPU (or upload) that corrupts one weight bit must fail the check.
TEST(CudaTwin, PlantedFaultInTheDeviceWeightsIsCaught) {
  SKIP_WITHOUT_CUDA();
  auto m = LoadLlamaModel(TestData(kLlama2c));
  ASSERT_TRUE(m.ok()) << m.error().ToString();
  const std::vector<int32_t> fed = PublishedStory(16);
  const auto cpu = CpuLogits(*m, fed);
  auto gpu = CudaForward::Create(*m, 0, static_cast<int32_t>(fed.size()));
  ASSERT_TRUE(gpu.ok()) << gpu.error().ToString();
  // The top exponent bit of weight 100 of layer 0's wq (an F32 matrix: cuBLAS's path).
  ASSERT_TRUE((*gpu)->FlipWeightBitForTest("blk.0.attn_q.weight", 4 * 100 + 3, 6).ok());
  std::vector<std::vector<float>> dev;
  for (size_t p = 0; p < fed.size(); ++p)
    dev.push_back(**(*gpu)->Forward(fed[p], static_cast<int32_t>(p)));
  const LogitComparison c = CompareLogits(cpu, dev, LogitTolerance(DType::kF32));
  EXPECT_FALSE(c.passed);
}

TEST(CudaTwin, PlantedFaultInAQuantizedMatrixIsCaught) {
  SKIP_WITHOUT_CUDA();
  test::TempDir dir;
  auto m = LoadLlamaModel(ModelIn(dir, "Q8_0"));
  ASSERT_TRUE(m.ok()) << m.error().ToString();
  ASSERT_EQ(m->layers[0].wq->dtype, DType::kQ8_0);
  const std::vector<int32_t> fed = PublishedStory(16);
  const auto cpu = CpuLogits(*m, fed);
  auto gpu = CudaForward::Create(*m, 0, static_cast<int32_t>(fed.size()));
  ASSERT_TRUE(gpu.ok()) << gpu.error().ToString();
  // The top exponent bit of block 0's f16 scale: one own-kernel dequantization gone bad.
  ASSERT_TRUE((*gpu)->FlipWeightBitForTest("blk.0.attn_q.weight", 1, 6).ok());
  std::vector<std::vector<float>> dev;
  for (size_t p = 0; p < fed.size(); ++p)
    dev.push_back(**(*gpu)->Forward(fed[p], static_cast<int32_t>(p)));
  EXPECT_FALSE(CompareLogits(cpu, dev, LogitTolerance(DType::kQ8_0)).passed);
}

// ---- Generic tensor pass: device statistics vs host statistics ----

class CudaTensorPass : public ::testing::TestWithParam<std::string> {};

TEST_P(CudaTensorPass, DeviceStatisticsEqualHostStatistics) {
  SKIP_WITHOUT_CUDA();
  test::TempDir dir;
  auto cat = OpenCatalog(ModelIn(dir, GetParam()));
  ASSERT_TRUE(cat.ok()) << cat.error().ToString();
  // A small budget forces several batches and split tensors.
  auto dev = CudaTensorStats(*cat, 0, 16 << 10);
  ASSERT_TRUE(dev.ok()) << dev.error().ToString();
  size_t compared = 0;
  for (size_t i = 0; i < cat->tensors.size(); ++i) {
    auto host = HostTensorStats(cat->tensors[i]);
    ASSERT_TRUE(host.ok()) << host.error().ToString();
    ASSERT_TRUE(dev->stats[i].has_value()) << cat->tensors[i].name;
    EXPECT_EQ(CompareTensorStats(*host, *dev->stats[i]), "") << cat->tensors[i].name;
    ++compared;
  }
  EXPECT_EQ(compared, cat->tensors.size());
}

INSTANTIATE_TEST_SUITE_P(Stories260K, CudaTensorPass,
                         ::testing::Values("F32", "F16", "BF16", "Q8_0", "Q4_0"),
                         [](const auto& info) { return info.param; });

// ---- Host halves: always run ----

// The CUDA kernels' element dequantization (the same source, compiled for the host
// here) reproduces ToF32 bit for bit on random blocks of every dtype it handles.
TEST(DequantElement, MatchesToF32BitForBitOnRandomBlocks) {
  const std::pair<DType, int> types[] = {{DType::kF32, cuda::kWF32},   {DType::kF16, cuda::kWF16},
                                         {DType::kBF16, cuda::kWBF16}, {DType::kQ8_0, cuda::kWQ8_0},
                                         {DType::kQ4_0, cuda::kWQ4_0}, {DType::kQ4K, cuda::kWQ4K},
                                         {DType::kQ6K, cuda::kWQ6K}};
  std::mt19937 rng(7);
  for (const auto& [dtype, wtype] : types) {
    const uint64_t n = 4096;
    auto bytes = ByteSize(dtype, n);
    ASSERT_TRUE(bytes.ok());
    std::vector<uint8_t> data(*bytes);
    for (uint8_t& b : data) b = static_cast<uint8_t>(rng());
    std::vector<float> want(n);
    ASSERT_TRUE(ToF32(dtype, data.data(), want.data(), n).ok());
    for (uint64_t i = 0; i < n; ++i) {
      const float got = cuda::DequantAt(data.data(), wtype, i);
      if (std::isnan(want[i])) {
        EXPECT_TRUE(std::isnan(got)) << Name(dtype) << " element " << i;
        continue;
      }
      uint32_t a, b;
      std::memcpy(&a, &want[i], 4);
      std::memcpy(&b, &got, 4);
      ASSERT_EQ(a, b) << Name(dtype) << " element " << i << ": " << want[i] << " vs " << got;
    }
  }
}

// The staged upload's host half: windows of any size, filled one after the other, put
// every piece at its aligned arena offset and zeros in the gaps.
TEST(StagingWindows, ReassembleTheArenaImageForAnyWindowSize) {
  std::mt19937 rng(3);
  std::vector<std::vector<uint8_t>> sources;
  for (uint64_t size : {0u, 1u, 255u, 256u, 257u, 1000u, 3u, 4096u}) {
    sources.emplace_back(size);
    for (uint8_t& b : sources.back()) b = static_cast<uint8_t>(rng() | 1);  // never zero
  }
  std::vector<cuda::UploadPiece> pieces;
  for (const auto& s : sources) pieces.push_back({s.data(), s.size(), 0});
  const uint64_t total = cuda::LayOutArena(pieces);
  std::vector<uint8_t> want(total, 0);
  for (const auto& p : pieces) {
    EXPECT_EQ(p.device_offset % 256, 0u);
    if (p.bytes) std::memcpy(want.data() + p.device_offset, p.host, p.bytes);
  }
  for (uint64_t window : {uint64_t{1}, uint64_t{7}, uint64_t{256}, uint64_t{1000}, total}) {
    std::vector<uint8_t> got(total, 0xEE), buf(window);
    for (uint64_t begin = 0; begin < total; begin += window) {
      const uint64_t end = std::min(total, begin + window);
      cuda::FillStagingWindow(pieces, begin, end, buf.data());
      std::memcpy(got.data() + begin, buf.data(), end - begin);
    }
    EXPECT_EQ(got, want) << "window " << window;
  }
}

TEST(StagingWindows, ParallelFillOfAWindowLargerThanOnePart) {
  std::vector<uint8_t> a((9u << 20) + 5), b(300);
  for (size_t i = 0; i < a.size(); ++i) a[i] = static_cast<uint8_t>(i * 7 + 1);
  for (size_t i = 0; i < b.size(); ++i) b[i] = static_cast<uint8_t>(i + 3);
  std::vector<cuda::UploadPiece> pieces = {{b.data(), b.size(), 0}, {a.data(), a.size(), 0}};
  const uint64_t total = cuda::LayOutArena(pieces);
  std::vector<uint8_t> got(total, 0xEE);
  ASSERT_TRUE(cuda::FillStagingWindowParallel(pieces, 0, total, got.data()).ok());
  EXPECT_TRUE(std::equal(b.begin(), b.end(), got.begin()));
  EXPECT_TRUE(std::equal(a.begin(), a.end(), got.begin() + pieces[1].device_offset));
  EXPECT_EQ(got[b.size()], 0);  // alignment gap
  EXPECT_EQ(got.back(), 0);
}

// Host statistics of the embedding table equal a plain loop over the file's raw floats.
TEST(HostTensorStats, MatchesTheRawBytesOfTheRealCheckpoint) {
  auto cat = OpenCatalog(TestData(kLlama2c));
  ASSERT_TRUE(cat.ok()) << cat.error().ToString();
  const TensorInfo* t = cat->Find("token_embd.weight");
  ASSERT_NE(t, nullptr);
  auto s = HostTensorStats(*t);
  ASSERT_TRUE(s.ok()) << s.error().ToString();
  std::vector<uint8_t> bytes = test::ReadAll(TestData(kLlama2c));
  const size_t n = 512 * 64;
  TensorStats want;
  for (size_t i = 0; i < n; ++i) {
    float v;
    std::memcpy(&v, bytes.data() + 28 + 4 * i, 4);  // after llama2.c's 7-int header
    want.Merge({1, 0, 0, v, double(v) * v, std::fabs(double(v)), v, v});
  }
  EXPECT_EQ(s->finite, n);
  EXPECT_EQ(s->nan + s->inf, 0u);
  EXPECT_EQ(s->min, want.min);
  EXPECT_EQ(s->max, want.max);
  EXPECT_DOUBLE_EQ(s->sum, want.sum);
  EXPECT_DOUBLE_EQ(s->sum_sq, want.sum_sq);
  EXPECT_EQ(CompareTensorStats(*s, want), "");
}

TEST(HostTensorStats, CountsPlantedNanAndInfAndKeepsThemOutOfTheSums) {
  test::TempDir dir;
  std::vector<uint8_t> bytes = test::ReadAll(TestData(kLlama2c));
  auto clean = OpenCatalog(TestData(kLlama2c));
  ASSERT_TRUE(clean.ok());
  auto before = HostTensorStats(*clean->Find("token_embd.weight"));
  ASSERT_TRUE(before.ok());
  float v0, v1;
  std::memcpy(&v0, bytes.data() + 28, 4);
  std::memcpy(&v1, bytes.data() + 32, 4);
  const float nan = std::numeric_limits<float>::quiet_NaN();
  const float inf = std::numeric_limits<float>::infinity();
  std::memcpy(bytes.data() + 28, &nan, 4);
  std::memcpy(bytes.data() + 32, &inf, 4);
  test::WriteAll(dir / "stories260K.bin", bytes);
  test::WriteAll(dir / "tok512.bin", test::ReadAll(TestData("models/stories260K/tok512.bin")));
  auto cat = OpenCatalog(dir / "stories260K.bin");
  ASSERT_TRUE(cat.ok()) << cat.error().ToString();
  auto s = HostTensorStats(*cat->Find("token_embd.weight"));
  ASSERT_TRUE(s.ok());
  EXPECT_EQ(s->nan, 1u);
  EXPECT_EQ(s->inf, 1u);
  EXPECT_EQ(s->finite, before->finite - 2);
  EXPECT_NEAR(s->sum, before->sum - v0 - v1, 1e-9 * before->sum_abs);
}

TEST(HostTensorStats, QuantizedStatisticsFollowTheirSource) {
  test::TempDir dir;
  auto f32 = OpenCatalog(TestData(kLlama2c));
  auto q8 = OpenCatalog(ModelIn(dir, "Q8_0"));
  ASSERT_TRUE(f32.ok() && q8.ok());
  const TensorInfo* a = f32->Find("blk.0.attn_q.weight");
  const TensorInfo* b = q8->Find("blk.0.attn_q.weight");
  ASSERT_TRUE(a && b);
  ASSERT_EQ(b->dtype, DType::kQ8_0);
  auto sa = HostTensorStats(*a);
  auto sb = HostTensorStats(*b);
  ASSERT_TRUE(sa.ok() && sb.ok());
  EXPECT_EQ(sa->finite, sb->finite);
  // Q8_0 keeps each value within half a step of 1/127 of its block's largest magnitude.
  EXPECT_NEAR(sb->sum_sq, sa->sum_sq, 1e-2 * sa->sum_sq);
  EXPECT_NEAR(sb->max, sa->max, 1e-2 * std::fabs(sa->max));
}

TEST(CompareTensorStats, ExactOnCountsAndExtremesTolerantOnSummationOrder) {
  TensorStats h{100, 0, 0, 1.5, 10.0, 20.0, -1.f, 2.f};
  TensorStats d = h;
  d.sum += 1e-12;  // another summation order
  EXPECT_EQ(CompareTensorStats(h, d), "");
  d = h;
  d.max = std::nextafter(2.f, 3.f);
  EXPECT_NE(CompareTensorStats(h, d), "");
  d = h;
  d.nan = 1;
  EXPECT_NE(CompareTensorStats(h, d), "");
  d = h;
  d.sum_sq *= 1.001;
  EXPECT_NE(CompareTensorStats(h, d), "");
}

TEST(CompareLogits, NearTiesAreExcusedRealDifferencesAreNot) {
  std::vector<std::vector<float>> cpu = {{0.f, 5.f, 4.9999f}, {1.f, 2.f, 10.f}};
  auto dev = cpu;
  EXPECT_TRUE(CompareLogits(cpu, dev, 1e-3).passed);
  dev[0] = {0.f, 4.99995f, 5.f};  // flips a near-tie within tolerance
  LogitComparison c = CompareLogits(cpu, dev, 1e-3);
  EXPECT_TRUE(c.passed) << c.why;
  EXPECT_EQ(c.top1_near_ties, 1);
  dev = cpu;
  dev[1][2] = 10.5f;
  c = CompareLogits(cpu, dev, 1e-3);
  EXPECT_FALSE(c.passed);
  EXPECT_NEAR(c.max_abs_error, 0.5, 1e-6);
  dev = cpu;
  dev[1][0] = std::numeric_limits<float>::quiet_NaN();
  c = CompareLogits(cpu, dev, 1e-3);
  EXPECT_FALSE(c.passed);
  EXPECT_EQ(c.nan, 1u);
}

TEST(ParseDeviceList, AllListsAndOutOfRangeIsAUsageError) {
  EXPECT_EQ(*ParseDeviceList("all", 3), (std::vector<int>{0, 1, 2}));
  EXPECT_EQ(*ParseDeviceList("2,0,2", 3), (std::vector<int>{2, 0}));
  for (const char* bad : {"3", "-1", "0,,1", "x", ""}) {
    auto r = ParseDeviceList(bad, 3);
    ASSERT_FALSE(r.ok()) << bad;
    EXPECT_EQ(r.error().code(), ErrorCode::kUsage);
  }
}

TEST(CudaAvailability, WithoutADeviceTheReasonIsPlain) {
  auto devices = ListCudaDevices();
  if (devices.ok()) GTEST_SKIP() << devices->size() << " CUDA device(s) visible";
  const std::string why = devices.error().message();
  EXPECT_TRUE(why.rfind("no CUDA device visible: ", 0) == 0 ||
              why.rfind("built without CUDA", 0) == 0)
      << why;
  auto m = LoadLlamaModel(TestData(kLlama2c));
  ASSERT_TRUE(m.ok());
  auto fwd = CudaForward::Create(*m, 0, 8);
  ASSERT_FALSE(fwd.ok());
  EXPECT_EQ(fwd.error().code(), ErrorCode::kUnsupported);
}

// gpu-check on a model file without a forward pass runs the generic tensor pass: host
// statistics always, "cpu-only" (3) here without a GPU, 0 with one.
TEST(GpuCheckCli, ArchitectureWithoutForwardPassGetsTheTensorPass) {
  auto r = test::RunCli(
      {"gpu-check", TestData("third_party/llama.cpp/ggml-vocab-gpt-2.gguf"), "--json"});
  const bool gpu = NoCudaReason().empty();
  ASSERT_EQ(r.exit_code, gpu ? 0 : 3) << r.err;
  auto j = nlohmann::json::parse(r.out);
  EXPECT_EQ(j["mode"], "tensors");
  EXPECT_EQ(j["passes"][0]["device"], "cpu");
  EXPECT_EQ(j["passes"][0]["nan"], 0);
}

TEST(GpuCheckCli, TensorsFlagOnTheRealModelCountsEveryTensor) {
  auto r = test::RunCli({"gpu-check", TestData(kLlama2c), "--tensors", "--json"});
  const bool gpu = NoCudaReason().empty();
  ASSERT_EQ(r.exit_code, gpu ? 0 : 3) << r.err;
  auto j = nlohmann::json::parse(r.out);
  auto cat = OpenCatalog(TestData(kLlama2c));
  ASSERT_TRUE(cat.ok());
  EXPECT_EQ(j["tensors"].size(), cat->tensors.size());
  EXPECT_EQ(j["tensors"][0]["host"]["finite"], cat->tensors[0].elements());
  if (gpu) {
    EXPECT_EQ(j["passes"][1]["mismatches"], 0);
  }
}

TEST(GpuCheckCli, DevicePassesPassOnEveryVisibleGpu) {
  SKIP_WITHOUT_CUDA();
  auto r = test::RunCli({"gpu-check", TestData(kLlama2c), "--tokens", "16", "--json"});
  ASSERT_EQ(r.exit_code, 0) << r.out << r.err;
  auto j = nlohmann::json::parse(r.out);
  ASSERT_GE(j["passes"].size(), 2u);
  EXPECT_EQ(j["passes"][1]["token_ids"], j["passes"][0]["token_ids"]);
  EXPECT_EQ(j["passes"][1]["text"], j["passes"][0]["text"]);
  EXPECT_EQ(j["result"], "passed");
}

}  // namespace
}  // namespace wg
