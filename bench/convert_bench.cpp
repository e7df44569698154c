// Throughput of wg::Convert on one core, in input bytes per second: the casts and
// quantizations `weightgate convert` spends its time in. Each runs with the SIMD paths
// on and off (the second argument), so the gain from AVX2/F16C is visible.
//
//   build/bin/convert_bench --benchmark_min_time=0.5
#include <benchmark/benchmark.h>

#include <cstring>
#include <random>
#include <vector>

#include "weightgate/core/half.h"
#include "weightgate/core/quant.h"

namespace {

constexpr uint64_t kElements = 1 << 22;  // 4 Mi elements: 16 MiB of f32, beyond L2

// Normal-distributed weights in `dtype`, as a model's would be.
const std::vector<uint8_t>& Input(wg::DType dtype) {
  static std::vector<uint8_t> f32, bf16, q8;
  if (f32.empty()) {
    std::mt19937 rng(1);
    std::normal_distribution<float> normal(0.0f, 0.02f);
    f32.resize(kElements * 4);
    bf16.resize(kElements * 2);
    for (uint64_t i = 0; i < kElements; ++i) {
      const float v = normal(rng);
      std::memcpy(f32.data() + 4 * i, &v, 4);
      const uint16_t b = wg::F32ToBF16(v);
      std::memcpy(bf16.data() + 2 * i, &b, 2);
    }
    q8.resize(*wg::ByteSize(wg::DType::kQ8_0, kElements));
    (void)wg::Convert(wg::DType::kF32, f32.data(), wg::DType::kQ8_0, q8.data(), kElements);
  }
  if (dtype == wg::DType::kQ8_0) return q8;
  return dtype == wg::DType::kBF16 ? bf16 : f32;
}

void BM_Convert(benchmark::State& state, wg::DType from, wg::DType to) {
  const bool simd = state.range(0) != 0;
  if (simd && !wg::SimdAvailable()) {
    state.SkipWithError("no AVX2/F16C on this CPU");
    return;
  }
  wg::SetSimdForTesting(simd);
  const std::vector<uint8_t>& src = Input(from);
  std::vector<uint8_t> dst(*wg::ByteSize(to, kElements));
  for (auto _ : state) {
    wg::Status s = wg::Convert(from, src.data(), to, dst.data(), kElements);
    if (!s.ok()) state.SkipWithError(s.error().ToString().c_str());
    benchmark::DoNotOptimize(dst.data());
    benchmark::ClobberMemory();
  }
  wg::SetSimdForTesting(true);
  state.SetBytesProcessed(static_cast<int64_t>(state.iterations() * src.size()));
  state.SetLabel(simd ? "simd" : "scalar");
}

BENCHMARK_CAPTURE(BM_Convert, BF16_to_F16, wg::DType::kBF16, wg::DType::kF16)->Arg(1)->Arg(0);
BENCHMARK_CAPTURE(BM_Convert, F32_to_F16, wg::DType::kF32, wg::DType::kF16)->Arg(1)->Arg(0);
BENCHMARK_CAPTURE(BM_Convert, BF16_to_F32, wg::DType::kBF16, wg::DType::kF32)->Arg(1)->Arg(0);
BENCHMARK_CAPTURE(BM_Convert, F32_to_BF16, wg::DType::kF32, wg::DType::kBF16)->Arg(1);
BENCHMARK_CAPTURE(BM_Convert, F32_to_Q8_0, wg::DType::kF32, wg::DType::kQ8_0)->Arg(1)->Arg(0);
BENCHMARK_CAPTURE(BM_Convert, F32_to_Q4_0, wg::DType::kF32, wg::DType::kQ4_0)->Arg(1)->Arg(0);
BENCHMARK_CAPTURE(BM_Convert, BF16_to_Q8_0, wg::DType::kBF16, wg::DType::kQ8_0)->Arg(1)->Arg(0);
BENCHMARK_CAPTURE(BM_Convert, Q8_0_to_F32, wg::DType::kQ8_0, wg::DType::kF32)->Arg(1);

}  // namespace

BENCHMARK_MAIN();
