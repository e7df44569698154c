// Hashing throughput per engine and per core: OpenSSL SHA-256 against the multi-buffer
// engines, BLAKE3 at each SIMD level on one thread and its tree split over every core.
// Inputs live in memory so these numbers are the engines alone (bench/hash_compare.sh
// measures whole folders on disk against other tools).
#include <benchmark/benchmark.h>

#include <random>
#include <vector>

#include "weightgate/core/hash.h"
#include "weightgate/core/hash_engine.h"
#include "weightgate/core/thread_pool.h"

namespace wg {
namespace {

const std::vector<uint8_t>& Data() {
  static const std::vector<uint8_t> data = [] {
    std::vector<uint8_t> v(256u << 20);
    std::mt19937_64 rng(1);
    for (size_t i = 0; i < v.size(); i += 8) {
      uint64_t x = rng();
      for (int b = 0; b < 8; ++b) v[i + b] = static_cast<uint8_t>(x >> (8 * b));
    }
    return v;
  }();
  return data;
}

// 16 messages of 8 MiB each: every lane of the widest engine busy for the whole run.
void BM_Sha256(benchmark::State& state, Sha256Engine engine) {
  if (!CpuSupports(engine)) {
    state.SkipWithError("engine not supported on this CPU");
    return;
  }
  std::vector<Bytes> msgs;
  for (size_t i = 0; i < 16; ++i) msgs.push_back(Bytes(Data()).subspan(i * (8u << 20), 8u << 20));
  std::vector<Digest> out(msgs.size());
  for (auto _ : state) {
    Sha256Many(msgs, out, engine);
    benchmark::DoNotOptimize(out.data());
  }
  state.SetBytesProcessed(state.iterations() * 16 * (8 << 20));
}
BENCHMARK_CAPTURE(BM_Sha256, openssl, Sha256Engine::kOpenSsl)->Unit(benchmark::kMillisecond);
BENCHMARK_CAPTURE(BM_Sha256, avx2_x8, Sha256Engine::kMultiBufferAvx2)
    ->Unit(benchmark::kMillisecond);
BENCHMARK_CAPTURE(BM_Sha256, avx512_x16, Sha256Engine::kMultiBufferAvx512)
    ->Unit(benchmark::kMillisecond);

// One 64 MiB message: OpenSSL against weightgate's own SHA-NI code, which is what the
// multi-buffer driver hands its last few messages to.
void BM_Sha256One(benchmark::State& state, Sha256Engine engine) {
  if (!CpuSupports(engine) || (engine != Sha256Engine::kOpenSsl && !CpuHasShaExtensions())) {
    state.SkipWithError("engine or SHA-NI not supported on this CPU");
    return;
  }
  Bytes msg = Bytes(Data()).first(64u << 20);
  Digest out;
  for (auto _ : state) {
    Sha256Many(std::span<const Bytes>(&msg, 1), std::span<Digest>(&out, 1), engine);
    benchmark::DoNotOptimize(out);
  }
  state.SetBytesProcessed(state.iterations() * msg.size());
}
BENCHMARK_CAPTURE(BM_Sha256One, openssl, Sha256Engine::kOpenSsl)->Unit(benchmark::kMillisecond);
BENCHMARK_CAPTURE(BM_Sha256One, weightgate_shani, Sha256Engine::kMultiBufferAvx512)
    ->Unit(benchmark::kMillisecond);

// Many small messages (4 KiB): the per-message padding and lane refills dominate.
void BM_Sha256Small(benchmark::State& state, Sha256Engine engine) {
  if (!CpuSupports(engine)) {
    state.SkipWithError("engine not supported on this CPU");
    return;
  }
  std::vector<Bytes> msgs;
  for (size_t i = 0; i < 4096; ++i) msgs.push_back(Bytes(Data()).subspan(i * 4096, 4096 - i % 7));
  std::vector<Digest> out(msgs.size());
  size_t bytes = 0;
  for (auto m : msgs) bytes += m.size();
  for (auto _ : state) {
    Sha256Many(msgs, out, engine);
    benchmark::DoNotOptimize(out.data());
  }
  state.SetBytesProcessed(state.iterations() * bytes);
}
BENCHMARK_CAPTURE(BM_Sha256Small, openssl, Sha256Engine::kOpenSsl)->Unit(benchmark::kMillisecond);
BENCHMARK_CAPTURE(BM_Sha256Small, avx2_x8, Sha256Engine::kMultiBufferAvx2)
    ->Unit(benchmark::kMillisecond);
BENCHMARK_CAPTURE(BM_Sha256Small, avx512_x16, Sha256Engine::kMultiBufferAvx512)
    ->Unit(benchmark::kMillisecond);

// One 128 MiB message, one thread.
void BM_Blake3(benchmark::State& state, SimdLevel simd) {
  if (!CpuSupports(simd)) {
    state.SkipWithError("SIMD level not supported on this CPU");
    return;
  }
  Bytes data = Bytes(Data()).first(128u << 20);
  for (auto _ : state) {
    auto h = NewBlake3Hasher(simd);
    h->Update(data);
    benchmark::DoNotOptimize(h->Finish());
  }
  state.SetBytesProcessed(state.iterations() * data.size());
}
BENCHMARK_CAPTURE(BM_Blake3, portable, SimdLevel::kPortable)->Unit(benchmark::kMillisecond);
BENCHMARK_CAPTURE(BM_Blake3, avx2, SimdLevel::kAvx2)->Unit(benchmark::kMillisecond);
BENCHMARK_CAPTURE(BM_Blake3, avx512, SimdLevel::kAvx512)->Unit(benchmark::kMillisecond);

// The same message split into 1 MiB subtrees over every core.
void BM_Blake3Tree(benchmark::State& state) {
  Bytes data = Bytes(Data()).first(256u << 20);
  for (auto _ : state) {
    auto h = NewBlake3Hasher(SimdLevel::kAuto, &ThreadPool::Shared());
    h->Update(data);
    benchmark::DoNotOptimize(h->Finish());
  }
  state.SetBytesProcessed(state.iterations() * data.size());
  state.counters["threads"] = static_cast<double>(ThreadPool::Shared().size());
}
BENCHMARK(BM_Blake3Tree)->Unit(benchmark::kMillisecond)->UseRealTime();

}  // namespace
}  // namespace wg

BENCHMARK_MAIN();
