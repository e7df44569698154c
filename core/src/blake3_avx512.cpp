// BLAKE3 compression on 16 inputs at once with AVX-512 (native 32-bit rotates).
// GCC 12 warns falsely about the undefined vectors inside its own AVX-512 intrinsics.
#pragma GCC diagnostic ignored "-Wmaybe-uninitialized"

#include "blake3_internal.h"
#include "simd_transpose.h"

namespace wg::blake3 {
namespace {

WG_AVX512 __m512i Add(__m512i a, __m512i b) {
  return _mm512_add_epi32(a, b);
}
WG_AVX512 __m512i Xor(__m512i a, __m512i b) {
  return _mm512_xor_si512(a, b);
}

WG_AVX512 void G(__m512i* v, int a, int b, int c, int d, __m512i x, __m512i y) {
  v[a] = Add(Add(v[a], v[b]), x);
  v[d] = _mm512_ror_epi32(Xor(v[d], v[a]), 16);
  v[c] = Add(v[c], v[d]);
  v[b] = _mm512_ror_epi32(Xor(v[b], v[c]), 12);
  v[a] = Add(Add(v[a], v[b]), y);
  v[d] = _mm512_ror_epi32(Xor(v[d], v[a]), 8);
  v[c] = Add(v[c], v[d]);
  v[b] = _mm512_ror_epi32(Xor(v[b], v[c]), 7);
}

WG_AVX512 void Hash16(const uint8_t* const* inputs, size_t blocks, uint64_t counter,
                      bool increment_counter, uint8_t flags, uint8_t flags_start, uint8_t flags_end,
                      uint8_t* out) {
  alignas(64) uint32_t lo[16], hi[16];
  for (int i = 0; i < 16; ++i) {
    uint64_t c = counter + (increment_counter ? i : 0);
    lo[i] = static_cast<uint32_t>(c);
    hi[i] = static_cast<uint32_t>(c >> 32);
  }
  const __m512i ctr_lo = _mm512_load_si512(lo);
  const __m512i ctr_hi = _mm512_load_si512(hi);
  __m512i h[8];
  for (int i = 0; i < 8; ++i) h[i] = _mm512_set1_epi32(static_cast<int>(kIv[i]));
  for (size_t blk = 0; blk < blocks; ++blk) {
    uint8_t bf = flags | (blk == 0 ? flags_start : 0) | (blk + 1 == blocks ? flags_end : 0);
    __m512i m[16];
    simd::LoadBlocks16<false>(inputs, blk * kBlockLen, m);
    __m512i v[16] = {h[0],
                     h[1],
                     h[2],
                     h[3],
                     h[4],
                     h[5],
                     h[6],
                     h[7],
                     _mm512_set1_epi32(static_cast<int>(kIv[0])),
                     _mm512_set1_epi32(static_cast<int>(kIv[1])),
                     _mm512_set1_epi32(static_cast<int>(kIv[2])),
                     _mm512_set1_epi32(static_cast<int>(kIv[3])),
                     ctr_lo,
                     ctr_hi,
                     _mm512_set1_epi32(static_cast<int>(kBlockLen)),
                     _mm512_set1_epi32(bf)};
#pragma GCC unroll 7
    for (int r = 0; r < 7; ++r) {
      const uint8_t* o = kSchedule.idx[r];
      G(v, 0, 4, 8, 12, m[o[0]], m[o[1]]);
      G(v, 1, 5, 9, 13, m[o[2]], m[o[3]]);
      G(v, 2, 6, 10, 14, m[o[4]], m[o[5]]);
      G(v, 3, 7, 11, 15, m[o[6]], m[o[7]]);
      G(v, 0, 5, 10, 15, m[o[8]], m[o[9]]);
      G(v, 1, 6, 11, 12, m[o[10]], m[o[11]]);
      G(v, 2, 7, 8, 13, m[o[12]], m[o[13]]);
      G(v, 3, 4, 9, 14, m[o[14]], m[o[15]]);
    }
    for (int i = 0; i < 8; ++i) h[i] = Xor(v[i], v[i + 8]);
  }
  // Word-major to lane-major: each 512-bit word vector splits into lanes 0-7 and 8-15.
  __m256i low[8], high[8];
  for (int i = 0; i < 8; ++i) {
    low[i] = _mm512_castsi512_si256(h[i]);
    high[i] = _mm512_extracti64x4_epi64(h[i], 1);
  }
  simd::Transpose8x8(low);
  simd::Transpose8x8(high);
  for (int i = 0; i < 8; ++i) {
    _mm256_storeu_si256(reinterpret_cast<__m256i*>(out + 32 * i), low[i]);
    _mm256_storeu_si256(reinterpret_cast<__m256i*>(out + 32 * (8 + i)), high[i]);
  }
}

}  // namespace

__attribute__((target("avx2,avx512f,avx512vl"))) void HashManyAvx512(
    const uint8_t* const* inputs, size_t num_inputs, size_t blocks, uint64_t counter,
    bool increment_counter, uint8_t flags, uint8_t flags_start, uint8_t flags_end, uint8_t* out) {
  while (num_inputs >= 16) {
    Hash16(inputs, blocks, counter, increment_counter, flags, flags_start, flags_end, out);
    inputs += 16;
    num_inputs -= 16;
    out += 16 * kOutLen;
    if (increment_counter) counter += 16;
  }
  HashManyAvx2(inputs, num_inputs, blocks, counter, increment_counter, flags, flags_start,
               flags_end, out);
}

}  // namespace wg::blake3
