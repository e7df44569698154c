// SHA-256 on 16 messages at once with AVX-512: native rotates and three-input logic.
// GCC 12 warns falsely about the undefined vectors inside its own AVX-512 intrinsics.
#pragma GCC diagnostic ignored "-Wmaybe-uninitialized"

#include "sha256_mb_internal.h"
#include "simd_transpose.h"

namespace wg::sha256mb {
namespace {

WG_AVX512 __m512i Add(__m512i a, __m512i b) {
  return _mm512_add_epi32(a, b);
}
// Three-input logic (_mm512_ternarylogic_epi32): 0x96 = a^b^c, 0xCA = a?b:c, 0xE8 = majority.
WG_AVX512 __m512i Xor3(__m512i a, __m512i b, __m512i c) {
  return _mm512_ternarylogic_epi32(a, b, c, 0x96);
}

}  // namespace

__attribute__((target("avx2,avx512f,avx512vl"))) void KernelAvx512(uint32_t* state,
                                                                   const uint8_t* const* data,
                                                                   size_t blocks) {
  __m512i s[8];
  for (int w = 0; w < 8; ++w) s[w] = _mm512_load_si512(state + 16 * w);
  for (size_t blk = 0; blk < blocks; ++blk) {
    __m512i W[16];
    simd::LoadBlocks16<true>(data, 64 * blk, W);
    __m512i a = s[0], b = s[1], c = s[2], d = s[3], e = s[4], f = s[5], g = s[6], h = s[7];
#pragma GCC unroll 64
    for (int t = 0; t < 64; ++t) {
      __m512i wt;
      if (t < 16) {
        wt = W[t];
      } else {
        __m512i w15 = W[(t - 15) & 15], w2 = W[(t - 2) & 15];
        __m512i s0 =
            Xor3(_mm512_ror_epi32(w15, 7), _mm512_ror_epi32(w15, 18), _mm512_srli_epi32(w15, 3));
        __m512i s1 =
            Xor3(_mm512_ror_epi32(w2, 17), _mm512_ror_epi32(w2, 19), _mm512_srli_epi32(w2, 10));
        wt = W[t & 15] = Add(Add(W[t & 15], s0), Add(W[(t - 7) & 15], s1));
      }
      __m512i S1 = Xor3(_mm512_ror_epi32(e, 6), _mm512_ror_epi32(e, 11), _mm512_ror_epi32(e, 25));
      __m512i ch = _mm512_ternarylogic_epi32(e, f, g, 0xCA);
      __m512i t1 = Add(Add(Add(h, S1), Add(ch, _mm512_set1_epi32(static_cast<int>(kK[t])))), wt);
      __m512i S0 = Xor3(_mm512_ror_epi32(a, 2), _mm512_ror_epi32(a, 13), _mm512_ror_epi32(a, 22));
      __m512i maj = _mm512_ternarylogic_epi32(a, b, c, 0xE8);
      __m512i t2 = Add(S0, maj);
      h = g;
      g = f;
      f = e;
      e = Add(d, t1);
      d = c;
      c = b;
      b = a;
      a = Add(t1, t2);
    }
    s[0] = Add(s[0], a);
    s[1] = Add(s[1], b);
    s[2] = Add(s[2], c);
    s[3] = Add(s[3], d);
    s[4] = Add(s[4], e);
    s[5] = Add(s[5], f);
    s[6] = Add(s[6], g);
    s[7] = Add(s[7], h);
  }
  for (int w = 0; w < 8; ++w) _mm512_store_si512(state + 16 * w, s[w]);
}

}  // namespace wg::sha256mb
