// Device memory, error mapping and the host -> device upload shared by the CUDA forward
// pass and the generic tensor pass. The arena layout and staging fill are plain host code
// (built everywhere); the rest only into CUDA builds (WG_HAVE_CUDA).
#pragma once

#include <cstdint>
#include <string>
#include <vector>

#include "weightgate/core/error.h"

namespace wg::cuda {

// A run of host bytes (in a memory map) bound for `device_offset` in an arena.
struct UploadPiece {
  const uint8_t* host = nullptr;
  uint64_t bytes = 0;
  uint64_t device_offset = 0;
};

// Assigns 256-byte aligned arena offsets to the pieces in order; returns the arena size.
uint64_t LayOutArena(std::vector<UploadPiece>& pieces);

// Copies the part [begin, end) of the arena image that the pieces cover into `out`,
// zeroing alignment gaps. Host-only (tested without a GPU).
void FillStagingWindow(const std::vector<UploadPiece>& pieces, uint64_t begin, uint64_t end,
                       uint8_t* out);
// The same over the shared thread pool in 4 MiB parts: one core's memcpy from the page
// cache is slower than a PCIe 5 or NVLink-C2C link.
Status FillStagingWindowParallel(const std::vector<UploadPiece>& pieces, uint64_t begin,
                                 uint64_t end, uint8_t* out);

}  // namespace wg::cuda

#ifdef WG_HAVE_CUDA
#include <cuda_runtime.h>

#include "weightgate/core/error.h"
#include "weightgate/gpu_check/cuda_forward.h"

namespace wg::cuda {

// A CUDA error as a wg::Error naming the call that failed.
Error CudaError(cudaError_t e, const char* call);

#define WG_CUDA_TRY(expr)                                                               \
  do {                                                                                  \
    const cudaError_t wg_cuda_err_ = (expr);                                            \
    if (wg_cuda_err_ != cudaSuccess) return ::wg::cuda::CudaError(wg_cuda_err_, #expr); \
  } while (0)

// Selects `device` after checking that it exists; the error says why not.
Status UseDevice(int device);

// Owning device allocation (cudaFree on destruction; errors there cannot be acted on).
class DeviceBuffer {
 public:
  DeviceBuffer() = default;
  ~DeviceBuffer();
  DeviceBuffer(const DeviceBuffer&) = delete;
  DeviceBuffer& operator=(const DeviceBuffer&) = delete;
  DeviceBuffer(DeviceBuffer&& o) noexcept : ptr_(o.ptr_), bytes_(o.bytes_) { o.ptr_ = nullptr; }

  Status Allocate(uint64_t bytes, const char* what);  // zero-filled
  uint8_t* get() const { return static_cast<uint8_t*>(ptr_); }
  template <typename T>
  T* as() const {
    return static_cast<T*>(ptr_);
  }
  uint64_t bytes() const { return bytes_; }

 private:
  void* ptr_ = nullptr;
  uint64_t bytes_ = 0;
};

// Uploads the pieces into `arena`: once cold (the load time), then a plain pageable
// cudaMemcpy of the same bytes and a warm staged upload, for the bandwidth ratio.
Result<CudaLoadStats> UploadMeasured(const std::vector<UploadPiece>& pieces, uint64_t arena_bytes,
                                     uint8_t* arena);

// Only the staged upload (pinned buffers, two streams); returns seconds.
Result<double> StagedUpload(const std::vector<UploadPiece>& pieces, uint64_t arena_bytes,
                            uint8_t* arena);

}  // namespace wg::cuda
#endif  // WG_HAVE_CUDA
