// Multi-buffer SHA-256 driver: keeps L lanes busy with messages of any lengths.
//
// Each lane walks its message's whole blocks straight from the caller's memory, then one or
// two padding blocks built in a per-lane tail buffer (the last partial block, 0x80, zeros and
// the 64-bit big-endian bit length, FIPS 180-4 §5.1.1). The driver runs the kernel for as many
// blocks as every busy lane still has in its current phase; a lane that finishes takes the
// next message. Idle lanes read the first busy lane's blocks and their results are dropped.
#include "sha256_mb.h"

#include <openssl/evp.h>

#include <algorithm>
#include <cstdlib>
#include <cstring>
#include <string_view>
#include <vector>

#include "sha256_mb_internal.h"
#include "weightgate/core/hash_engine.h"

namespace wg {
namespace {

using namespace sha256mb;

// Blocks per kernel call at most, so long messages still hand back control regularly.
constexpr size_t kMaxStep = 1 << 14;
// Mapped pages are released every this many bytes of a message.
constexpr uint64_t kReleaseWindow = 64ull << 20;

Digest OpenSslSha256(Bytes m) {
  Digest d;
  d.algo = HashAlgo::kSha256;
  unsigned int len = 0;
  EVP_Digest(m.data(), m.size(), d.bytes.data(), &len, EVP_sha256(), nullptr);
  return d;
}

void StoreDigest(const uint32_t st[8], Digest* d) {
  d->algo = HashAlgo::kSha256;
  for (int w = 0; w < 8; ++w)
    for (int b = 0; b < 4; ++b) d->bytes[4 * w + b] = static_cast<uint8_t>(st[w] >> (24 - 8 * b));
}

// Hands consumed pages of a mapped file back, every kReleaseWindow bytes and at the end.
void MaybeRelease(Progress& p, bool all) {
  const Job& job = *p.job;
  if (!job.file) return;
  uint64_t done = all ? job.data.size() : static_cast<uint64_t>(p.ptr - job.data.data());
  if (done - p.released < (all ? 1 : kReleaseWindow)) return;
  job.file->Release(job.file_offset + p.released, done - p.released);
  p.released = done;
}

// Finishes a message on SHA-NI from wherever the lanes left it.
void FinishSingle(Progress& p) {
  while (!p.in_tail && p.left > 0) {
    size_t n = std::min<size_t>(p.left, kReleaseWindow / 64);
    BlocksShaNi(p.state, p.ptr, n);
    p.ptr += 64 * n;
    p.left -= n;
    MaybeRelease(p, p.left == 0);
  }
  if (p.in_tail)
    BlocksShaNi(p.state, p.tail + p.tail_pos, p.left);
  else
    BlocksShaNi(p.state, p.tail, p.tail_blocks);
  StoreDigest(p.state, p.job->out);
}

template <size_t L>
class Driver {
 public:
  Driver(KernelFn kernel, JobQueue& queue, size_t single_at)
      : kernel_(kernel), queue_(queue), single_at_(single_at) {}

  void Run() {
    for (size_t l = 0; l < L; ++l) Refill(l);
    for (;;) {
      size_t step = kMaxStep, busy = 0;
      int first_busy = -1;
      for (size_t l = 0; l < L; ++l) {
        if (!lanes_[l].job) continue;
        if (first_busy < 0) first_busy = static_cast<int>(l);
        ++busy;
        step = std::min(step, lanes_[l].left);
      }
      if (busy == 0) return;
      if (drained_ && busy <= single_at_) {
        for (size_t l = 0; l < L; ++l)
          if (lanes_[l].job) queue_.AddStraggler(Detach(l));
        return;
      }
      const uint8_t* ptrs[L];
      for (size_t l = 0; l < L; ++l)
        ptrs[l] = lanes_[l].job ? lanes_[l].ptr : lanes_[first_busy].ptr;
      kernel_(state_, ptrs, step);
      for (size_t l = 0; l < L; ++l) {
        Progress& lane = lanes_[l];
        if (!lane.job) continue;
        lane.ptr += 64 * step;
        lane.left -= step;
        if (!lane.in_tail) MaybeRelease(lane, false);
        if (lane.left > 0) continue;
        if (!lane.in_tail) {
          MaybeRelease(lane, true);
          lane.in_tail = true;
          lane.ptr = lane.tail;
          lane.left = lane.tail_blocks;
        } else {
          uint32_t st[8];
          for (int w = 0; w < 8; ++w) st[w] = state_[w * L + l];
          StoreDigest(st, lane.job->out);
          Refill(l);
        }
      }
    }
  }

