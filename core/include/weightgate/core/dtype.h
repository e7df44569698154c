// Element types of tensors, including llama.cpp's block-quantized types.
//
// A dtype knows its block geometry: plain types are blocks of one element; Q8_0 and
// Q4_0 pack 32 elements, Q4_K and Q6_K 256. Format-specific names and ids (safetensors'
// "BF16", GGUF's type 30) live in the format readers, not here.
#pragma once

#include <cstdint>
#include <optional>
#include <span>
#include <string>
#include <string_view>

#include "weightgate/core/error.h"

namespace wg {

enum class DType : uint8_t {
  kF64, kF32, kF16, kBF16,
  kI64, kI32, kI16, kI8,
  kU64, kU32, kU16, kU8,
  kBool,
  kF8E4M3, kF8E5M2,  // carried through unchanged; no arithmetic
  kQ8_0, kQ4_0,      // read and write
  kQ4K, kQ6K,        // read and dequantize
};

struct DTypeInfo {
  std::string_view name;  // canonical upper-case name: "F32", "Q8_0", "Q4_K"
  uint32_t block_elems;   // elements per block (1 for plain types)
  uint32_t block_bytes;   // bytes per block
  bool is_float;          // F64/F32/F16/BF16/F8
  bool is_quantized;      // block-quantized
};

const DTypeInfo& Info(DType t);
inline std::string_view Name(DType t) { return Info(t).name; }
// Case-insensitive: "f16", "BF16", "q8_0", "q4_k".
std::optional<DType> DTypeFromName(std::string_view name);

// Number of elements of a shape, or an error on overflow.
Result<uint64_t> ElementCount(std::span<const uint64_t> shape);
// Bytes that `elements` elements of `t` occupy. For block types `elements` must be a
// multiple of the block size; the error says so.
Result<uint64_t> ByteSize(DType t, uint64_t elements);

}  // namespace wg
