// Streaming tensor transforms: gather (contiguous, strided, row-permuted), cast or
// quantize, write, release. Memory per tensor is two chunk buffers, whatever its size.
#include <algorithm>
#include <atomic>
#include <cstring>
#include <numeric>

#include "convert_internal.h"
#include "weightgate/core/quant.h"

namespace wg::convert_detail {
namespace {

constexpr uint64_t kDefaultChunkBytes = 8 << 20;
std::atomic<uint64_t> g_chunk_bytes{kDefaultChunkBytes};

// Casting is memory-bound: two threads saturate a core pair's bandwidth and leave the
// rest of the machine alone.
ThreadPool& CastPool() {
  static ThreadPool pool(2);
  return pool;
}

Error PlanError(const TensorPlan& p, std::string message) {
  return Error::Unsupported(std::move(message))
      .File(p.src.file ? p.src.file->path() : "")
      .Field(p.src.name);
}

// Copies elements [e0, e1) of a strided view, in row-major logical order, into `dst`.
void GatherStrided(const TensorInfo& t, uint64_t item, uint64_t e0, uint64_t e1, uint8_t* dst) {
  const uint8_t* base = t.file->bytes().data() + t.offset;
  const size_t nd = t.shape.size();
  const uint64_t last = t.shape[nd - 1];
  const int64_t last_stride = t.strides[nd - 1];
  uint64_t e = e0;
  while (e < e1) {
    // Offset of element e's row along the last dimension, from its outer indices.
    uint64_t outer = e / last, inner = e % last;
    int64_t off = 0;
    for (size_t d = nd - 1; d-- > 0;) {
      off += static_cast<int64_t>(outer % t.shape[d]) * t.strides[d];
      outer /= t.shape[d];
    }
    const uint64_t run = std::min(last - inner, e1 - e);
    off += static_cast<int64_t>(inner) * last_stride;
    for (uint64_t k = 0; k < run; ++k, off += last_stride, dst += item)
      std::memcpy(dst, base + static_cast<uint64_t>(off) * item, item);
    e += run;
  }
}

}  // namespace

void TrackProgress(std::vector<TensorWriteSpec>* specs, Progress* progress) {
  for (TensorWriteSpec& s : *specs) {
    s.produce = [inner = std::move(s.produce), progress](const ByteSink& sink) -> Status {
      return inner([&](Bytes b) -> Status {
        WG_TRY(sink(b));
        progress->Add(b.size());
        return Ok();
      });
    };
  }
}

uint64_t ChunkBytes() {
  return g_chunk_bytes.load();
}
void SetChunkBytesForTesting(uint64_t bytes) {
  g_chunk_bytes.store(bytes ? bytes : kDefaultChunkBytes);
}

uint64_t SourceRow(RowOrder order, uint64_t rows, uint64_t n_head, uint64_t r) {
  if (order == RowOrder::kKeep) return r;
  const uint64_t hd = rows / n_head, half = hd / 2;
  const uint64_t h = r / hd, w = r % hd;
  if (order == RowOrder::kHfToGguf) {
    // out (n_head, half, 2) <- in (n_head, 2, half): reshape + swapaxes(1, 2).
    const uint64_t i = w / 2, j = w % 2;
    return h * hd + j * half + i;
  }
  // out (n_head, 2, half) <- in (n_head, half, 2).
  const uint64_t j = w / half, i = w % half;
  return h * hd + i * 2 + j;
}

Result<TensorWriteSpec> MakeWriteSpec(const TensorPlan& plan) {
  const TensorInfo& src = plan.src;
  if (plan.scales) {
    const uint64_t n = src.elements();
    if (src.dtype != DType::kI8 || !src.contiguous() || plan.group_size == 0 ||
        n % plan.group_size != 0 || src.nbytes != n || plan.scales->dtype != DType::kF32 ||
        plan.scales->nbytes != n / plan.group_size * 4)
      return Error::Malformed("llama2.c int8 values and scales do not match the group size")
          .File(src.file ? src.file->path() : "")
          .Field(src.name)
          .Expected(std::to_string(n / std::max<uint64_t>(plan.group_size, 1) * 4) +
                    " bytes of F32 scales")
          .Found(std::to_string(plan.scales->nbytes));
  }
  const DTypeInfo& si = Info(plan.scales ? DType::kF32 : src.dtype);
  const DTypeInfo& di = Info(plan.dtype);
  if (!plan.scales && src.dtype != plan.dtype) {
    if (!(si.is_float || si.is_quantized) || src.dtype == DType::kF8E4M3 ||
        src.dtype == DType::kF8E5M2)
      return PlanError(
          plan, "cannot cast a " + std::string(si.name) + " tensor to " + std::string(di.name));
    if (!(plan.dtype == DType::kF32 || plan.dtype == DType::kF16 || plan.dtype == DType::kBF16 ||
          plan.dtype == DType::kF64 || plan.dtype == DType::kQ8_0 || plan.dtype == DType::kQ4_0))
      return PlanError(plan, "cannot write " + std::string(di.name) + " tensors");
  }
  WG_ASSIGN_OR_RETURN(uint64_t elements, ElementCount(src.shape));
  const uint64_t cols = src.shape.empty() ? 1 : src.shape.back();
  if (di.is_quantized && cols % di.block_elems != 0)
    return PlanError(plan, "row length is not a multiple of the " + std::string(di.name) + " block")
        .Expected("a multiple of " + std::to_string(di.block_elems))
        .Found(std::to_string(cols));
  Result<uint64_t> out_bytes = ByteSize(plan.dtype, elements);
  if (!out_bytes.ok()) return std::move(out_bytes).error().Field(src.name);
  if (!src.contiguous() && si.block_elems != 1)
    return PlanError(plan, "strided view of a block-quantized tensor");

  uint64_t rows = 1, row_elems = elements, n_head = plan.n_head;
  if (plan.order != RowOrder::kKeep) {
    rows = src.shape.empty() ? 1 : src.shape[0];
    row_elems = rows ? elements / rows : 0;
    if (n_head == 0 || rows % (2 * n_head) != 0)
      return PlanError(plan, "rows cannot be split into rotary pairs of " + std::to_string(n_head) +
                                 " heads")
          .Found(std::to_string(rows) + " rows");
    if (si.is_quantized && row_elems % si.block_elems != 0)
      return PlanError(plan, "quantized rows do not hold whole blocks");
  }

  TensorWriteSpec spec;
  spec.name = plan.name;
  spec.dtype = plan.dtype;
  spec.shape = src.shape;
  spec.nbytes = *out_bytes;
  if (!plan.scales && src.dtype == plan.dtype && src.contiguous() &&
      plan.order == RowOrder::kKeep) {
    TensorWriteSpec copy = CopyTensor(src);
    copy.name = plan.name;
    return copy;
  }

  spec.produce = [plan, elements, rows, row_elems, n_head](const ByteSink& sink) -> Status {
    const TensorInfo& t = plan.src;
    const bool grouped = plan.scales.has_value();
    // What the cast reads: the stored dtype, or F32 for llama2.c's int8 + scale groups.
    const DType from = grouped ? DType::kF32 : t.dtype, to = plan.dtype;
    const DTypeInfo& fi = Info(from);
    const DTypeInfo& ti = Info(to);
    const uint64_t block = std::lcm<uint64_t>(fi.block_elems, ti.block_elems);
    const uint64_t widest = std::max<uint64_t>(std::max(fi.block_bytes / fi.block_elems, 1u),
                                               std::max(ti.block_bytes / ti.block_elems, 1u));
    const bool permuted = plan.order != RowOrder::kKeep;
    // A chunk is a whole number of conversion blocks, or of heads when rows move.
    uint64_t unit = block;
    if (permuted) unit = (rows / n_head) * row_elems;
    uint64_t chunk = std::max<uint64_t>(1, ChunkBytes() / widest / unit) * unit;
    chunk = std::min(chunk, std::max<uint64_t>(elements, 1));

    const bool gather = permuted || !t.contiguous() || grouped;
    std::vector<uint8_t> src_buf, dst_buf;
    if (gather) src_buf.resize(ByteSize(from, chunk).value());
    if (from != to) dst_buf.resize(ByteSize(to, chunk).value());
    const uint8_t* base = t.file->bytes().data() + t.offset;
    const uint64_t item = Info(t.dtype).block_elems == 1 ? Info(t.dtype).block_bytes : 0;

    // Source elements [s, s + count), in row-major order, into dst as `from`.
    auto read = [&](uint64_t s, uint64_t count, uint8_t* dst) {
      if (grouped) {
        const int8_t* q = reinterpret_cast<const int8_t*>(base);
        const uint8_t* sc = plan.scales->file->bytes().data() + plan.scales->offset;
        float* f = reinterpret_cast<float*>(dst);
        for (uint64_t k = 0; k < count; ++k) {
          float scale;
          std::memcpy(&scale, sc + (s + k) / plan.group_size * 4, 4);
          f[k] = static_cast<float>(q[s + k]) * scale;  // runq.c's dequantize
        }
      } else if (t.contiguous()) {
        std::memcpy(dst, base + ByteSize(t.dtype, s).value(), ByteSize(t.dtype, count).value());
      } else {
        GatherStrided(t, item, s, s + count, dst);
      }
    };

    const uint64_t row_out = permuted ? ByteSize(from, row_elems).value() : 0;
    for (uint64_t e0 = 0; e0 < elements; e0 += chunk) {
      const uint64_t n = std::min(chunk, elements - e0);
      const uint64_t src_off = ByteSize(t.dtype, e0).value();
      const uint64_t src_len = ByteSize(t.dtype, n).value();
      const uint8_t* in = base + src_off;
      if (permuted) {
        // Rows of a head come from the same head: the chunk's source is its own range.
        const uint64_t r0 = e0 / row_elems, r1 = (e0 + n) / row_elems;
        for (uint64_t r = r0; r < r1; ++r)
          read(SourceRow(plan.order, rows, n_head, r) * row_elems, row_elems,
               src_buf.data() + (r - r0) * row_out);
        in = src_buf.data();
      } else if (gather) {
        read(e0, n, src_buf.data());
        in = src_buf.data();
      }

      Bytes out(in, ByteSize(from, n).value());
      if (from != to) {
        // Two halves, each a whole number of blocks, cast at once.
        const uint64_t blocks = n / block;
        const uint64_t first = (blocks + 1) / 2 * block;
        const uint64_t parts[2][2] = {{0, std::min(first, n)}, {std::min(first, n), n}};
        WG_TRY(CastPool().ParallelFor(2, [&](size_t i) -> Status {
          const uint64_t a = parts[i][0], b = parts[i][1];
          if (a == b) return Ok();
          return Convert(from, in + ByteSize(from, a).value(), to,
                         dst_buf.data() + ByteSize(to, a).value(), b - a);
        }));
        out = Bytes(dst_buf.data(), ByteSize(to, n).value());
      }
      WG_TRY(sink(out));
      if (t.contiguous()) t.file->Release(t.offset + src_off, src_len);
    }
    if (!t.contiguous()) t.file->Release(t.offset, t.nbytes);
    if (grouped) plan.scales->file->Release(plan.scales->offset, plan.scales->nbytes);
    return Ok();
  };
  return spec;
}

}  // namespace wg::convert_detail
