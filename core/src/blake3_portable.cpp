// BLAKE3's compression function in plain C++: the reference every SIMD engine must match.
#include <cstring>

#include "blake3_internal.h"

namespace wg::blake3 {
namespace {

inline uint32_t Rotr(uint32_t x, int n) {
  return (x >> n) | (x << (32 - n));
}

inline void G(uint32_t* s, int a, int b, int c, int d, uint32_t x, uint32_t y) {
  s[a] = s[a] + s[b] + x;
  s[d] = Rotr(s[d] ^ s[a], 16);
  s[c] = s[c] + s[d];
  s[b] = Rotr(s[b] ^ s[c], 12);
  s[a] = s[a] + s[b] + y;
  s[d] = Rotr(s[d] ^ s[a], 8);
  s[c] = s[c] + s[d];
  s[b] = Rotr(s[b] ^ s[c], 7);
}

inline uint32_t Load32(const uint8_t* p) {
  return uint32_t(p[0]) | uint32_t(p[1]) << 8 | uint32_t(p[2]) << 16 | uint32_t(p[3]) << 24;
}

inline void Store32(uint8_t* p, uint32_t v) {
  p[0] = uint8_t(v);
  p[1] = uint8_t(v >> 8);
  p[2] = uint8_t(v >> 16);
  p[3] = uint8_t(v >> 24);
}

}  // namespace

void CompressPortable(uint32_t cv[8], const uint8_t block[kBlockLen], uint8_t block_len,
                      uint64_t counter, uint8_t flags) {
  uint32_t m[16];
  for (int i = 0; i < 16; ++i) m[i] = Load32(block + 4 * i);
  uint32_t s[16] = {cv[0],
                    cv[1],
                    cv[2],
                    cv[3],
                    cv[4],
                    cv[5],
                    cv[6],
                    cv[7],
                    kIv[0],
                    kIv[1],
                    kIv[2],
                    kIv[3],
                    uint32_t(counter),
                    uint32_t(counter >> 32),
                    block_len,
                    flags};
  for (int r = 0; r < 7; ++r) {
    const uint8_t* o = kSchedule.idx[r];
    G(s, 0, 4, 8, 12, m[o[0]], m[o[1]]);
    G(s, 1, 5, 9, 13, m[o[2]], m[o[3]]);
    G(s, 2, 6, 10, 14, m[o[4]], m[o[5]]);
    G(s, 3, 7, 11, 15, m[o[6]], m[o[7]]);
    G(s, 0, 5, 10, 15, m[o[8]], m[o[9]]);
    G(s, 1, 6, 11, 12, m[o[10]], m[o[11]]);
    G(s, 2, 7, 8, 13, m[o[12]], m[o[13]]);
    G(s, 3, 4, 9, 14, m[o[14]], m[o[15]]);
  }
  for (int i = 0; i < 8; ++i) cv[i] = s[i] ^ s[i + 8];
}

void HashManyPortable(const uint8_t* const* inputs, size_t num_inputs, size_t blocks,
                      uint64_t counter, bool increment_counter, uint8_t flags, uint8_t flags_start,
                      uint8_t flags_end, uint8_t* out) {
  for (size_t i = 0; i < num_inputs; ++i) {
    uint32_t cv[8];
    std::memcpy(cv, kIv, sizeof cv);
    uint64_t ctr = counter + (increment_counter ? i : 0);
    for (size_t b = 0; b < blocks; ++b) {
      uint8_t f = flags | (b == 0 ? flags_start : 0) | (b + 1 == blocks ? flags_end : 0);
      CompressPortable(cv, inputs[i] + b * kBlockLen, kBlockLen, ctr, f);
    }
    for (int w = 0; w < 8; ++w) Store32(out + 32 * i + 4 * w, cv[w]);
  }
}

}  // namespace wg::blake3