 private:
  void Refill(size_t l) {
    Progress& lane = lanes_[l];
    lane.job = drained_ ? nullptr : queue_.Next();
    if (!lane.job) {
      drained_ = true;
      return;
    }
    Bytes m = lane.job->data;
    size_t whole = m.size() / 64, rest = m.size() % 64;
    lane.tail_blocks = rest < 56 ? 1 : 2;
    std::memset(lane.tail, 0, sizeof lane.tail);
    if (rest) std::memcpy(lane.tail, m.data() + 64 * whole, rest);
    lane.tail[rest] = 0x80;
    uint64_t bits = static_cast<uint64_t>(m.size()) * 8;
    for (int i = 0; i < 8; ++i)
      lane.tail[64 * lane.tail_blocks - 1 - i] = static_cast<uint8_t>(bits >> (8 * i));
    for (int w = 0; w < 8; ++w) state_[w * L + l] = kIv[w];
    lane.in_tail = whole == 0;
    lane.ptr = whole ? m.data() : lane.tail;
    lane.left = whole ? whole : lane.tail_blocks;
    lane.released = 0;
  }

  // Lane l's message as a self-contained Progress (its chaining state gathered from the
  // lanes, its tail pointer moved into the copy); the lane becomes idle.
  Progress Detach(size_t l) {
    Progress p = lanes_[l];
    for (int w = 0; w < 8; ++w) p.state[w] = state_[w * L + l];
    if (p.in_tail) p.tail_pos = static_cast<size_t>(lanes_[l].ptr - lanes_[l].tail);
    lanes_[l].job = nullptr;
    return p;
  }

