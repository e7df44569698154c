#include "weightgate/core/dtype.h"

#include <array>
#include <cctype>

namespace wg {
namespace {

constexpr std::array<DTypeInfo, 19> kInfo = {{
    {"F64", 1, 8, true, false},   {"F32", 1, 4, true, false},
    {"F16", 1, 2, true, false},   {"BF16", 1, 2, true, false},
    {"I64", 1, 8, false, false},  {"I32", 1, 4, false, false},
    {"I16", 1, 2, false, false},  {"I8", 1, 1, false, false},
    {"U64", 1, 8, false, false},  {"U32", 1, 4, false, false},
    {"U16", 1, 2, false, false},  {"U8", 1, 1, false, false},
    {"BOOL", 1, 1, false, false}, {"F8_E4M3", 1, 1, true, false},
    {"F8_E5M2", 1, 1, true, false}, {"Q8_0", 32, 34, false, true},
    {"Q4_0", 32, 18, false, true}, {"Q4_K", 256, 144, false, true},
    {"Q6_K", 256, 210, false, true},
}};

}  // namespace

const DTypeInfo& Info(DType t) { return kInfo[static_cast<size_t>(t)]; }

std::optional<DType> DTypeFromName(std::string_view name) {
  for (size_t i = 0; i < kInfo.size(); ++i) {
    std::string_view n = kInfo[i].name;
    if (n.size() != name.size()) continue;
    bool eq = true;
    for (size_t j = 0; j < n.size() && eq; ++j)
      eq = std::toupper(static_cast<unsigned char>(name[j])) == n[j];
    if (eq) return static_cast<DType>(i);
  }
  return std::nullopt;
}

Result<uint64_t> ElementCount(std::span<const uint64_t> shape) {
  uint64_t n = 1;
  for (uint64_t d : shape) {
    if (__builtin_mul_overflow(n, d, &n))
      return Error::Malformed("element count overflows 64 bits");
  }
  return n;
}

Result<uint64_t> ByteSize(DType t, uint64_t elements) {
  const DTypeInfo& info = Info(t);
  if (elements % info.block_elems != 0)
    return Error::Malformed("element count is not a whole number of " + std::string(info.name) +
                            " blocks")
        .Expected("a multiple of " + std::to_string(info.block_elems))
        .Found(std::to_string(elements));
  uint64_t bytes;
  if (__builtin_mul_overflow(elements / info.block_elems, uint64_t{info.block_bytes}, &bytes))
    return Error::Malformed("tensor byte size overflows 64 bits");
  return bytes;
}

}  // namespace wg
