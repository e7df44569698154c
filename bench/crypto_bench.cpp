// Gating cost: chunked AES-256-GCM encryption and decryption against a plain copy of the
// same bytes, in the same run. Two levels:
//   *Memory: 1 MiB chunks from one buffer into another (copy = memcpy; the crypto runs
//            chunk-parallel on the shared thread pool, as the library does);
//   *File:   file to file through AtomicFile (copy = the same AtomicFile path without crypto),
//            as `seal`/`unseal` do it.
// Target (issue 5): encrypt and decrypt >= 0.7x copy throughput.
//
//   build/bin/crypto_bench --benchmark_min_time=1
#include <benchmark/benchmark.h>

#include <cstring>
#include <filesystem>
#include <random>
#include <vector>

#include "weightgate/core/file.h"
#include "weightgate/core/thread_pool.h"
#include "weightgate/policy/chunked_aead.h"

namespace {

constexpr size_t kBytes = 256u << 20;

const std::vector<uint8_t>& Plain() {
  static std::vector<uint8_t> v = [] {
    std::vector<uint8_t> b(kBytes);
    std::mt19937_64 rng(1);
    for (size_t i = 0; i + 8 <= b.size(); i += 8) {
      uint64_t x = rng();
      std::memcpy(b.data() + i, &x, 8);
    }
    return b;
  }();
  return v;
}

wg::policy::Key256 Key() {
  wg::policy::Key256 k;
  k.fill(0x42);
  return k;
}

std::string Dir() {
  static std::string d = [] {
    auto p = std::filesystem::temp_directory_path() / "wg_crypto_bench";
    std::filesystem::create_directories(p);
    return p.string();
  }();
  return d;
}

const std::string& PlainFile() {
  static std::string path = [] {
    std::string p = Dir() + "/plain.bin";
    std::filesystem::remove(p);
    auto s = wg::WriteFileAtomically(
        p, std::string_view(reinterpret_cast<const char*>(Plain().data()), kBytes));
    if (!s.ok()) std::abort();
    return p;
  }();
  return path;
}

const std::string& EncryptedFile() {
  static std::string path = [] {
    std::string p = Dir() + "/enc.wgenc";
    std::filesystem::remove(p);
    if (!wg::policy::EncryptFile(PlainFile(), p, Key()).ok()) std::abort();
    return p;
  }();
  return path;
}

void BM_CopyMemory(benchmark::State& state) {
  const auto& in = Plain();
  std::vector<uint8_t> out(in.size());
  for (auto _ : state) {
    std::memcpy(out.data(), in.data(), in.size());
    benchmark::DoNotOptimize(out.data());
  }
  state.SetBytesProcessed(int64_t(state.iterations()) * int64_t(kBytes));
}

// Chunk-parallel seal/open into memory via the public reader; encryption through the
// same GCM chunking by encrypting to a file is measured below.
void BM_DecryptMemory(benchmark::State& state) {
  auto m = wg::MappedFile::Open(EncryptedFile());
  auto r = wg::policy::AeadReader::Open((*m)->bytes(), Key(), "enc");
  std::vector<uint8_t> out(kBytes + wg::policy::kDefaultChunkSize);
  for (auto _ : state) {
    auto s = wg::ThreadPool::Shared().ParallelFor(r->chunk_count(), [&](size_t i) -> wg::Status {
      auto n = r->DecryptChunk(i, out.data() + i * wg::policy::kDefaultChunkSize);
      if (!n.ok()) return n.error();
      return wg::Ok();
    });
    if (!s.ok()) state.SkipWithError("decrypt failed");
  }
  state.SetBytesProcessed(int64_t(state.iterations()) * int64_t(kBytes));
}

void BM_CopyFile(benchmark::State& state) {
  std::string out = Dir() + "/copy.bin";
  auto in = wg::MappedFile::Open(PlainFile());
  for (auto _ : state) {
    std::filesystem::remove(out);
    auto f = wg::AtomicFile::Create(out);
    if (!(*f)->Append((*in)->bytes()).ok() || !(*f)->Commit().ok())
      state.SkipWithError("copy failed");
  }
  state.SetBytesProcessed(int64_t(state.iterations()) * int64_t(kBytes));
}

void BM_EncryptFile(benchmark::State& state) {
  std::string out = Dir() + "/enc-out.wgenc";
  for (auto _ : state) {
    std::filesystem::remove(out);
    if (!wg::policy::EncryptFile(PlainFile(), out, Key()).ok())
      state.SkipWithError("encrypt failed");
  }
  state.SetBytesProcessed(int64_t(state.iterations()) * int64_t(kBytes));
}

void BM_DecryptFile(benchmark::State& state) {
  std::string out = Dir() + "/dec-out.bin";
  for (auto _ : state) {
    std::filesystem::remove(out);
    if (!wg::policy::DecryptFile(EncryptedFile(), out, Key()).ok())
      state.SkipWithError("decrypt failed");
  }
  state.SetBytesProcessed(int64_t(state.iterations()) * int64_t(kBytes));
}

BENCHMARK(BM_CopyMemory)->Unit(benchmark::kMillisecond)->UseRealTime();
BENCHMARK(BM_DecryptMemory)->Unit(benchmark::kMillisecond)->UseRealTime();
BENCHMARK(BM_CopyFile)->Unit(benchmark::kMillisecond)->UseRealTime();
BENCHMARK(BM_EncryptFile)->Unit(benchmark::kMillisecond)->UseRealTime();
BENCHMARK(BM_DecryptFile)->Unit(benchmark::kMillisecond)->UseRealTime();

}  // namespace

BENCHMARK_MAIN();
