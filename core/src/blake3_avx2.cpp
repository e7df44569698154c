// BLAKE3 compression on 8 inputs at once with AVX2: one vector per state word, lane i holds
// input i (chunk i of a run, or parent node i of a tree level).
#include "blake3_internal.h"
#include "simd_transpose.h"

namespace wg::blake3 {
namespace {

WG_AVX2 __m256i Add(__m256i a, __m256i b) {
  return _mm256_add_epi32(a, b);
}
WG_AVX2 __m256i Xor(__m256i a, __m256i b) {
  return _mm256_xor_si256(a, b);
}
WG_AVX2 __m256i Rot16(__m256i x) {
  return _mm256_shuffle_epi8(
      x, _mm256_setr_epi8(2, 3, 0, 1, 6, 7, 4, 5, 10, 11, 8, 9, 14, 15, 12, 13, 2, 3, 0, 1, 6, 7, 4,
                          5, 10, 11, 8, 9, 14, 15, 12, 13));
}
WG_AVX2 __m256i Rot8(__m256i x) {
  return _mm256_shuffle_epi8(
      x, _mm256_setr_epi8(1, 2, 3, 0, 5, 6, 7, 4, 9, 10, 11, 8, 13, 14, 15, 12, 1, 2, 3, 0, 5, 6, 7,
                          4, 9, 10, 11, 8, 13, 14, 15, 12));
}
WG_AVX2 __m256i Rot12(__m256i x) {
  return _mm256_or_si256(_mm256_srli_epi32(x, 12), _mm256_slli_epi32(x, 20));
}
WG_AVX2 __m256i Rot7(__m256i x) {
  return _mm256_or_si256(_mm256_srli_epi32(x, 7), _mm256_slli_epi32(x, 25));
}

WG_AVX2 void G(__m256i* v, int a, int b, int c, int d, __m256i x, __m256i y) {
  v[a] = Add(Add(v[a], v[b]), x);
  v[d] = Rot16(Xor(v[d], v[a]));
  v[c] = Add(v[c], v[d]);
  v[b] = Rot12(Xor(v[b], v[c]));
  v[a] = Add(Add(v[a], v[b]), y);
  v[d] = Rot8(Xor(v[d], v[a]));
  v[c] = Add(v[c], v[d]);
  v[b] = Rot7(Xor(v[b], v[c]));
}

WG_AVX2 void Hash8(const uint8_t* const* inputs, size_t blocks, uint64_t counter,
                   bool increment_counter, uint8_t flags, uint8_t flags_start, uint8_t flags_end,
                   uint8_t* out) {
  alignas(32) uint32_t lo[8], hi[8];
  for (int i = 0; i < 8; ++i) {
    uint64_t c = counter + (increment_counter ? i : 0);
    lo[i] = static_cast<uint32_t>(c);
    hi[i] = static_cast<uint32_t>(c >> 32);
  }
  const __m256i ctr_lo = _mm256_load_si256(reinterpret_cast<const __m256i*>(lo));
  const __m256i ctr_hi = _mm256_load_si256(reinterpret_cast<const __m256i*>(hi));
  __m256i h[8];
  for (int i = 0; i < 8; ++i) h[i] = _mm256_set1_epi32(static_cast<int>(kIv[i]));
  for (size_t blk = 0; blk < blocks; ++blk) {
    uint8_t bf = flags | (blk == 0 ? flags_start : 0) | (blk + 1 == blocks ? flags_end : 0);
    __m256i m[16];
    simd::LoadBlocks8<false>(inputs, blk * kBlockLen, m);
    __m256i v[16] = {h[0],
                     h[1],
                     h[2],
                     h[3],
                     h[4],
                     h[5],
                     h[6],
                     h[7],
                     _mm256_set1_epi32(static_cast<int>(kIv[0])),
                     _mm256_set1_epi32(static_cast<int>(kIv[1])),
                     _mm256_set1_epi32(static_cast<int>(kIv[2])),
                     _mm256_set1_epi32(static_cast<int>(kIv[3])),
                     ctr_lo,
                     ctr_hi,
                     _mm256_set1_epi32(static_cast<int>(kBlockLen)),
                     _mm256_set1_epi32(bf)};
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
  simd::Transpose8x8(h);
  for (int i = 0; i < 8; ++i) _mm256_storeu_si256(reinterpret_cast<__m256i*>(out + 32 * i), h[i]);
}

}  // namespace

__attribute__((target("avx2"))) void HashManyAvx2(const uint8_t* const* inputs, size_t num_inputs,
                                                  size_t blocks, uint64_t counter,
                                                  bool increment_counter, uint8_t flags,
                                                  uint8_t flags_start, uint8_t flags_end,
                                                  uint8_t* out) {
  while (num_inputs >= 8) {
    Hash8(inputs, blocks, counter, increment_counter, flags, flags_start, flags_end, out);
    inputs += 8;
    num_inputs -= 8;
    out += 8 * kOutLen;
    if (increment_counter) counter += 8;
  }
  HashManyPortable(inputs, num_inputs, blocks, counter, increment_counter, flags, flags_start,
                   flags_end, out);
}

}  // namespace wg::blake3
