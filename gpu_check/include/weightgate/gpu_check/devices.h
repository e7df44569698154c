// The GPUs this process can see.
//
// Built without CUDA (no nvcc at build time) the list is always empty and
// cuda_built() is false, so callers can tell "no GPU here" from "not compiled in".
#pragma once

#include <cstdint>
#include <string>
#include <vector>

namespace wg {

struct GpuDevice {
  int index = 0;
  std::string name;
  uint64_t memory_bytes = 0;
  int compute_major = 0, compute_minor = 0;
};

bool CudaBuilt();
// Visible devices; empty when none (or when the driver is missing). `why` explains an
// empty list in words a user can act on.
std::vector<GpuDevice> ListGpus(std::string* why = nullptr);

}  // namespace wg
