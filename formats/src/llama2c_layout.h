// llama2.c checkpoint layout: the header parsed and checked, and where every array lies.
// Shared by the reader and by format detection (llama2.c files have no magic in v0, so
// a file is taken for one only when its header is plausible and the size exact).
#pragma once

#include <string>
#include <vector>

#include "weightgate/core/file.h"
#include "weightgate/formats/llama2c.h"

namespace wg::llama2c_detail {

// One catalogue tensor, before it is attached to the map.
struct Llama2cArray {
  std::string name;
  DType dtype = DType::kF32;
  std::vector<uint64_t> shape;
  uint64_t offset = 0;
  uint64_t nbytes = 0;
};

struct Llama2cLayout {
  Llama2cConfig config;
  uint64_t header_bytes = 0;         // 28 (legacy) or 256
  std::vector<Llama2cArray> arrays;  // in file order
  uint64_t rope_tables_offset = 0;   // legacy with rope_tables: where freq_cis_real starts
  uint64_t rope_tables_bytes = 0;    // both tables
};

// Parses the header of `file` (named `path` in errors) and lays out every array; the
// file size must be exactly what the header predicts.
Result<Llama2cLayout> PlanLlama2c(Bytes file, const std::string& path);

}  // namespace wg::llama2c_detail
