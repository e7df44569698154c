// AVX2 + F16C float conversion kernels; see float_simd.h. Compiled for the generic
// x86-64 baseline: only these functions carry the target attribute, and they run only
// after a runtime check, so the binary still starts on CPUs without AVX2.
#include "float_simd.h"

#include <atomic>
#include <cfloat>
#include <cmath>

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

// Horizontal max of 8 floats (no NaNs).
WG_SIMD_TARGET static inline float HMax(__m256 v) {
  __m128 m = _mm_max_ps(_mm256_castps256_ps128(v), _mm256_extractf128_ps(v, 1));
  m = _mm_max_ps(m, _mm_movehl_ps(m, m));
  m = _mm_max_ss(m, _mm_movehdup_ps(m));
  return _mm_cvtss_f32(m);
}

// True if any lane is NaN.
WG_SIMD_TARGET static inline bool AnyNaN(__m256 a, __m256 b, __m256 c, __m256 d) {
  __m256 u = _mm256_or_ps(
      _mm256_or_ps(_mm256_cmp_ps(a, a, _CMP_UNORD_Q), _mm256_cmp_ps(b, b, _CMP_UNORD_Q)),
      _mm256_or_ps(_mm256_cmp_ps(c, c, _CMP_UNORD_Q), _mm256_cmp_ps(d, d, _CMP_UNORD_Q)));
  return _mm256_movemask_ps(u) != 0;
}

// roundf (half away from zero) of finite values, exactly: with a = |v| and f = floor(a),
// a - f and 2 * (a - f) are exact, so f + floor(2 * (a - f)) is round-half-up of a.
WG_SIMD_TARGET static inline __m256 RoundHalfAway(__m256 v, __m256 sign_mask) {
  __m256 a = _mm256_andnot_ps(sign_mask, v);
  __m256 f = _mm256_floor_ps(a);
  __m256 r =
      _mm256_add_ps(f, _mm256_floor_ps(_mm256_add_ps(_mm256_sub_ps(a, f), _mm256_sub_ps(a, f))));
  return _mm256_or_ps(r, _mm256_and_ps(sign_mask, v));
}

WG_SIMD_TARGET void QuantizeQ8_0(const float* x, BlockQ8_0* y, uint64_t nb) {
  const __m256 sign = _mm256_set1_ps(-0.0f);
  const __m256i order = _mm256_setr_epi32(0, 4, 1, 5, 2, 6, 3, 7);
  for (uint64_t i = 0; i < nb; ++i, x += 32) {
    __m256 v0 = _mm256_loadu_ps(x), v1 = _mm256_loadu_ps(x + 8);
    __m256 v2 = _mm256_loadu_ps(x + 16), v3 = _mm256_loadu_ps(x + 24);
    if (AnyNaN(v0, v1, v2, v3)) {
      QuantizeRowQ8_0Scalar(x, y + i, 32);
      continue;
    }
    __m256 m = _mm256_max_ps(_mm256_max_ps(_mm256_andnot_ps(sign, v0), _mm256_andnot_ps(sign, v1)),
                             _mm256_max_ps(_mm256_andnot_ps(sign, v2), _mm256_andnot_ps(sign, v3)));
    const float amax = HMax(m);
    const float d = amax / ((1 << 7) - 1);
    const float id = d != 0.0f ? 1.0f / d : 0.0f;
    if (!(amax <= FLT_MAX) || !(id < 3.0e38f)) {  // infinite input, or 1/d overflowed
      QuantizeRowQ8_0Scalar(x, y + i, 32);
      continue;
    }
    y[i].d = wg::F32ToF16(d);
    const __m256 vid = _mm256_set1_ps(id);
    __m256i i0 = _mm256_cvttps_epi32(RoundHalfAway(_mm256_mul_ps(v0, vid), sign));
    __m256i i1 = _mm256_cvttps_epi32(RoundHalfAway(_mm256_mul_ps(v1, vid), sign));
    __m256i i2 = _mm256_cvttps_epi32(RoundHalfAway(_mm256_mul_ps(v2, vid), sign));
    __m256i i3 = _mm256_cvttps_epi32(RoundHalfAway(_mm256_mul_ps(v3, vid), sign));
    // |x * id| <= 127 (plus rounding), so the saturating packs never saturate.
    __m256i b = _mm256_packs_epi16(_mm256_packs_epi32(i0, i1), _mm256_packs_epi32(i2, i3));
    b = _mm256_permutevar8x32_epi32(b, order);
    _mm256_storeu_si256(reinterpret_cast<__m256i*>(y[i].qs), b);
  }
}

