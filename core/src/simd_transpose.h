// 8x8 transposes of 32-bit words, shared by the multi-buffer kernels: they turn "8 words of
// each of 8 messages" into "word w of all 8 messages" (one vector per word) and back.
// Functions carry their own target attribute so that no other code is built for AVX.
#pragma once

#include <immintrin.h>

#define WG_AVX2 __attribute__((target("avx2"), always_inline)) inline
#define WG_AVX512 __attribute__((target("avx2,avx512f,avx512vl"), always_inline)) inline

namespace wg::simd {

// In place: v[r] holds row r (8 words); afterwards v[c] holds column c.
WG_AVX2 void Transpose8x8(__m256i v[8]) {
  __m256i t0 = _mm256_unpacklo_epi32(v[0], v[1]), t1 = _mm256_unpackhi_epi32(v[0], v[1]);
  __m256i t2 = _mm256_unpacklo_epi32(v[2], v[3]), t3 = _mm256_unpackhi_epi32(v[2], v[3]);
  __m256i t4 = _mm256_unpacklo_epi32(v[4], v[5]), t5 = _mm256_unpackhi_epi32(v[4], v[5]);
  __m256i t6 = _mm256_unpacklo_epi32(v[6], v[7]), t7 = _mm256_unpackhi_epi32(v[6], v[7]);
  __m256i u0 = _mm256_unpacklo_epi64(t0, t2), u1 = _mm256_unpackhi_epi64(t0, t2);
  __m256i u2 = _mm256_unpacklo_epi64(t1, t3), u3 = _mm256_unpackhi_epi64(t1, t3);
  __m256i u4 = _mm256_unpacklo_epi64(t4, t6), u5 = _mm256_unpackhi_epi64(t4, t6);
  __m256i u6 = _mm256_unpacklo_epi64(t5, t7), u7 = _mm256_unpackhi_epi64(t5, t7);
  v[0] = _mm256_permute2x128_si256(u0, u4, 0x20);
  v[1] = _mm256_permute2x128_si256(u1, u5, 0x20);
  v[2] = _mm256_permute2x128_si256(u2, u6, 0x20);
  v[3] = _mm256_permute2x128_si256(u3, u7, 0x20);
  v[4] = _mm256_permute2x128_si256(u0, u4, 0x31);
  v[5] = _mm256_permute2x128_si256(u1, u5, 0x31);
  v[6] = _mm256_permute2x128_si256(u2, u6, 0x31);
  v[7] = _mm256_permute2x128_si256(u3, u7, 0x31);
}

// Loads one 64-byte block from each of 8 pointers (at byte offset off) as 16 word vectors:
// m[w] = word w of every lane. With bswap, words are read big-endian (SHA-256).
template <bool kBswap>
WG_AVX2 void LoadBlocks8(const uint8_t* const* p, size_t off, __m256i m[16]) {
  const __m256i kSwap = _mm256_setr_epi8(3, 2, 1, 0, 7, 6, 5, 4, 11, 10, 9, 8, 15, 14, 13, 12, 3, 2,
                                         1, 0, 7, 6, 5, 4, 11, 10, 9, 8, 15, 14, 13, 12);
  for (int i = 0; i < 8; ++i) {
    m[i] = _mm256_loadu_si256(reinterpret_cast<const __m256i*>(p[i] + off));
    m[8 + i] = _mm256_loadu_si256(reinterpret_cast<const __m256i*>(p[i] + off + 32));
    if (kBswap) {
      m[i] = _mm256_shuffle_epi8(m[i], kSwap);
      m[8 + i] = _mm256_shuffle_epi8(m[8 + i], kSwap);
    }
  }
  Transpose8x8(m);
  Transpose8x8(m + 8);
}

// The same for 16 pointers: two 8-lane loads joined into 512-bit vectors.
template <bool kBswap>
WG_AVX512 void LoadBlocks16(const uint8_t* const* p, size_t off, __m512i m[16]) {
  __m256i lo[16], hi[16];
  LoadBlocks8<kBswap>(p, off, lo);
  LoadBlocks8<kBswap>(p + 8, off, hi);
  for (int w = 0; w < 16; ++w) m[w] = _mm512_inserti64x4(_mm512_zextsi256_si512(lo[w]), hi[w], 1);
}

}  // namespace wg::simd
