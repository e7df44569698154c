// Pieces shared by the safetensors reader, index reader and writer (private to formats/).
#pragma once

#include <cstdint>
#include <nlohmann/json.hpp>
#include <optional>
#include <string>
#include <string_view>

#include "weightgate/core/dtype.h"
#include "weightgate/core/error.h"

namespace wg::safetensors_detail {

// Every dtype the reference implementation knows, including those weightgate cannot
// represent (F4, C64, ...): the reader still validates their sizes, so a well-formed file
// it cannot handle is reported as Unsupported rather than Malformed.
struct StDType {
  std::string_view name;    // as written in the header: "F32", "F8_E4M3"
  uint32_t bits;            // bits per element (F4 is 4, F6_* are 6)
  uint32_t rank;            // position in the reference's Dtype enum; the writer sorts on it
  std::optional<DType> wg;  // nullopt: known to the reference, unsupported here
};

// nullptr if the reference does not know the name (names are case-sensitive).
const StDType* FindStDType(std::string_view name);
// The entry for a weightgate dtype; nullptr for quantized types.
const StDType* FindStDType(DType t);

// Offset of the first byte that breaks UTF-8 (overlongs, surrogates and code points past
// U+10FFFF count as broken, as in Rust's str::from_utf8); nullopt if `text` is valid.
std::optional<uint64_t> FindInvalidUtf8(std::string_view text);

// Parses JSON text that starts at absolute file offset `base`, refusing duplicate keys at
// any depth (nlohmann would silently keep one of them). Errors carry the file and offset.
Result<nlohmann::ordered_json> ParseJsonNoDuplicates(std::string_view text, const std::string& file,
                                                     uint64_t base);

}  // namespace wg::safetensors_detail
