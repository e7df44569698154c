#include "cuda_upload.h"

#include <algorithm>
#include <chrono>
#include <cstring>

#include "weightgate/core/thread_pool.h"

namespace wg::cuda {

uint64_t LayOutArena(std::vector<UploadPiece>& pieces) {
  uint64_t offset = 0;
  for (UploadPiece& p : pieces) {
    p.device_offset = offset;
    offset += (p.bytes + 255) / 256 * 256;
  }
  return offset;
}

void FillStagingWindow(const std::vector<UploadPiece>& pieces, uint64_t begin, uint64_t end,
                       uint8_t* out) {
  // Pieces are in arena order and do not overlap, so their ends are sorted too.
  size_t next = std::partition_point(
                    pieces.begin(), pieces.end(),
                    [&](const UploadPiece& p) { return p.device_offset + p.bytes <= begin; }) -
                pieces.begin();
  uint64_t cursor = begin;
  for (; next < pieces.size(); ++next) {
    const UploadPiece& p = pieces[next];
    if (p.device_offset >= end) break;
    const uint64_t p_end = p.device_offset + p.bytes;
    const uint64_t a = std::max(p.device_offset, begin), b = std::min(p_end, end);
    if (a > cursor) std::memset(out + (cursor - begin), 0, a - cursor);
    if (b > a) std::memcpy(out + (a - begin), p.host + (a - p.device_offset), b - a);
    cursor = std::max(cursor, b);
  }
  if (end > cursor) std::memset(out + (cursor - begin), 0, end - cursor);
}

Status FillStagingWindowParallel(const std::vector<UploadPiece>& pieces, uint64_t begin,
                                 uint64_t end, uint8_t* out) {
  constexpr uint64_t kPart = 4ull << 20;
  const uint64_t parts = (end - begin + kPart - 1) / kPart;
  if (parts <= 1) {
    FillStagingWindow(pieces, begin, end, out);
    return Ok();
  }
  return ThreadPool::Shared().ParallelFor(parts, [&](size_t i) -> Status {
    const uint64_t b = begin + i * kPart, e = std::min(end, b + kPart);
    FillStagingWindow(pieces, b, e, out + (b - begin));
    return Ok();
  });
}

}  // namespace wg::cuda

#ifdef WG_HAVE_CUDA

