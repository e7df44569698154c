// Element conversions and llama.cpp's block quantization; see quant.h.
//
// This file is compiled with -ffp-contract=off (core/CMakeLists.txt): the compiler must
// not fuse a multiply and an add where the reference rounds twice, or fuse differently
// on different machines. Where the reference's result depends on fusion (Q4_0), the
// code below states the rounding it wants explicitly.
#include "weightgate/core/quant.h"

#include <algorithm>
#include <cmath>
#include <cstring>

#include "float_simd.h"
#include "weightgate/core/half.h"

namespace wg {
namespace {

// Blocks of the read-only K-quants, as in ggml-common.h (QK_K = 256).
struct BlockQ4K {
  uint16_t d;
  uint16_t dmin;
  uint8_t scales[12];
  uint8_t qs[128];
};
struct BlockQ6K {
  uint8_t ql[128];
  uint8_t qh[64];
  int8_t scales[16];
  uint16_t d;
};
static_assert(sizeof(BlockQ4K) == 144 && sizeof(BlockQ6K) == 210);

// Loads a block or value from a byte pointer that need not be aligned (a safetensors
// tensor may start at any byte).
template <typename T>
T Load(const uint8_t* p) {
  T v;
  std::memcpy(&v, p, sizeof v);
  return v;
}

void DequantizeQ8_0(const uint8_t* src, float* y, uint64_t nb) {
  for (uint64_t i = 0; i < nb; ++i, y += 32) {
    const auto b = Load<BlockQ8_0>(src + i * sizeof(BlockQ8_0));
    const float d = F16ToF32(b.d);
    for (int j = 0; j < 32; ++j) y[j] = static_cast<float>(b.qs[j]) * d;
  }
}

void DequantizeQ4_0(const uint8_t* src, float* y, uint64_t nb) {
  for (uint64_t i = 0; i < nb; ++i, y += 32) {
    const auto b = Load<BlockQ4_0>(src + i * sizeof(BlockQ4_0));
    const float d = F16ToF32(b.d);
    for (int j = 0; j < 16; ++j) {
      const int x0 = (b.qs[j] & 0x0F) - 8;
      const int x1 = (b.qs[j] >> 4) - 8;
      y[j] = static_cast<float>(x0) * d;
      y[j + 16] = static_cast<float>(x1) * d;
    }
  }
}

// get_scale_min_k4: the 6-bit scale and min of sub-block j, packed into 12 bytes.
void ScaleMinK4(int j, const uint8_t* q, uint8_t* d, uint8_t* m) {
  if (j < 4) {
    *d = q[j] & 63;
    *m = q[j + 4] & 63;
  } else {
    *d = (q[j + 4] & 0xF) | ((q[j - 4] >> 6) << 4);
    *m = (q[j + 4] >> 4) | ((q[j - 0] >> 6) << 4);
  }
}

void DequantizeQ4K(const uint8_t* src, float* y, uint64_t nb) {
  for (uint64_t i = 0; i < nb; ++i) {
    const auto b = Load<BlockQ4K>(src + i * sizeof(BlockQ4K));
    const uint8_t* q = b.qs;
    const float d = F16ToF32(b.d);
    const float min = F16ToF32(b.dmin);
    int is = 0;
    uint8_t sc, m;
    for (int j = 0; j < 256; j += 64) {
      ScaleMinK4(is + 0, b.scales, &sc, &m);
      const float d1 = d * sc, m1 = min * m;
      ScaleMinK4(is + 1, b.scales, &sc, &m);
      const float d2 = d * sc, m2 = min * m;
      for (int l = 0; l < 32; ++l) *y++ = d1 * static_cast<float>(q[l] & 0xF) - m1;
      for (int l = 0; l < 32; ++l) *y++ = d2 * static_cast<float>(q[l] >> 4) - m2;
      q += 32;
      is += 2;
    }
  }
}

void DequantizeQ6K(const uint8_t* src, float* y, uint64_t nb) {
  for (uint64_t i = 0; i < nb; ++i) {
    const auto b = Load<BlockQ6K>(src + i * sizeof(BlockQ6K));
    const float d = F16ToF32(b.d);
    const uint8_t* ql = b.ql;
    const uint8_t* qh = b.qh;
    const int8_t* sc = b.scales;
    for (int n = 0; n < 256; n += 128) {
      for (int l = 0; l < 32; ++l) {
        const int is = l / 16;
        const int8_t q1 = static_cast<int8_t>((ql[l + 0] & 0xF) | (((qh[l] >> 0) & 3) << 4)) - 32;
        const int8_t q2 = static_cast<int8_t>((ql[l + 32] & 0xF) | (((qh[l] >> 2) & 3) << 4)) - 32;
        const int8_t q3 = static_cast<int8_t>((ql[l + 0] >> 4) | (((qh[l] >> 4) & 3) << 4)) - 32;
        const int8_t q4 = static_cast<int8_t>((ql[l + 32] >> 4) | (((qh[l] >> 6) & 3) << 4)) - 32;
        // (d * sc) * q, in that order, as the reference evaluates it.
        y[l + 0] = d * static_cast<float>(sc[is + 0]) * static_cast<float>(q1);
        y[l + 32] = d * static_cast<float>(sc[is + 2]) * static_cast<float>(q2);
        y[l + 64] = d * static_cast<float>(sc[is + 4]) * static_cast<float>(q3);
        y[l + 96] = d * static_cast<float>(sc[is + 6]) * static_cast<float>(q4);
      }
      y += 128;
      ql += 64;
      qh += 32;
      sc += 8;
    }
  }
}

template <typename T>
void IntToF32(const uint8_t* src, float* dst, uint64_t n) {
  for (uint64_t i = 0; i < n; ++i) dst[i] = static_cast<float>(Load<T>(src + i * sizeof(T)));
}

void F16ToF32Row(const uint8_t* src, float* dst, uint64_t n) {
  if (simd::SimdAvailable()) return simd::F16ToF32(reinterpret_cast<const uint16_t*>(src), dst, n);
  for (uint64_t i = 0; i < n; ++i) dst[i] = F16ToF32(Load<uint16_t>(src + 2 * i));
}

void BF16ToF32Row(const uint8_t* src, float* dst, uint64_t n) {
  if (simd::SimdAvailable()) return simd::BF16ToF32(reinterpret_cast<const uint16_t*>(src), dst, n);
  for (uint64_t i = 0; i < n; ++i) dst[i] = BF16ToF32(Load<uint16_t>(src + 2 * i));
}

void F32ToF16Row(const float* src, uint8_t* dst, uint64_t n) {
  if (simd::SimdAvailable()) return simd::F32ToF16(src, reinterpret_cast<uint16_t*>(dst), n);
  for (uint64_t i = 0; i < n; ++i) {
    const uint16_t h = F32ToF16(src[i]);
    std::memcpy(dst + 2 * i, &h, 2);
  }
}

Status CheckBlocks(DType t, uint64_t n) {
  const uint32_t block = Info(t).block_elems;
  if (n % block != 0)
    return Error::Usage("element count is not a whole number of " + std::string(Name(t)) +
                        " blocks")
        .Expected("a multiple of " + std::to_string(block))
        .Found(std::to_string(n));
  return Ok();
}

// (int8_t)f as the reference's x86-64 code computes it (cvttss2si, then the low byte),
// where C leaves it undefined: a non-finite or huge value, which a block whose largest
// value is subnormal produces (its inverse scale overflows to infinity), gives 0.
inline int8_t ToInt8(float f) {
  if (!(f > -2147483648.0f && f < 2147483648.0f)) return 0;
  return static_cast<int8_t>(static_cast<int32_t>(f));
}

// Elements converted per step through the f32 buffer: a multiple of every block size,
// small enough to stay in L1/L2.
constexpr uint64_t kChunk = 4096;

}  // namespace

void QuantizeRowQ8_0(const float* x, BlockQ8_0* y, uint64_t n) {
  if (simd::SimdAvailable()) return simd::QuantizeQ8_0(x, y, n / 32);
  simd::QuantizeRowQ8_0Scalar(x, y, n);
}

void QuantizeRowQ4_0(const float* x, BlockQ4_0* y, uint64_t n) {
  if (simd::SimdAvailable()) return simd::QuantizeQ4_0(x, y, n / 32);
  simd::QuantizeRowQ4_0Scalar(x, y, n);
}

// The reference quantizers, statement by statement (ggml-quants.c).
void simd::QuantizeRowQ8_0Scalar(const float* x, BlockQ8_0* y, uint64_t n) {
  const uint64_t nb = n / 32;
  for (uint64_t i = 0; i < nb; ++i, x += 32) {
    float amax = 0.0f;
    for (int j = 0; j < 32; ++j) {
      const float a = std::fabs(x[j]);
      amax = amax > a ? amax : a;  // MAX(amax, fabsf(v))
    }
    const float d = amax / ((1 << 7) - 1);
    const float id = d != 0.0f ? 1.0f / d : 0.0f;
    y[i].d = wg::F32ToF16(d);
    for (int j = 0; j < 32; ++j) y[i].qs[j] = ToInt8(std::round(x[j] * id));
  }
}

void simd::QuantizeRowQ4_0Scalar(const float* x, BlockQ4_0* y, uint64_t n) {
  const uint64_t nb = n / 32;
  for (uint64_t i = 0; i < nb; ++i, x += 32) {
    float amax = 0.0f;  // absolute max
    float max = 0.0f;   // the value that has it; the first one wins
    for (int j = 0; j < 32; ++j) {
      if (amax < std::fabs(x[j])) {
        amax = std::fabs(x[j]);
        max = x[j];
      }
    }
    const float d = max / -8;
    const float id = d != 0.0f ? 1.0f / d : 0.0f;
    y[i].d = wg::F32ToF16(d);
    // The reference writes (int8_t)(x*id + 8.5f), and its result depends on whether the
    // compiler fuses the multiply-add: llama.cpp's usual builds (x86-64 with FMA, ARM64)
    // fuse, and gguf-py reproduces the fused result. x*id is exact in double and, near
    // any integer boundary, so is the sum, so this is one rounding of the exact value to
    // f32: bit for bit what fmaf(x, id, 8.5f) gives, without needing FMA hardware.
    auto q = [id](float v) {
      const float t = static_cast<float>(static_cast<double>(v) * id + 8.5);
      return static_cast<uint8_t>(std::min<int>(15, ToInt8(t)));  // MIN(15, (int8_t)t)
    };
    for (int j = 0; j < 16; ++j) y[i].qs[j] = q(x[j]) | static_cast<uint8_t>(q(x[j + 16]) << 4);
  }
}

Status ToF32(DType from, const uint8_t* src, float* dst, uint64_t n) {
  WG_TRY(CheckBlocks(from, n));
  switch (from) {
    case DType::kF64:
      for (uint64_t i = 0; i < n; ++i) dst[i] = static_cast<float>(Load<double>(src + 8 * i));
      return Ok();
    case DType::kF32:
      std::memcpy(dst, src, n * 4);
      return Ok();
    case DType::kF16:
      F16ToF32Row(src, dst, n);
      return Ok();
    case DType::kBF16:
      BF16ToF32Row(src, dst, n);
      return Ok();
    case DType::kI64:
      IntToF32<int64_t>(src, dst, n);
      return Ok();
    case DType::kI32:
      IntToF32<int32_t>(src, dst, n);
      return Ok();
    case DType::kI16:
      IntToF32<int16_t>(src, dst, n);
      return Ok();
    case DType::kI8:
      IntToF32<int8_t>(src, dst, n);
      return Ok();
    case DType::kU64:
      IntToF32<uint64_t>(src, dst, n);
      return Ok();
    case DType::kU32:
      IntToF32<uint32_t>(src, dst, n);
      return Ok();
    case DType::kU16:
      IntToF32<uint16_t>(src, dst, n);
      return Ok();
    case DType::kU8:
      IntToF32<uint8_t>(src, dst, n);
      return Ok();
    case DType::kBool:
      for (uint64_t i = 0; i < n; ++i) dst[i] = src[i] ? 1.0f : 0.0f;
      return Ok();
    case DType::kQ8_0:
      DequantizeQ8_0(src, dst, n / 32);
      return Ok();
    case DType::kQ4_0:
      DequantizeQ4_0(src, dst, n / 32);
      return Ok();
    case DType::kQ4K:
      DequantizeQ4K(src, dst, n / 256);
      return Ok();
    case DType::kQ6K:
      DequantizeQ6K(src, dst, n / 256);
      return Ok();
    case DType::kF8E4M3:
    case DType::kF8E5M2:
      break;
  }
  return Error::Unsupported("cannot convert this dtype to F32").Found(std::string(Name(from)));
}

Status FromF32(DType to, const float* src, uint8_t* dst, uint64_t n) {
  WG_TRY(CheckBlocks(to, n));
  switch (to) {
    case DType::kF64:
      for (uint64_t i = 0; i < n; ++i) {
        const double v = src[i];
        std::memcpy(dst + 8 * i, &v, 8);
      }
      return Ok();
    case DType::kF32:
      std::memcpy(dst, src, n * 4);
      return Ok();
    case DType::kF16:
      F32ToF16Row(src, dst, n);
      return Ok();
    case DType::kBF16:
      for (uint64_t i = 0; i < n; ++i) {
        const uint16_t b = F32ToBF16(src[i]);
        std::memcpy(dst + 2 * i, &b, 2);
      }
      return Ok();
    case DType::kQ8_0: {
      // Quantize through an aligned block buffer: dst may sit at any byte.
      BlockQ8_0 blocks[64];
      for (uint64_t i = 0; i < n; i += 32 * 64) {
        const uint64_t m = std::min<uint64_t>(32 * 64, n - i);
        QuantizeRowQ8_0(src + i, blocks, m);
        std::memcpy(dst + i / 32 * sizeof(BlockQ8_0), blocks, m / 32 * sizeof(BlockQ8_0));
      }
      return Ok();
    }
    case DType::kQ4_0: {
      BlockQ4_0 blocks[64];
      for (uint64_t i = 0; i < n; i += 32 * 64) {
        const uint64_t m = std::min<uint64_t>(32 * 64, n - i);
        QuantizeRowQ4_0(src + i, blocks, m);
        std::memcpy(dst + i / 32 * sizeof(BlockQ4_0), blocks, m / 32 * sizeof(BlockQ4_0));
      }
      return Ok();
    }
    default:
      break;
  }
  return Error::Unsupported("cannot convert F32 to this dtype")
      .Expected("F64, F32, F16, BF16, Q8_0 or Q4_0")
      .Found(std::string(Name(to)));
}

Status Convert(DType from, const uint8_t* src, DType to, uint8_t* dst, uint64_t n) {
  WG_TRY(CheckBlocks(from, n));
  WG_TRY(CheckBlocks(to, n));
  if (from == to) {
    WG_ASSIGN_OR_RETURN(uint64_t bytes, ByteSize(from, n));
    std::memmove(dst, src, bytes);
    return Ok();
  }
  // Direct paths between the 16-bit floats, in SIMD where the CPU has it.
  if (simd::SimdAvailable()) {
    const auto* s16 = reinterpret_cast<const uint16_t*>(src);
    if (from == DType::kBF16 && to == DType::kF16) {
      simd::BF16ToF16(s16, reinterpret_cast<uint16_t*>(dst), n);
      return Ok();
    }
    if (from == DType::kF32 && to == DType::kF16) {
      simd::F32ToF16(reinterpret_cast<const float*>(src), reinterpret_cast<uint16_t*>(dst), n);
      return Ok();
    }
    if (from == DType::kBF16 && to == DType::kF32) {
      simd::BF16ToF32(s16, reinterpret_cast<float*>(dst), n);
      return Ok();
    }
    if (from == DType::kF16 && to == DType::kF32) {
      simd::F16ToF32(s16, reinterpret_cast<float*>(dst), n);
      return Ok();
    }
  }
  if (from == DType::kF32) return FromF32(to, reinterpret_cast<const float*>(src), dst, n);
  if (to == DType::kF32) return ToF32(from, src, reinterpret_cast<float*>(dst), n);

  // Everything else goes through f32, a chunk at a time.
  const DTypeInfo& fi = Info(from);
  const DTypeInfo& ti = Info(to);
  alignas(64) float buf[kChunk];
  for (uint64_t i = 0; i < n; i += kChunk) {
    const uint64_t m = std::min(kChunk, n - i);
    WG_TRY(ToF32(from, src + i / fi.block_elems * fi.block_bytes, buf, m));
    WG_TRY(FromF32(to, buf, dst + i / ti.block_elems * ti.block_bytes, m));
  }
  return Ok();
}

bool SimdAvailable() {
  return simd::SimdAvailable();
}
void SetSimdForTesting(bool enabled) {
  simd::SetSimdEnabled(enabled);
}

}  // namespace wg
