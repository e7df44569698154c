// The hashing engines behind hash.h and hash_files.h, exposed so that tests and benchmarks
// can pin each one and compare it with its reference.
//
// SHA-256 has two engines: OpenSSL (one message at a time; uses the CPU's SHA extensions
// where present) and a multi-buffer SIMD engine that runs 8 (AVX2) or 16 (AVX-512)
// independent messages through one instruction stream. BLAKE3 is written from its
// specification with portable, AVX2 (8 chunks at once) and AVX-512 (16) compression, and
// splits one large input into power-of-two subtrees hashed on every core.
// docs/hashing.md explains the design and the measured choices.
#pragma once

#include <memory>
#include <span>
#include <string_view>

#include "weightgate/core/hash.h"

namespace wg {

class ThreadPool;

// Instruction set of an engine. kAuto picks the fastest this CPU runs.
enum class SimdLevel { kAuto, kPortable, kAvx2, kAvx512 };
std::string_view SimdLevelName(SimdLevel s);
// Whether this CPU and OS run the level (kAuto and kPortable always do).
bool CpuSupports(SimdLevel s);
// The widest level this CPU runs.
SimdLevel BestSimdLevel();
// CPU has the SHA-256 instructions (SHA-NI), which OpenSSL uses.
bool CpuHasShaExtensions();

// A streaming BLAKE3 hasher. With a pool, large updates hash 1 MiB subtrees on all of its
// threads; without, everything runs on the caller's thread.
std::unique_ptr<Hasher> NewBlake3Hasher(SimdLevel simd = SimdLevel::kAuto,
                                        ThreadPool* pool = nullptr);

// SHA-256 engine choice. kOpenSsl hashes one message at a time with OpenSSL.
enum class Sha256Engine { kAuto, kOpenSsl, kMultiBufferAvx2, kMultiBufferAvx512 };
std::string_view Sha256EngineName(Sha256Engine e);
bool CpuSupports(Sha256Engine e);
// What kAuto means on this CPU (see docs/hashing.md for the measurements behind it).
// The environment variable WG_SHA256_ENGINE=openssl|avx2|avx512 overrides it.
Sha256Engine Sha256AutoEngine();
// Messages per instruction stream of a multi-buffer engine (1 for OpenSSL).
size_t Sha256Lanes(Sha256Engine e);

// Hashes messages[i] into out[i] on the calling thread with the engine (resolved if kAuto).
void Sha256Many(std::span<const Bytes> messages, std::span<Digest> out,
                Sha256Engine engine = Sha256Engine::kAuto);

}  // namespace wg