  KernelFn kernel_;
  JobQueue& queue_;
  size_t single_at_;
  bool drained_ = false;
  Progress lanes_[L];
  alignas(64) uint32_t state_[8 * L];
};

Sha256Engine ResolveAuto() {
  if (const char* env = std::getenv("WG_SHA256_ENGINE")) {
    std::string_view v(env);
    if (v == "openssl") return Sha256Engine::kOpenSsl;
    if (v == "avx2" && CpuSupports(Sha256Engine::kMultiBufferAvx2))
      return Sha256Engine::kMultiBufferAvx2;
    if (v == "avx512" && CpuSupports(Sha256Engine::kMultiBufferAvx512))
      return Sha256Engine::kMultiBufferAvx512;
  }
  // Measured choice, see docs/hashing.md: 16 AVX-512 lanes beat SHA-NI (and the driver hands
  // stragglers to SHA-NI); 8 AVX2 lanes do not, so with SHA-NI and no AVX-512 OpenSSL wins.
  if (CpuSupports(Sha256Engine::kMultiBufferAvx512)) return Sha256Engine::kMultiBufferAvx512;
  if (CpuHasShaExtensions()) return Sha256Engine::kOpenSsl;
  if (CpuSupports(Sha256Engine::kMultiBufferAvx2)) return Sha256Engine::kMultiBufferAvx2;
  return Sha256Engine::kOpenSsl;
}

}  // namespace

std::string_view Sha256EngineName(Sha256Engine e) {
  switch (e) {
    case Sha256Engine::kAuto:
      return "auto";
    case Sha256Engine::kOpenSsl:
      return "openssl";
    case Sha256Engine::kMultiBufferAvx2:
      return "avx2-x8";
    case Sha256Engine::kMultiBufferAvx512:
      return "avx512-x16";
  }
  return "?";
}

bool CpuSupports(Sha256Engine e) {
  switch (e) {
    case Sha256Engine::kAuto:
    case Sha256Engine::kOpenSsl:
      return true;
    case Sha256Engine::kMultiBufferAvx2:
      return CpuSupports(SimdLevel::kAvx2);
    case Sha256Engine::kMultiBufferAvx512:
      return CpuSupports(SimdLevel::kAvx512);
  }
  return false;
}

Sha256Engine Sha256AutoEngine() {
  static const Sha256Engine e = ResolveAuto();
  return e;
}

size_t Sha256Lanes(Sha256Engine e) {
  if (e == Sha256Engine::kAuto) e = Sha256AutoEngine();
  switch (e) {
    case Sha256Engine::kMultiBufferAvx2:
      return 8;
    case Sha256Engine::kMultiBufferAvx512:
      return 16;
    default:
      return 1;
  }
}

void Sha256Many(std::span<const Bytes> messages, std::span<Digest> out, Sha256Engine engine,
                bool straggler_single) {
  if (engine == Sha256Engine::kAuto) engine = Sha256AutoEngine();
  if (!CpuSupports(engine)) engine = Sha256Engine::kOpenSsl;
  if (engine == Sha256Engine::kOpenSsl) {
    for (size_t i = 0; i < messages.size(); ++i) out[i] = OpenSslSha256(messages[i]);
    return;
  }
  std::vector<Job> jobs(messages.size());
  for (size_t i = 0; i < messages.size(); ++i) jobs[i] = {messages[i], &out[i]};
  JobQueue queue(jobs);
  RunMultiBuffer(engine, queue, straggler_single);
}

namespace sha256mb {

void RunMultiBuffer(Sha256Engine engine, JobQueue& queue, bool straggler_single) {
  // Lane counts at or below which SHA-NI on the remaining messages one by one beats the
  // lanes (measured, docs/hashing.md): AVX-512 x16 runs ~2.1x SHA-NI's rate on this CPU
  // family, so below 8 busy lanes; AVX2 x8 runs slower than SHA-NI even when full.
  bool ni = straggler_single && CpuHasShaExtensions();
  queue.DriverStarted();
  if (engine == Sha256Engine::kMultiBufferAvx512)
    Driver<16>(KernelAvx512, queue, ni ? 8 : 0).Run();
  else
    Driver<8>(KernelAvx2, queue, ni ? 8 : 0).Run();
  queue.DriverStopped();
  while (auto p = queue.TakeStraggler()) FinishSingle(*p);
}

void JobQueue::DriverStarted() {
  std::lock_guard<std::mutex> lock(mu_);
  ++running_;
}

void JobQueue::DriverStopped() {
  std::lock_guard<std::mutex> lock(mu_);
  if (--running_ == 0) cv_.notify_all();
}

void JobQueue::AddStraggler(const Progress& p) {
  std::lock_guard<std::mutex> lock(mu_);
  stragglers_.push_back(p);
  cv_.notify_one();
}

std::optional<Progress> JobQueue::TakeStraggler() {
  std::unique_lock<std::mutex> lock(mu_);
  cv_.wait(lock, [&] { return !stragglers_.empty() || running_ == 0; });
  if (stragglers_.empty()) return std::nullopt;
  // Largest remainder first, so that threads finish together.
  auto it = std::max_element(stragglers_.begin(), stragglers_.end(),
                             [](const Progress& a, const Progress& b) {
                               return (a.in_tail ? 0 : a.left) < (b.in_tail ? 0 : b.left);
                             });
  Progress p = *it;
  stragglers_.erase(it);
  return p;
}

}  // namespace sha256mb
}  // namespace wg
