// The generic tensor pass: for a model whose architecture has no forward pass, upload
// every tensor to the GPU, dequantize it there and compute statistics on the device,
// then compare them with the same statistics computed on the host from the file.
//
// What it catches: an upload or a dequantization kernel that changes values, a GPU
// that computes wrongly, and (host and device alike) NaN or Inf in the weights. The host
// half always runs, with or without CUDA, so a CPU-only machine still gets the census.
//
// Definitions, identical on both sides: values are dequantized exactly as core/quant.cpp
// does (the device kernels reproduce it bit for bit); sum, sum of squares and sum of
// absolute values are accumulated in double over the finite values; min and max are
// over the finite values; NaN and Inf are counted apart.
#pragma once

#include <cstdint>
#include <optional>
#include <string>
#include <vector>

#include "weightgate/core/error.h"
#include "weightgate/formats/tensor_catalog.h"

namespace wg {

struct TensorStats {
  uint64_t finite = 0, nan = 0, inf = 0;
  double sum = 0, sum_sq = 0, sum_abs = 0;
  float min = 0, max = 0;  // over finite values; 0 when there are none

  void Merge(const TensorStats& o);
};

// Host statistics of one contiguous tensor (any dtype ToF32 converts), streamed in
// bounded chunks.
Result<TensorStats> HostTensorStats(const TensorInfo& t);

// Empty when `device` matches `host`: counts, min and max exactly (the values are
// bit-identical), sums to 1e-9 relative (only the summation order differs). Otherwise
// the first difference in words.
std::string CompareTensorStats(const TensorStats& host, const TensorStats& device);

// Whether the device pass dequantizes this dtype (F32, F16, BF16, Q8_0, Q4_0, Q4_K, Q6_K).
bool DeviceStatsSupported(DType t);

// Device statistics of every tensor of `catalog` whose dtype DeviceStatsSupported, in
// catalogue order (others: nullopt). Tensors are uploaded in batches that fit
// `budget_bytes` of device memory (large tensors in block-aligned pieces).
struct DeviceTensorStats {
  std::vector<std::optional<TensorStats>> stats;  // per catalogue tensor
  uint64_t bytes = 0;
  double upload_seconds = 0, compute_seconds = 0;
};
Result<DeviceTensorStats> CudaTensorStats(const TensorCatalog& catalog, int device,
                                          uint64_t budget_bytes = 1ull << 30);

}  // namespace wg