// (float)((double)x * id + 8.5) for 4 values, as the scalar code computes it.
WG_SIMD_TARGET static inline __m128i Q4Lanes(__m128 x, __m256d id) {
  __m256d t = _mm256_add_pd(_mm256_mul_pd(_mm256_cvtps_pd(x), id), _mm256_set1_pd(8.5));
  return _mm_min_epi32(_mm_cvttps_epi32(_mm256_cvtpd_ps(t)), _mm_set1_epi32(15));
}

WG_SIMD_TARGET void QuantizeQ4_0(const float* x, BlockQ4_0* y, uint64_t nb) {
  const __m256 sign = _mm256_set1_ps(-0.0f);
  for (uint64_t i = 0; i < nb; ++i, x += 32) {
    __m256 v[4] = {_mm256_loadu_ps(x), _mm256_loadu_ps(x + 8), _mm256_loadu_ps(x + 16),
                   _mm256_loadu_ps(x + 24)};
    if (AnyNaN(v[0], v[1], v[2], v[3])) {
      QuantizeRowQ4_0Scalar(x, y + i, 32);
      continue;
    }
    __m256 m =
        _mm256_max_ps(_mm256_max_ps(_mm256_andnot_ps(sign, v[0]), _mm256_andnot_ps(sign, v[1])),
                      _mm256_max_ps(_mm256_andnot_ps(sign, v[2]), _mm256_andnot_ps(sign, v[3])));
    const float amax = HMax(m);
    // The signed value of the first element with the largest magnitude, as the scalar
    // loop's strict comparison picks it; 0.0f when all are zero.
    float max = 0.0f;
    if (amax > 0.0f) {
      const __m256 va = _mm256_set1_ps(amax);
      for (int k = 0; k < 4; ++k) {
        const int hit =
            _mm256_movemask_ps(_mm256_cmp_ps(_mm256_andnot_ps(sign, v[k]), va, _CMP_EQ_OQ));
        if (hit) {
          max = x[k * 8 + __builtin_ctz(static_cast<unsigned>(hit))];
          break;
        }
      }
    }
    const float d = max / -8;
    const float id = d != 0.0f ? 1.0f / d : 0.0f;
    if (!(amax <= FLT_MAX) || !(std::fabs(id) < 3.0e38f)) {  // infinite input, or 1/d overflowed
      QuantizeRowQ4_0Scalar(x, y + i, 32);
      continue;
    }
    y[i].d = wg::F32ToF16(d);
    const __m256d vid = _mm256_set1_pd(id);
    alignas(16) int32_t q[32];
    for (int k = 0; k < 8; ++k)
      _mm_store_si128(reinterpret_cast<__m128i*>(q + 4 * k), Q4Lanes(_mm_loadu_ps(x + 4 * k), vid));
    for (int j = 0; j < 16; ++j) y[i].qs[j] = static_cast<uint8_t>(q[j] | (q[j + 16] << 4));
  }
}

#else

void QuantizeQ8_0(const float*, BlockQ8_0*, uint64_t) {}
void QuantizeQ4_0(const float*, BlockQ4_0*, uint64_t) {}
void F32ToF16(const float*, uint16_t*, uint64_t) {}
void F16ToF32(const uint16_t*, float*, uint64_t) {}
void BF16ToF32(const uint16_t*, float*, uint64_t) {}
void BF16ToF16(const uint16_t*, uint16_t*, uint64_t) {}

#endif

}  // namespace wg::simd
