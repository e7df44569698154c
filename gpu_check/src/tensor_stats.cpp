#include "weightgate/gpu_check/tensor_stats.h"

#include <algorithm>
#include <chrono>
#include <cmath>
#include <cstdio>

#include "kernel_types.h"
#include "weightgate/core/quant.h"

#ifdef WG_HAVE_CUDA
#include "cuda_kernels.h"
#include "cuda_upload.h"
#endif

namespace wg {

void TensorStats::Merge(const TensorStats& o) {
  if (o.finite) {
    min = finite ? std::min(min, o.min) : o.min;
    max = finite ? std::max(max, o.max) : o.max;
  }
  finite += o.finite;
  nan += o.nan;
  inf += o.inf;
  sum += o.sum;
  sum_sq += o.sum_sq;
  sum_abs += o.sum_abs;
}

Result<TensorStats> HostTensorStats(const TensorInfo& t) {
  if (!t.contiguous())
    return Error::Unsupported("strided tensor views have no statistics pass")
        .File(t.file->path())
        .Field(t.name);
  const DTypeInfo& info = Info(t.dtype);
  const uint64_t n = t.elements();
  WG_ASSIGN_OR_RETURN(uint64_t want_bytes, ByteSize(t.dtype, n));
  if (want_bytes != t.nbytes)
    return Error::Malformed("tensor byte size does not match its shape")
        .File(t.file->path())
        .Field(t.name)
        .Expected(std::to_string(want_bytes))
        .Found(std::to_string(t.nbytes));
  constexpr uint64_t kChunk = 1 << 16;  // elements; a multiple of every block size
  std::vector<float> buf(std::min(n, kChunk));
  TensorStats s;
  const uint8_t* base = t.data().data();
  for (uint64_t start = 0; start < n; start += kChunk) {
    const uint64_t count = std::min(kChunk, n - start);
    const uint64_t byte = start / info.block_elems * info.block_bytes;
    WG_TRY(ToF32(t.dtype, base + byte, buf.data(), count));
    for (uint64_t i = 0; i < count; ++i) {
      const float v = buf[i];
      if (std::isnan(v)) {
        ++s.nan;
      } else if (std::isinf(v)) {
        ++s.inf;
      } else {
        const double d = v;
        s.sum += d;
        s.sum_sq += d * d;
        s.sum_abs += std::fabs(d);
        s.min = s.finite ? std::min(s.min, v) : v;
        s.max = s.finite ? std::max(s.max, v) : v;
        ++s.finite;
      }
    }
  }
  return s;
}

std::string CompareTensorStats(const TensorStats& host, const TensorStats& device) {
  auto count = [](const char* what, uint64_t h, uint64_t d) {
    return std::string(what) + ": host " + std::to_string(h) + ", device " + std::to_string(d);
  };
  if (host.finite != device.finite) return count("finite values", host.finite, device.finite);
  if (host.nan != device.nan) return count("NaN", host.nan, device.nan);
  if (host.inf != device.inf) return count("Inf", host.inf, device.inf);
  char buf[160];
  // -0.0 == +0.0 here on purpose: which zero a min/max reduction keeps is unspecified.
  if (host.min != device.min || host.max != device.max) {
    std::snprintf(buf, sizeof buf, "min/max: host %.9g/%.9g, device %.9g/%.9g", host.min, host.max,
                  device.min, device.max);
    return buf;
  }
  // Summation order is the only difference: allow 1e-9 of the magnitude summed.
  auto close = [](double a, double b, double scale) {
    return std::fabs(a - b) <= 1e-9 * scale + 1e-30;
  };
  if (!close(host.sum, device.sum, host.sum_abs) ||
      !close(host.sum_abs, device.sum_abs, host.sum_abs) ||
      !close(host.sum_sq, device.sum_sq, host.sum_sq)) {
    std::snprintf(buf, sizeof buf,
                  "sums: host %.17g/%.17g, device %.17g/%.17g (sum/sum of squares)", host.sum,
                  host.sum_sq, device.sum, device.sum_sq);
    return buf;
  }
  return "";
}

bool DeviceStatsSupported(DType t) {
  return cuda::KernelTypeOf(t) >= 0;
}

#ifndef WG_HAVE_CUDA

Result<DeviceTensorStats> CudaTensorStats(const TensorCatalog&, int, uint64_t) {
  return Error::Unsupported("built without CUDA (nvcc was not found at build time)");
}

#else

namespace {

// A block-aligned slice of one tensor.
struct Slice {
  size_t tensor;
  uint64_t byte, bytes, elements;
};

double Seconds(std::chrono::steady_clock::time_point since) {
  return std::chrono::duration<double>(std::chrono::steady_clock::now() - since).count();
}

}  // namespace

Result<DeviceTensorStats> CudaTensorStats(const TensorCatalog& catalog, int device,
                                          uint64_t budget_bytes) {
  WG_TRY(cuda::UseDevice(device));
  DeviceTensorStats out;
  out.stats.resize(catalog.tensors.size());

  // Slices no larger than the budget, then batches of slices that fit it together.
  std::vector<std::vector<Slice> > batches(1);
  uint64_t batch_bytes = 0, arena_max = 0;
  for (size_t i = 0; i < catalog.tensors.size(); ++i) {
    const TensorInfo& t = catalog.tensors[i];
    if (!t.contiguous() || !DeviceStatsSupported(t.dtype)) continue;
    const DTypeInfo& info = Info(t.dtype);
    WG_ASSIGN_OR_RETURN(uint64_t want, ByteSize(t.dtype, t.elements()));
    if (want != t.nbytes) continue;  // the host pass reports the malformed tensor
    out.stats[i] = TensorStats{};
    const uint64_t max_slice = std::max<uint64_t>(
        info.block_bytes, budget_bytes / 2 / info.block_bytes * info.block_bytes);
    for (uint64_t byte = 0; byte < t.nbytes; byte += max_slice) {
      const uint64_t bytes = std::min(max_slice, t.nbytes - byte);
      const uint64_t aligned = (bytes + 255) / 256 * 256;
      if (batch_bytes + aligned > budget_bytes && !batches.back().empty()) {
        batches.emplace_back();
        batch_bytes = 0;
      }
      batches.back().push_back({i, byte, bytes, bytes / info.block_bytes * info.block_elems});
      batch_bytes += aligned;
      arena_max = std::max(arena_max, batch_bytes);
    }
  }
  cuda::DeviceBuffer arena, partials;
  WG_TRY(arena.Allocate(arena_max, "tensor batch"));
  WG_TRY(partials.Allocate(cuda::kStatsBlocks * sizeof(cuda::DevStats), "statistics"));
  std::vector<cuda::DevStats> host_partials(cuda::kStatsBlocks);
  for (const std::vector<Slice>& batch : batches) {
    if (batch.empty()) continue;
    std::vector<cuda::UploadPiece> pieces;
    for (const Slice& s : batch)
      pieces.push_back({catalog.tensors[s.tensor].data().data() + s.byte, s.bytes, 0});
    const uint64_t arena_bytes = cuda::LayOutArena(pieces);
    WG_ASSIGN_OR_RETURN(double up, cuda::StagedUpload(pieces, arena_bytes, arena.get()));
    out.upload_seconds += up;
    const auto start = std::chrono::steady_clock::now();
    for (size_t k = 0; k < batch.size(); ++k) {
      const Slice& s = batch[k];
      out.bytes += s.bytes;
      WG_CUDA_TRY(cuda::LaunchTensorStats(arena.get() + pieces[k].device_offset,
                                          cuda::KernelTypeOf(catalog.tensors[s.tensor].dtype),
                                          s.elements, partials.as<cuda::DevStats>(), nullptr));
      WG_CUDA_TRY(cudaMemcpy(host_partials.data(), partials.get(),
                             host_partials.size() * sizeof(cuda::DevStats),
                             cudaMemcpyDeviceToHost));
      for (const cuda::DevStats& p : host_partials) {
        TensorStats t;
        t.finite = p.finite;
        t.nan = p.nan;
        t.inf = p.inf;
        t.sum = p.sum;
        t.sum_sq = p.sum_sq;
        t.sum_abs = p.sum_abs;
        t.min = p.finite ? p.min : 0;
        t.max = p.finite ? p.max : 0;
        out.stats[s.tensor]->Merge(t);
      }
    }
    out.compute_seconds += Seconds(start);
  }
  return out;
}

#endif  // WG_HAVE_CUDA

}  // namespace wg
