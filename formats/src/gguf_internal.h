// Pieces shared by the GGUF reader and writer (private to formats/).
#pragma once

#include <cstdint>
#include <optional>
#include <string>
#include <string_view>

#include "weightgate/formats/gguf.h"

namespace wg::gguf_detail {

constexpr uint32_t kMagic = 0x46554747;  // "GGUF", little-endian
constexpr uint32_t kDefaultAlignment = 32;
constexpr uint32_t kMaxDims = 4;        // GGML_MAX_DIMS
constexpr uint64_t kMaxNameBytes = 63;  // llama.cpp: strlen(name) < GGML_MAX_NAME (64)
constexpr const char* kAlignmentKey = "general.alignment";

// A ggml tensor type as llama.cpp's type_traits describe it. Every id llama.cpp or the
// GGUF specification assigns is listed, so a well-formed file with a type weightgate
// cannot handle is reported as Unsupported rather than Malformed.
struct GgmlType {
  std::string_view name;
  uint32_t block_elems;
  uint32_t block_bytes;
};
// nullopt for ids that were never assigned or have been removed (4, 5, 31-33, 36-38).
std::optional<GgmlType> FindGgmlType(int32_t id);

// "U32", "STRING", "ARRAY"...; "type 17" for ids outside the enum.
std::string TypeName(GgufType t);
// Bytes one value of a fixed-size type occupies; 0 for strings and arrays.
uint32_t FixedSize(GgufType t);
bool IsKnownType(int32_t t);

// Smallest number of bytes one value of `t` can occupy in a file: bounds array counts
// before anything is allocated.
inline uint64_t MinEncodedSize(GgufType t) {
  if (t == GgufType::kString) return 8;  // u64 length
  if (t == GgufType::kArray) return 12;  // i32 type + u64 count
  return FixedSize(t);
}

inline uint64_t AlignUp(uint64_t x, uint64_t alignment) {
  return (x + alignment - 1) / alignment * alignment;
}

}  // namespace wg::gguf_detail
