#include "weightgate/gpu_check/devices.h"

#ifndef WG_HAVE_CUDA
namespace wg {
bool CudaBuilt() {
  return false;
}
std::vector<GpuDevice> ListGpus(std::string* why) {
  if (why) *why = "weightgate was built without CUDA (nvcc was not found at build time)";
  return {};
}
}  // namespace wg
#endif
