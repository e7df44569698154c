// libFuzzer entry point; the body is wg::fuzz::Grant (tests/support/fuzz_targets.cpp).
#include "support/fuzz_targets.h"

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  return wg::fuzz::Grant(data, size);
}