namespace wg::cuda {
namespace {

// Staging buffer size: large enough that each DMA runs near the link's speed, small
// enough that pinning two of them is cheap.
constexpr uint64_t kStageBytes = 64ull << 20;

double Now() {
  return std::chrono::duration<double>(std::chrono::steady_clock::now().time_since_epoch()).count();
}

// Owns the pinned buffers, streams and events of one staged upload.
struct StagingSet {
  void* pinned[2] = {nullptr, nullptr};
  cudaStream_t streams[2] = {nullptr, nullptr};
  cudaEvent_t events[2] = {nullptr, nullptr};
  ~StagingSet() {
    for (int i = 0; i < 2; ++i) {
      if (streams[i]) cudaStreamSynchronize(streams[i]);
      if (events[i]) cudaEventDestroy(events[i]);
      if (streams[i]) cudaStreamDestroy(streams[i]);
      if (pinned[i]) cudaFreeHost(pinned[i]);
    }
  }
};

}  // namespace

Error CudaError(cudaError_t e, const char* call) {
  return Error(ErrorCode::kIo, std::string("CUDA call failed: ") + cudaGetErrorName(e) + " (" +
                                   cudaGetErrorString(e) + ")")
      .Field(call);
}

Status UseDevice(int device) {
  int n = 0;
  const cudaError_t e = cudaGetDeviceCount(&n);
  if (e != cudaSuccess) {
    cudaGetLastError();
    return Error::Unsupported(std::string("no CUDA device visible: ") + cudaGetErrorString(e));
  }
  if (device < 0 || device >= n)
    return Error::Usage("no such CUDA device")
        .Field("--device")
        .Expected("0.." + std::to_string(n - 1))
        .Found(std::to_string(device));
  WG_CUDA_TRY(cudaSetDevice(device));
  return Ok();
}

DeviceBuffer::~DeviceBuffer() {
  if (ptr_) cudaFree(ptr_);
}

Status DeviceBuffer::Allocate(uint64_t bytes, const char* what) {
  if (ptr_) cudaFree(ptr_);
  ptr_ = nullptr;
  bytes_ = 0;
  if (bytes == 0) return Ok();
  const cudaError_t e = cudaMalloc(&ptr_, bytes);
  if (e != cudaSuccess) {
    ptr_ = nullptr;
    cudaGetLastError();
    return CudaError(e, "cudaMalloc")
        .Field(what)
        .Expected("device memory for " + std::to_string(bytes) + " bytes");
  }
  bytes_ = bytes;
  WG_CUDA_TRY(cudaMemset(ptr_, 0, bytes));
  // cudaMemset runs on the legacy default stream, which does not order work on the
  // non-blocking streams used later: wait for it so that it cannot land on an upload.
  WG_CUDA_TRY(cudaDeviceSynchronize());
  return Ok();
}

Result<double> StagedUpload(const std::vector<UploadPiece>& pieces, uint64_t arena_bytes,
                            uint8_t* arena) {
  if (arena_bytes == 0) return 0.0;
  const uint64_t stage = std::min(kStageBytes, arena_bytes);
  StagingSet s;
  for (int i = 0; i < 2; ++i) {
    WG_CUDA_TRY(cudaHostAlloc(&s.pinned[i], stage, cudaHostAllocDefault));
    WG_CUDA_TRY(cudaStreamCreateWithFlags(&s.streams[i], cudaStreamNonBlocking));
    WG_CUDA_TRY(cudaEventCreateWithFlags(&s.events[i], cudaEventDisableTiming));
  }
  const double start = Now();  // the copies only: pinning is set-up, not bandwidth
  uint64_t window = 0;
  for (uint64_t begin = 0; begin < arena_bytes; begin += stage, ++window) {
    const int b = static_cast<int>(window % 2);
    // The buffer is free again once its previous copy has finished; meanwhile the
    // other stream's copy runs while we fill this one.
    if (window >= 2) WG_CUDA_TRY(cudaEventSynchronize(s.events[b]));
    const uint64_t end = std::min(arena_bytes, begin + stage);
    WG_TRY(FillStagingWindowParallel(pieces, begin, end, static_cast<uint8_t*>(s.pinned[b])));
    WG_CUDA_TRY(cudaMemcpyAsync(arena + begin, s.pinned[b], end - begin, cudaMemcpyHostToDevice,
                                s.streams[b]));
    WG_CUDA_TRY(cudaEventRecord(s.events[b], s.streams[b]));
  }
  for (int i = 0; i < 2; ++i) WG_CUDA_TRY(cudaStreamSynchronize(s.streams[i]));
  return Now() - start;
}

Result<CudaLoadStats> UploadMeasured(const std::vector<UploadPiece>& pieces, uint64_t arena_bytes,
                                     uint8_t* arena) {
  CudaLoadStats stats;
  for (const UploadPiece& p : pieces) stats.bytes += p.bytes;
  const double cold = Now();
  WG_TRY(StagedUpload(pieces, arena_bytes, arena));
  stats.load_seconds = Now() - cold;
  WG_CUDA_TRY(cudaDeviceSynchronize());
  const double start = Now();
  for (const UploadPiece& p : pieces)
    if (p.bytes)
      WG_CUDA_TRY(cudaMemcpy(arena + p.device_offset, p.host, p.bytes, cudaMemcpyHostToDevice));
  // A pageable cudaMemcpy may return before its last DMA lands: time until it has.
  WG_CUDA_TRY(cudaDeviceSynchronize());
  const double plain = Now() - start;
  WG_ASSIGN_OR_RETURN(double warm, StagedUpload(pieces, arena_bytes, arena));
  if (plain > 0) stats.memcpy_gbps = stats.bytes / plain / 1e9;
  if (warm > 0) stats.staged_gbps = stats.bytes / warm / 1e9;
  return stats;
}

}  // namespace wg::cuda
#endif  // WG_HAVE_CUDA
