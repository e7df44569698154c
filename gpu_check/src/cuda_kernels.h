// Host launchers for gpu_check's CUDA kernels (cuda_kernels.cu).
//
// This header is plain C++ over the CUDA runtime API: the host code that drives the
// kernels (cuda_forward.cpp, tensor_stats.cpp) is compiled by the host compiler with the
// rest of the project, and only cuda_kernels.cu goes through nvcc. Every launcher checks
// its launch and returns the cudaError_t; execution errors surface at the next
// synchronisation, which the callers check too. Only included when WG_HAVE_CUDA.
#pragma once

#include <cuda_runtime.h>

#include <cstdint>

#include "dequant_element.h"  // WType

namespace wg::cuda {

// A row-major [rows, cols] matrix in device memory in its file's dtype.
struct DevMatrix {
  const uint8_t* data = nullptr;
  int type = kWF32;
  uint64_t row_bytes = 0;
  int64_t rows = 0, cols = 0;
};

// y[r] = sum_j w[r][j] * x[j]: one warp per row, weights dequantized in the kernel,
// FP32 accumulation.
cudaError_t LaunchMatVec(const DevMatrix& w, const float* x, float* y, cudaStream_t s);
// out[i] = element i of the n-element row at `src` (embedding lookup).
cudaError_t LaunchDequantRow(const uint8_t* src, int type, int64_t n, float* out, cudaStream_t s);
// out = w * x / rms(x), the sum of squares in double; out may equal x.
cudaError_t LaunchRmsNorm(const float* x, const uint8_t* w, int wtype, int n, double eps,
                          float* out, cudaStream_t s);
// Rotates q (n_heads heads) and k (n_kv_heads heads) at `pos`; angles in double.
cudaError_t LaunchRope(float* q, float* k, const double* inv_freq, int n_heads, int n_kv_heads,
                       int head_size, bool adjacent_pairs, int pos, cudaStream_t s);
// Grouped-query attention of q against positions 0..pos of one layer's caches
// ([max_seq][kv_dim] each); `scores` is scratch of n_heads * max_seq doubles.
cudaError_t LaunchAttention(const float* q, const float* key_cache, const float* value_cache,
                            double* scores, int n_heads, int head_size, int kv_dim, int kv_mul,
                            int pos, int max_seq, float* out, cudaStream_t s);
cudaError_t LaunchAdd(float* x, const float* y, int n, cudaStream_t s);  // x += y
cudaError_t LaunchSwiGlu(float* gate, const float* up, int n,
                         cudaStream_t s);  // gate = silu(gate)*up

// Statistics of dequantized values: sums over finite values, NaN and Inf counted apart.
struct DevStats {
  double sum, sum_sq, sum_abs;
  float min, max;
  unsigned long long finite, nan, inf;
};
// Number of partial results LaunchTensorStats writes (one per thread block).
constexpr int kStatsBlocks = 256;
// Reduces n elements (a whole number of blocks for quantized types) at `data` into
// kStatsBlocks partials, combined by the host.
cudaError_t LaunchTensorStats(const uint8_t* data, int type, uint64_t n, DevStats* partials,
                              cudaStream_t s);

}  // namespace wg::cuda
