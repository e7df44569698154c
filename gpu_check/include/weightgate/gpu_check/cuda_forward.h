// CudaForward: the CUDA twin of CpuReference.
//
// Same input (a LlamaModel view of a mapped file), same outputs (logits per position),
// so that any difference between the two is the GPU's. Weights are uploaded once in
// their file dtype (F32, F16, BF16, Q8_0, Q4_0) and dequantized inside the kernels;
// F32 matrices go through cuBLAS (cublasSgemv), the others through gpu_check's own
// matrix-vector kernel with FP32 activations and accumulation (cuBLAS's mixed-precision
// products would first round the activations to the weight dtype, measuring that
// rounding rather than the artifact). RMSNorm, RoPE, attention softmax and SwiGLU
// accumulate in double like the CPU twin.
//
// The header compiles without CUDA: built without nvcc, Create() returns kUnsupported
// ("built without CUDA") and callers report the CPU pass only.
#pragma once

#include <cstdint>
#include <memory>
#include <string>
#include <vector>

#include "weightgate/core/error.h"
#include "weightgate/gpu_check/llama_model.h"

namespace wg {

// One device as the report names it.
struct CudaDeviceInfo {
  int index = 0;
  std::string name;
  int compute_major = 0, compute_minor = 0;
  uint64_t memory_bytes = 0;
  int driver_version = 0;   // cudaDriverGetVersion, e.g. 13000
  int runtime_version = 0;  // cudaRuntimeGetVersion
};

// Visible devices with their versions; an error (kUnsupported) says why there are none:
// "built without CUDA" or "no CUDA device visible: <cudaGetDeviceCount's reason>".
Result<std::vector<CudaDeviceInfo>> ListCudaDevices();

// Host -> device upload figures. The first (cold) upload is the load time; the
// bandwidths are measured again on warm pages so that the staged path (pinned buffers,
// two streams overlapping the staging copy with the DMA) and a plain pageable
// cudaMemcpy of the same bytes are compared on equal terms.
struct CudaLoadStats {
  uint64_t bytes = 0;
  double load_seconds = 0;  // cold staged upload
  double staged_gbps = 0;   // warm staged upload, GB/s (1e9 bytes)
  double memcpy_gbps = 0;   // warm plain cudaMemcpy, GB/s
};

class CudaForward {
 public:
  // Uploads the model's weights to `device` with a KV cache for `max_seq` positions
  // (0: the model's seq_len). The model must outlive the object.
  static Result<std::unique_ptr<CudaForward>> Create(const LlamaModel& model, int device,
                                                     int32_t max_seq);
  ~CudaForward();
  CudaForward(const CudaForward&) = delete;
  CudaForward& operator=(const CudaForward&) = delete;

  // Feeds `token` at `pos` (0, 1, 2, ... in order) and returns the logits, copied back.
  Result<const std::vector<float>*> Forward(int32_t token, int32_t pos);
  const CudaLoadStats& load_stats() const;

  // Flips one bit of a tensor's device copy, as a faulty GPU or upload would: the check
  // must then fail. For tests.
  Status FlipWeightBitForTest(const std::string& tensor, uint64_t byte, int bit);

  struct Impl;

 private:
  explicit CudaForward(std::unique_ptr<Impl> impl);
  std::unique_ptr<Impl> impl_;
};

}  // namespace wg
