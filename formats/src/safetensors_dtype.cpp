// safetensors dtype names, bit sizes and the reference's enum order.
#include <array>

#include "safetensors_internal.h"
#include "weightgate/formats/safetensors.h"

namespace wg {
namespace safetensors_detail {
namespace {

// In the order of the reference's `enum Dtype` (safetensors/src/tensor.rs, which says they
// "MUST be in increasing alignment order"). The writer sorts tensors by this rank,
// descending, so the order here decides the byte layout of every file we write.
constexpr std::array<StDType, 22> kDTypes = {{
    {"BOOL", 8, 0, DType::kBool},
    {"F4", 4, 1, std::nullopt},
    {"F6_E2M3", 6, 2, std::nullopt},
    {"F6_E3M2", 6, 3, std::nullopt},
    {"U8", 8, 4, DType::kU8},
    {"I8", 8, 5, DType::kI8},
    {"F8_E5M2", 8, 6, DType::kF8E5M2},
    {"F8_E4M3", 8, 7, DType::kF8E4M3},
    {"F8_E8M0", 8, 8, std::nullopt},
    {"F8_E4M3FNUZ", 8, 9, std::nullopt},
    {"F8_E5M2FNUZ", 8, 10, std::nullopt},
    {"I16", 16, 11, DType::kI16},
    {"U16", 16, 12, DType::kU16},
    {"F16", 16, 13, DType::kF16},
    {"BF16", 16, 14, DType::kBF16},
    {"I32", 32, 15, DType::kI32},
    {"U32", 32, 16, DType::kU32},
    {"F32", 32, 17, DType::kF32},
    {"C64", 64, 18, std::nullopt},
    {"F64", 64, 19, DType::kF64},
    {"I64", 64, 20, DType::kI64},
    {"U64", 64, 21, DType::kU64},
}};

}  // namespace

const StDType* FindStDType(std::string_view name) {
  for (const StDType& d : kDTypes)
    if (d.name == name) return &d;
  return nullptr;
}

const StDType* FindStDType(DType t) {
  for (const StDType& d : kDTypes)
    if (d.wg == t) return &d;
  return nullptr;
}

}  // namespace safetensors_detail

std::optional<DType> SafetensorsDType(std::string_view name) {
  const safetensors_detail::StDType* d = safetensors_detail::FindStDType(name);
  if (!d) return std::nullopt;
  return d->wg;
}

Result<std::string> SafetensorsDTypeName(DType t) {
  const safetensors_detail::StDType* d = safetensors_detail::FindStDType(t);
  if (!d)
    return Error::Unsupported("safetensors has no dtype for " + std::string(Name(t)))
        .Expected("a plain (non block-quantized) dtype")
        .Found(std::string(Name(t)));
  return std::string(d->name);
}

}  // namespace wg
