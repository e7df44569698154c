// BLAKE3 internals shared by the portable and SIMD compression engines and the tree code.
//
// Written from the BLAKE3 specification (BLAKE3-team/BLAKE3-specs, "blake3.pdf"): a chunk is
// 1024 bytes hashed as 16 chained 64-byte blocks; chunk chaining values (CVs) are merged
// pairwise by parent compressions into a binary tree whose left subtree always holds the
// largest power-of-two number of chunks that leaves at least one byte for the right.
// Only the default hash mode (no key, no derive_key) and 32-byte output are needed here.
#pragma once

#include <cstddef>
#include <cstdint>

namespace wg::blake3 {

constexpr size_t kBlockLen = 64;
constexpr size_t kChunkLen = 1024;
constexpr size_t kOutLen = 32;

enum Flag : uint8_t {
  kChunkStart = 1 << 0,
  kChunkEnd = 1 << 1,
  kParent = 1 << 2,
  kRoot = 1 << 3,
};

inline constexpr uint32_t kIv[8] = {0x6A09E667, 0xBB67AE85, 0x3C6EF372, 0xA54FF53A,
                                    0x510E527F, 0x9B05688C, 0x1F83D9AB, 0x5BE0CD19};

// Message word order for each of the 7 rounds: round r+1 applies the specification's
// permutation to round r's order, so no message shuffling happens at run time.
struct Schedule {
  uint8_t idx[7][16];
};
constexpr Schedule MakeSchedule() {
  constexpr uint8_t kPerm[16] = {2, 6, 3, 10, 7, 0, 4, 13, 1, 11, 12, 5, 9, 14, 15, 8};
  Schedule s{};
  for (int j = 0; j < 16; ++j) s.idx[0][j] = static_cast<uint8_t>(j);
  for (int r = 1; r < 7; ++r)
    for (int j = 0; j < 16; ++j) s.idx[r][j] = s.idx[r - 1][kPerm[j]];
  return s;
}
inline constexpr Schedule kSchedule = MakeSchedule();

// The compression function, in place on the chaining value (the first 8 output words).
void CompressPortable(uint32_t cv[8], const uint8_t block[kBlockLen], uint8_t block_len,
                      uint64_t counter, uint8_t flags);

// Hashes num_inputs inputs of `blocks` whole blocks each (a chunk is 16 blocks, a parent
// node 1) starting from the IV. Input i uses counter + i when increment_counter (chunks)
// and counter otherwise (parents). Every block gets `flags`; the first also flags_start,
// the last also flags_end. Writes 32-byte little-endian CVs to out + 32 * i.
using HashManyFn = void (*)(const uint8_t* const* inputs, size_t num_inputs, size_t blocks,
                            uint64_t counter, bool increment_counter, uint8_t flags,
                            uint8_t flags_start, uint8_t flags_end, uint8_t* out);

void HashManyPortable(const uint8_t* const* inputs, size_t num_inputs, size_t blocks,
                      uint64_t counter, bool increment_counter, uint8_t flags, uint8_t flags_start,
                      uint8_t flags_end, uint8_t* out);
// 8 inputs per instruction stream; leftovers go to the portable code. Needs AVX2.
void HashManyAvx2(const uint8_t* const* inputs, size_t num_inputs, size_t blocks, uint64_t counter,
                  bool increment_counter, uint8_t flags, uint8_t flags_start, uint8_t flags_end,
                  uint8_t* out);
// 16 inputs per instruction stream, then AVX2 for the rest. Needs AVX-512F and AVX-512VL.
void HashManyAvx512(const uint8_t* const* inputs, size_t num_inputs, size_t blocks,
                    uint64_t counter, bool increment_counter, uint8_t flags, uint8_t flags_start,
                    uint8_t flags_end, uint8_t* out);

}  // namespace wg::blake3
