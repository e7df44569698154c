#include <cuda_runtime.h>

#include "weightgate/gpu_check/devices.h"

namespace wg {

bool CudaBuilt() {
  return true;
}

std::vector<GpuDevice> ListGpus(std::string* why) {
  std::vector<GpuDevice> out;
  int n = 0;
  cudaError_t err = cudaGetDeviceCount(&n);
  if (err != cudaSuccess) {
    if (why) *why = std::string("no CUDA device visible: ") + cudaGetErrorString(err);
    cudaGetLastError();  // clear the sticky error
    return out;
  }
  for (int i = 0; i < n; ++i) {
    cudaDeviceProp p{};
    if (cudaGetDeviceProperties(&p, i) != cudaSuccess) continue;
    out.push_back({i, p.name, static_cast<uint64_t>(p.totalGlobalMem), p.major, p.minor});
  }
  if (out.empty() && why) *why = "no CUDA device visible";
  return out;
}

}  // namespace wg
