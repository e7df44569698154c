// Multi-buffer SHA-256 driver: keeps L lanes busy with messages of any lengths.
//
// Each lane walks its message's whole blocks straight from the caller's memory, then one or
// two padding blocks built in a per-lane tail buffer (the last partial block, 0x80, zeros and
// the 64-bit big-endian bit length, FIPS 180-4 §5.1.1). The driver runs the kernel for as many
// blocks as every busy lane still has in its current phase; a lane that finishes takes the
// next message. Idle lanes read the first busy lane's blocks and their results are dropped.
#include <openssl/evp.h>

#include <algorithm>
#include <cstdlib>
#include <cstring>
#include <string_view>

#include "sha256_mb_internal.h"
#include "weightgate/core/hash_engine.h"

namespace wg {
namespace {

using namespace sha256mb;

// Blocks per kernel call at most, so long messages still hand back control regularly.
constexpr size_t kMaxStep = 1 << 14;

Digest OpenSslSha256(Bytes m) {
  Digest d;
  d.algo = HashAlgo::kSha256;
  unsigned int len = 0;
  EVP_Digest(m.data(), m.size(), d.bytes.data(), &len, EVP_sha256(), nullptr);
  return d;
}

template <size_t L>
class Driver {
 public:
  Driver(KernelFn kernel, std::span<const Bytes> msgs, std::span<Digest> out)
      : kernel_(kernel), msgs_(msgs), out_(out) {}

  void Run() {
    for (size_t l = 0; l < L; ++l) Refill(l);
    for (;;) {
      size_t step = kMaxStep;
      int first_busy = -1;
      for (size_t l = 0; l < L; ++l) {
        if (!lanes_[l].busy) continue;
        if (first_busy < 0) first_busy = static_cast<int>(l);
        step = std::min(step, lanes_[l].left);
      }
      if (first_busy < 0) return;
      const uint8_t* ptrs[L];
      for (size_t l = 0; l < L; ++l)
        ptrs[l] = lanes_[l].busy ? lanes_[l].ptr : lanes_[first_busy].ptr;
      kernel_(state_, ptrs, step);
      for (size_t l = 0; l < L; ++l) {
        Lane& lane = lanes_[l];
        if (!lane.busy) continue;
        lane.ptr += 64 * step;
        lane.left -= step;
        if (lane.left > 0) continue;
        if (!lane.in_tail) {
          lane.in_tail = true;
          lane.ptr = lane.tail;
          lane.left = lane.tail_blocks;
        } else {
          Finish(l);
          Refill(l);
        }
      }
    }
  }

 private:
  struct Lane {
    bool busy = false;
    bool in_tail = false;
    size_t msg = 0;
    const uint8_t* ptr = nullptr;
    size_t left = 0;  // blocks left in the current phase
    size_t tail_blocks = 0;
    uint8_t tail[128];
  };

  void Refill(size_t l) {
    Lane& lane = lanes_[l];
    lane.busy = false;
    if (next_ >= msgs_.size()) return;
    lane.msg = next_++;
    Bytes m = msgs_[lane.msg];
    size_t whole = m.size() / 64, rest = m.size() % 64;
    lane.tail_blocks = rest < 56 ? 1 : 2;
    std::memset(lane.tail, 0, sizeof lane.tail);
    if (rest) std::memcpy(lane.tail, m.data() + 64 * whole, rest);
    lane.tail[rest] = 0x80;
    uint64_t bits = static_cast<uint64_t>(m.size()) * 8;
    for (int i = 0; i < 8; ++i)
      lane.tail[64 * lane.tail_blocks - 1 - i] = static_cast<uint8_t>(bits >> (8 * i));
    for (int w = 0; w < 8; ++w) state_[w * L + l] = kIv[w];
    lane.busy = true;
    lane.in_tail = whole == 0;
    lane.ptr = whole ? m.data() : lane.tail;
    lane.left = whole ? whole : lane.tail_blocks;
  }

  void Finish(size_t l) {
    Digest& d = out_[lanes_[l].msg];
    d.algo = HashAlgo::kSha256;
    for (int w = 0; w < 8; ++w) {
      uint32_t v = state_[w * L + l];
      for (int b = 0; b < 4; ++b) d.bytes[4 * w + b] = static_cast<uint8_t>(v >> (24 - 8 * b));
    }
  }

  KernelFn kernel_;
  std::span<const Bytes> msgs_;
  std::span<Digest> out_;
  size_t next_ = 0;
  Lane lanes_[L];
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
  // Measured choice, see docs/hashing.md.
  if (CpuHasShaExtensions()) return Sha256Engine::kOpenSsl;
  if (CpuSupports(Sha256Engine::kMultiBufferAvx512)) return Sha256Engine::kMultiBufferAvx512;
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

void Sha256Many(std::span<const Bytes> messages, std::span<Digest> out, Sha256Engine engine) {
  if (engine == Sha256Engine::kAuto) engine = Sha256AutoEngine();
  if (!CpuSupports(engine)) engine = Sha256Engine::kOpenSsl;
  switch (engine) {
    case Sha256Engine::kMultiBufferAvx2:
      Driver<8>(KernelAvx2, messages, out).Run();
      return;
    case Sha256Engine::kMultiBufferAvx512:
      Driver<16>(KernelAvx512, messages, out).Run();
      return;
    default:
      for (size_t i = 0; i < messages.size(); ++i) out[i] = OpenSslSha256(messages[i]);
  }
}

}  // namespace wg
