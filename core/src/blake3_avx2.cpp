#include "blake3_internal.h"
namespace wg::blake3 {
void HashManyAvx2(const uint8_t* const* inputs, size_t num_inputs, size_t blocks, uint64_t counter,
                  bool increment_counter, uint8_t flags, uint8_t flags_start, uint8_t flags_end,
                  uint8_t* out) {
  HashManyPortable(inputs, num_inputs, blocks, counter, increment_counter, flags, flags_start,
                   flags_end, out);
}
void HashManyAvx512(const uint8_t* const* inputs, size_t num_inputs, size_t blocks,
                    uint64_t counter, bool increment_counter, uint8_t flags, uint8_t flags_start,
                    uint8_t flags_end, uint8_t* out) {
  HashManyPortable(inputs, num_inputs, blocks, counter, increment_counter, flags, flags_start,
                   flags_end, out);
}
}  // namespace wg::blake3
