// gpu_check's CUDA kernels: the forward pass's building blocks and the generic tensor
// statistics. Simple on purpose (one warp per matrix row, one block per reduction): a
// smoke check must be obviously right before it is fast, and the CPU twin
// (cpu_reference.cpp, core/quant.cpp) is what every kernel is compared against.
//
// Dequantization (dequant_element.h) reproduces core/quant.cpp bit for bit; the generic
// tensor pass relies on this to compare min/max exactly.
#include <cfloat>
#include <cmath>

#include "cuda_kernels.h"
#include "dequant_element.h"

namespace wg::cuda {
namespace {

constexpr int kBlock = 256;  // threads per block for reductions and element-wise kernels

__global__ void MatVecKernel(DevMatrix w, const float* __restrict__ x, float* __restrict__ y) {
  const int64_t row = (static_cast<int64_t>(blockIdx.x) * blockDim.x + threadIdx.x) / 32;
  const int lane = threadIdx.x % 32;
  if (row >= w.rows) return;  // uniform per warp, so the shuffles below see full warps
  const uint8_t* r = w.data + static_cast<uint64_t>(row) * w.row_bytes;
  float acc = 0.f;
  for (int64_t j = lane; j < w.cols; j += 32) acc += DequantAt(r, w.type, j) * x[j];
  for (int off = 16; off > 0; off /= 2) acc += __shfl_down_sync(0xffffffffu, acc, off);
  if (lane == 0) y[row] = acc;
}

__global__ void DequantRowKernel(const uint8_t* src, int type, int64_t n, float* out) {
  for (int64_t i = static_cast<int64_t>(blockIdx.x) * blockDim.x + threadIdx.x; i < n;
       i += static_cast<int64_t>(gridDim.x) * blockDim.x)
    out[i] = DequantAt(src, type, i);
}

// Sum over the block of one double per thread; every thread gets the total. The shared
// array is reused by the caller's next reduction only after the trailing barrier.
__device__ double BlockSum(double v, double* shared) {
  shared[threadIdx.x] = v;
  __syncthreads();
  for (int s = blockDim.x / 2; s > 0; s /= 2) {
    if (threadIdx.x < s) shared[threadIdx.x] += shared[threadIdx.x + s];
    __syncthreads();
  }
  const double total = shared[0];
  __syncthreads();
  return total;
}

__device__ double BlockMax(double v, double* shared) {
  shared[threadIdx.x] = v;
  __syncthreads();
  for (int s = blockDim.x / 2; s > 0; s /= 2) {
    if (threadIdx.x < s) shared[threadIdx.x] = fmax(shared[threadIdx.x], shared[threadIdx.x + s]);
    __syncthreads();
  }
  const double total = shared[0];
  __syncthreads();
  return total;
}

__global__ void RmsNormKernel(const float* x, const uint8_t* w, int wtype, int n, double eps,
                              float* out) {
  __shared__ double shared[kBlock];
  double ss = 0;
  for (int i = threadIdx.x; i < n; i += blockDim.x) ss += static_cast<double>(x[i]) * x[i];
  const double scale = 1.0 / sqrt(BlockSum(ss, shared) / n + eps);
  // Every x[i] was read before BlockSum's barriers, so writing in place is safe.
  for (int i = threadIdx.x; i < n; i += blockDim.x)
    out[i] = static_cast<float>(DequantAt(w, wtype, i) * (scale * x[i]));
}

__global__ void RopeKernel(float* q, float* k, const double* inv_freq, int n_heads, int n_kv_heads,
                           int hs, bool adjacent, int pos) {
  const int pairs = hs / 2;
  const int idx = blockIdx.x * blockDim.x + threadIdx.x;
  if (idx >= (n_heads + n_kv_heads) * pairs) return;
  const int head = idx / pairs, j = idx % pairs;
  float* v = head < n_heads ? q + head * hs : k + (head - n_heads) * hs;
  double s, c;
  sincos(pos * inv_freq[j], &s, &c);
  const int a = adjacent ? 2 * j : j;
  const int b = adjacent ? 2 * j + 1 : j + pairs;
  const double v0 = v[a], v1 = v[b];
  v[a] = static_cast<float>(v0 * c - v1 * s);
  v[b] = static_cast<float>(v0 * s + v1 * c);
}

// One block per query head.
__global__ void AttentionKernel(const float* q, const float* key_cache, const float* value_cache,
                                double* scores, int hs, int kv_dim, int kv_mul, int pos,
                                int max_seq, float* out) {
  __shared__ double shared[kBlock];
  const int h = blockIdx.x;
  const float* qh = q + h * hs;
  const int kv_off = (h / kv_mul) * hs;
  double* sc = scores + static_cast<int64_t>(h) * max_seq;
  const double sqrt_hs = sqrt(static_cast<double>(hs));
  double local_max = -INFINITY;
  for (int t = threadIdx.x; t <= pos; t += blockDim.x) {
    const float* kt = key_cache + static_cast<int64_t>(t) * kv_dim + kv_off;
    double s = 0;
    for (int i = 0; i < hs; ++i) s += static_cast<double>(qh[i]) * kt[i];
    sc[t] = s / sqrt_hs;
    local_max = fmax(local_max, sc[t]);
  }
  const double max_score = BlockMax(local_max, shared);
  double local_sum = 0;
  for (int t = threadIdx.x; t <= pos; t += blockDim.x) {
    sc[t] = exp(sc[t] - max_score);
    local_sum += sc[t];
  }
  // BlockSum's barriers also make every sc[t] written above visible to the whole block.
  const double sum = BlockSum(local_sum, shared);
  for (int i = threadIdx.x; i < hs; i += blockDim.x) {
    double o = 0;
    for (int t = 0; t <= pos; ++t)
      o += (sc[t] / sum) * value_cache[static_cast<int64_t>(t) * kv_dim + kv_off + i];
    out[h * hs + i] = static_cast<float>(o);
  }
}

__global__ void AddKernel(float* x, const float* y, int n) {
  const int i = blockIdx.x * blockDim.x + threadIdx.x;
  if (i < n) x[i] += y[i];
}

__global__ void SwiGluKernel(float* gate, const float* up, int n) {
  const int i = blockIdx.x * blockDim.x + threadIdx.x;
  if (i >= n) return;
  const double g = gate[i];
  gate[i] = static_cast<float>(g / (1.0 + exp(-g)) * up[i]);
}

__global__ void TensorStatsKernel(const uint8_t* data, int type, uint64_t n, DevStats* partials) {
  __shared__ DevStats shared[kBlock];
  DevStats s{0, 0, 0, FLT_MAX, -FLT_MAX, 0, 0, 0};
  for (uint64_t i = static_cast<uint64_t>(blockIdx.x) * blockDim.x + threadIdx.x; i < n;
       i += static_cast<uint64_t>(gridDim.x) * blockDim.x) {
    const float v = DequantAt(data, type, i);
    if (isnan(v)) {
      ++s.nan;
    } else if (isinf(v)) {
      ++s.inf;
    } else {
      const double d = v;
      s.sum += d;
      s.sum_sq += d * d;
      s.sum_abs += fabs(d);
      s.min = fminf(s.min, v);
      s.max = fmaxf(s.max, v);
      ++s.finite;
    }
  }
  shared[threadIdx.x] = s;
  __syncthreads();
  for (int stride = blockDim.x / 2; stride > 0; stride /= 2) {
    if (threadIdx.x < stride) {
      DevStats& a = shared[threadIdx.x];
      const DevStats& b = shared[threadIdx.x + stride];
      a.sum += b.sum;
      a.sum_sq += b.sum_sq;
      a.sum_abs += b.sum_abs;
      a.min = fminf(a.min, b.min);
      a.max = fmaxf(a.max, b.max);
      a.finite += b.finite;
      a.nan += b.nan;
      a.inf += b.inf;
    }
    __syncthreads();
  }
  if (threadIdx.x == 0) partials[blockIdx.x] = shared[0];
}

unsigned Blocks(int64_t n, int per_block) {
  return static_cast<unsigned>((n + per_block - 1) / per_block);
}

}  // namespace

cudaError_t LaunchMatVec(const DevMatrix& w, const float* x, float* y, cudaStream_t s) {
  if (w.rows <= 0 || w.cols <= 0) return cudaSuccess;
  MatVecKernel<<<Blocks(w.rows, kBlock / 32), kBlock, 0, s>>>(w, x, y);
  return cudaGetLastError();
}

cudaError_t LaunchDequantRow(const uint8_t* src, int type, int64_t n, float* out, cudaStream_t s) {
  if (n <= 0) return cudaSuccess;
  const unsigned blocks = Blocks(n, kBlock) < 1024u ? Blocks(n, kBlock) : 1024u;
  DequantRowKernel<<<blocks, kBlock, 0, s>>>(src, type, n, out);
  return cudaGetLastError();
}

cudaError_t LaunchRmsNorm(const float* x, const uint8_t* w, int wtype, int n, double eps,
                          float* out, cudaStream_t s) {
  RmsNormKernel<<<1, kBlock, 0, s>>>(x, w, wtype, n, eps, out);
  return cudaGetLastError();
}

cudaError_t LaunchRope(float* q, float* k, const double* inv_freq, int n_heads, int n_kv_heads,
                       int head_size, bool adjacent_pairs, int pos, cudaStream_t s) {
  const int threads = (n_heads + n_kv_heads) * (head_size / 2);
  if (threads <= 0) return cudaSuccess;
  RopeKernel<<<Blocks(threads, kBlock), kBlock, 0, s>>>(q, k, inv_freq, n_heads, n_kv_heads,
                                                        head_size, adjacent_pairs, pos);
  return cudaGetLastError();
}

cudaError_t LaunchAttention(const float* q, const float* key_cache, const float* value_cache,
                            double* scores, int n_heads, int head_size, int kv_dim, int kv_mul,
                            int pos, int max_seq, float* out, cudaStream_t s) {
  AttentionKernel<<<n_heads, kBlock, 0, s>>>(q, key_cache, value_cache, scores, head_size, kv_dim,
                                             kv_mul, pos, max_seq, out);
  return cudaGetLastError();
}

cudaError_t LaunchAdd(float* x, const float* y, int n, cudaStream_t s) {
  if (n <= 0) return cudaSuccess;
  AddKernel<<<Blocks(n, kBlock), kBlock, 0, s>>>(x, y, n);
  return cudaGetLastError();
}

cudaError_t LaunchSwiGlu(float* gate, const float* up, int n, cudaStream_t s) {
  if (n <= 0) return cudaSuccess;
  SwiGluKernel<<<Blocks(n, kBlock), kBlock, 0, s>>>(gate, up, n);
  return cudaGetLastError();
}

cudaError_t LaunchTensorStats(const uint8_t* data, int type, uint64_t n, DevStats* partials,
                              cudaStream_t s) {
  TensorStatsKernel<<<kStatsBlocks, kBlock, 0, s>>>(data, type, n, partials);
  return cudaGetLastError();
}

}  // namespace wg::cuda
