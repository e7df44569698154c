// GGUF v3: reader and writer.
//
// The reader follows llama.cpp's gguf.cpp rules (magic, version 3 only (2 also read),
// counts bounded before allocating, no duplicate keys or tensor names, names < 64
// bytes, at most 4 dimensions, known types with ne[0] a multiple of the block,
// general.alignment a power of two, data offsets packed in info order and within the
// file) and reads every metadata value type, including nested arrays, which llama.cpp
// refuses but the specification allows. Vocab-only files that end right after the
// key/values, without padding, are accepted.
// The writer writes what gguf-py's GGUFWriter writes: KVs in the given order, tensor
// infos, padding to the alignment after the infos and after every tensor. A file without
// tensors ends right after the KVs, as gguf-py writes vocab-only files, so rewriting any
// GGUF file read here reproduces it byte for byte.
#pragma once

#include <cstdint>
#include <string>
#include <variant>
#include <vector>

#include "weightgate/formats/tensor_catalog.h"

namespace wg {

enum class GgufType : int32_t {
  kU8 = 0, kI8 = 1, kU16 = 2, kI16 = 3, kU32 = 4, kI32 = 5, kF32 = 6, kBool = 7,
  kString = 8, kArray = 9, kU64 = 10, kI64 = 11, kF64 = 12,
};

// A metadata value. Arrays keep their element type (for empty and nested arrays too).
struct GgufValue {
  GgufType type = GgufType::kU32;
  // Scalar payload: integers in i64/u64, floats in f64, bools in u64, strings in str.
  uint64_t u = 0;
  int64_t i = 0;
  double f = 0;
  std::string str;
  GgufType elem_type = GgufType::kU8;  // for arrays
  std::vector<GgufValue> array;

  static GgufValue U32(uint32_t v);
  static GgufValue I32(int32_t v);
  static GgufValue U64(uint64_t v);
  static GgufValue F32(float v);
  static GgufValue Bool(bool v);
  static GgufValue String(std::string v);
  static GgufValue Array(GgufType elem_type, std::vector<GgufValue> items);
  // Convenience accessors; nullopt when the type does not fit.
  std::optional<uint64_t> AsUint() const;   // any unsigned or non-negative signed integer
  std::optional<double> AsFloat() const;    // f32/f64 (and integers)
  nlohmann::ordered_json ToJson(size_t max_array = SIZE_MAX) const;
};

struct GgufKV {
  std::string key;
  GgufValue value;
};

struct GgufFile {
  uint32_t version = 3;
  uint32_t alignment = 32;
  uint64_t data_offset = 0;   // absolute offset of the data section
  std::vector<GgufKV> kvs;    // in file order
  // format kGguf; metadata = KVs as JSON in file order. Arrays longer than 64 items are
  // summarized as {"array_of": "STRING", "count": 32000, "first": [8 items]}.
  TensorCatalog catalog;
  const GgufValue* Find(const std::string& key) const;
};

// ggml type ids <-> DType. Returns nullopt for ggml types we do not handle.
std::optional<DType> DTypeFromGgml(int32_t ggml_type);
Result<int32_t> GgmlTypeFromDType(DType t);

Result<GgufFile> ReadGguf(const std::string& path);

// Writes a GGUF v3 file atomically. If `alignment` differs from 32 the caller includes
// general.alignment in kvs. Tensor shapes are outermost-first, as everywhere.
Status WriteGguf(const std::string& path, const std::vector<GgufKV>& kvs,
                 std::vector<TensorWriteSpec> tensors, uint32_t alignment = 32);

}  // namespace wg
