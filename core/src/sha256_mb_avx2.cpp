// SHA-256 on 8 messages at once with AVX2 (FIPS 180-4 §6.2, one lane per message).
#include "sha256_mb_internal.h"
#include "simd_transpose.h"

namespace wg::sha256mb {
namespace {

template <int N>
WG_AVX2 __m256i Rotr(__m256i x) {
  return _mm256_or_si256(_mm256_srli_epi32(x, N), _mm256_slli_epi32(x, 32 - N));
}
WG_AVX2 __m256i Add(__m256i a, __m256i b) {
  return _mm256_add_epi32(a, b);
}
WG_AVX2 __m256i Xor(__m256i a, __m256i b) {
  return _mm256_xor_si256(a, b);
}

}  // namespace

__attribute__((target("avx2"))) void KernelAvx2(uint32_t* state, const uint8_t* const* data,
                                                size_t blocks) {
  __m256i s[8];
  for (int w = 0; w < 8; ++w)
    s[w] = _mm256_load_si256(reinterpret_cast<const __m256i*>(state + 8 * w));
  for (size_t blk = 0; blk < blocks; ++blk) {
    __m256i W[16];
    simd::LoadBlocks8<true>(data, 64 * blk, W);
    __m256i a = s[0], b = s[1], c = s[2], d = s[3], e = s[4], f = s[5], g = s[6], h = s[7];
#pragma GCC unroll 64
    for (int t = 0; t < 64; ++t) {
      __m256i wt;
      if (t < 16) {
        wt = W[t];
      } else {
        __m256i w15 = W[(t - 15) & 15], w2 = W[(t - 2) & 15];
        __m256i s0 = Xor(Xor(Rotr<7>(w15), Rotr<18>(w15)), _mm256_srli_epi32(w15, 3));
        __m256i s1 = Xor(Xor(Rotr<17>(w2), Rotr<19>(w2)), _mm256_srli_epi32(w2, 10));
        wt = W[t & 15] = Add(Add(W[t & 15], s0), Add(W[(t - 7) & 15], s1));
      }
      __m256i S1 = Xor(Xor(Rotr<6>(e), Rotr<11>(e)), Rotr<25>(e));
      __m256i ch = Xor(_mm256_and_si256(e, f), _mm256_andnot_si256(e, g));
      __m256i t1 = Add(Add(Add(h, S1), Add(ch, _mm256_set1_epi32(static_cast<int>(kK[t])))), wt);
      __m256i S0 = Xor(Xor(Rotr<2>(a), Rotr<13>(a)), Rotr<22>(a));
      __m256i maj =
          _mm256_or_si256(_mm256_and_si256(a, b), _mm256_and_si256(c, _mm256_or_si256(a, b)));
      __m256i t2 = Add(S0, maj);
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
  for (int w = 0; w < 8; ++w) _mm256_store_si256(reinterpret_cast<__m256i*>(state + 8 * w), s[w]);
}

}  // namespace wg::sha256mb
