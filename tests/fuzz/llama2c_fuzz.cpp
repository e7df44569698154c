// libFuzzer entry point; the body is wg::fuzz::Llama2c (tests/support/fuzz_targets.cpp).
#include "support/fuzz_targets.h"

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  return wg::fuzz::Llama2c(data, size);
}
