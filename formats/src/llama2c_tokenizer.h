// Internal: counting a llama2.c tokenizer's entries without knowing the vocab size, so
// that a tokenizer found beside a checkpoint can be told to belong to another model.
#pragma once

#include <string>

#include "weightgate/formats/llama2c.h"

namespace wg::llama2c_detail {

// The number of well-formed records, if the file ends exactly after the last one;
// an error naming the first bad record otherwise.
Result<uint64_t> CountTokenizerEntries(const std::string& path);

}  // namespace wg::llama2c_detail
