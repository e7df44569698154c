// AVX2 + F16C float conversion kernels; see float_simd.h. Compiled for the generic
// x86-64 baseline: only these functions carry the target attribute, and they run only
// after a runtime check, so the binary still starts on CPUs without AVX2.
#include "float_simd.h"

#include <atomic>

#include "weightgate/core/half.h"

#if defined(__x86_64__)
#include <cpuid.h>
#include <immintrin.h>
#define WG_SIMD_TARGET __attribute__((target("avx2,f16c")))
#endif

namespace wg::simd {
namespace {

bool CpuHasSimd() {
#if defined(__x86_64__)
  __builtin_cpu_init();
  // F16C through CPUID (leaf 1, ECX bit 29): clang does not know "f16c" as a
  // __builtin_cpu_supports feature, and the clang builds (fuzz, sanitizers) need this file.
  unsigned eax = 0, ebx = 0, ecx = 0, edx = 0;
  if (!__get_cpuid(1, &eax, &ebx, &ecx, &edx)) return false;
  return __builtin_cpu_supports("avx2") && (ecx & bit_F16C) != 0;
#else
  return false;
#endif
}

std::atomic<bool> g_enabled{true};

}  // namespace

bool SimdAvailable() {
  static const bool has = CpuHasSimd();
  return has && g_enabled.load(std::memory_order_relaxed);
}

void SetSimdEnabled(bool enabled) {
  g_enabled.store(enabled, std::memory_order_relaxed);
}

#if defined(__x86_64__)

WG_SIMD_TARGET void F32ToF16(const float* src, uint16_t* dst, uint64_t n) {
  uint64_t i = 0;
  for (; i + 8 <= n; i += 8) {
    __m256 v = _mm256_loadu_ps(src + i);
    __m128i h = _mm256_cvtps_ph(v, _MM_FROUND_TO_NEAREST_INT | _MM_FROUND_NO_EXC);
    _mm_storeu_si128(reinterpret_cast<__m128i*>(dst + i), h);
  }
  for (; i < n; ++i) dst[i] = wg::F32ToF16(src[i]);
}

WG_SIMD_TARGET void F16ToF32(const uint16_t* src, float* dst, uint64_t n) {
  uint64_t i = 0;
  for (; i + 8 <= n; i += 8) {
    __m128i h = _mm_loadu_si128(reinterpret_cast<const __m128i*>(src + i));
    _mm256_storeu_ps(dst + i, _mm256_cvtph_ps(h));
  }
  for (; i < n; ++i) dst[i] = wg::F16ToF32(src[i]);
}

WG_SIMD_TARGET static inline __m256i Bf16x8ToF32Bits(const uint16_t* p) {
  __m128i b = _mm_loadu_si128(reinterpret_cast<const __m128i*>(p));
  return _mm256_slli_epi32(_mm256_cvtepu16_epi32(b), 16);
}

WG_SIMD_TARGET void BF16ToF32(const uint16_t* src, float* dst, uint64_t n) {
  uint64_t i = 0;
  for (; i + 8 <= n; i += 8)
    _mm256_storeu_si256(reinterpret_cast<__m256i*>(dst + i), Bf16x8ToF32Bits(src + i));
  for (; i < n; ++i) dst[i] = wg::BF16ToF32(src[i]);
}

WG_SIMD_TARGET void BF16ToF16(const uint16_t* src, uint16_t* dst, uint64_t n) {
  uint64_t i = 0;
  for (; i + 8 <= n; i += 8) {
    __m256 v = _mm256_castsi256_ps(Bf16x8ToF32Bits(src + i));
    __m128i h = _mm256_cvtps_ph(v, _MM_FROUND_TO_NEAREST_INT | _MM_FROUND_NO_EXC);
    _mm_storeu_si128(reinterpret_cast<__m128i*>(dst + i), h);
  }
  for (; i < n; ++i) dst[i] = wg::F32ToF16(wg::BF16ToF32(src[i]));
}

#else

void F32ToF16(const float*, uint16_t*, uint64_t) {}
void F16ToF32(const uint16_t*, float*, uint64_t) {}
void BF16ToF32(const uint16_t*, float*, uint64_t) {}
void BF16ToF16(const uint16_t*, uint16_t*, uint64_t) {}

#endif

}  // namespace wg::simd
