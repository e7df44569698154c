// Element-wise dequantization shared by the CUDA kernels and a host test.
//
// DequantAt(base, type, i) is element i of a run of `type` elements at `base` (a row,
// or a whole tensor: block types are contiguous blocks, so a flat index works for
// both). It must reproduce core/quant.cpp bit for bit: the same operations in the same
// order, with multiplies that nvcc may not fuse into an FMA (the host does not fuse
// them either: x86-64's baseline has no FMA). Compiled as __host__ __device__ under
// nvcc and as plain C++ otherwise, so that tests/gpu_cuda_test.cpp checks it against
// ToF32 on every machine, GPU or not.
#pragma once

#include <cstdint>
#include <cstring>

#ifdef __CUDACC__
#define WG_HD __host__ __device__ __forceinline__
#else
#define WG_HD inline
#endif

namespace wg::cuda {

// Weight element types the kernels dequantize, with llama.cpp's block layouts.
enum WType : int { kWF32 = 0, kWF16, kWBF16, kWQ8_0, kWQ4_0, kWQ4K, kWQ6K };

WG_HD float BitsToFloat(uint32_t bits) {
  float f;
  memcpy(&f, &bits, sizeof f);
  return f;
}

// Multiply and subtract with explicit rounding on the device: nvcc would otherwise
// contract a * b - c into one FMA, which the host (x86-64 baseline, no FMA) never does.
WG_HD float Mul(float a, float b) {
#ifdef __CUDA_ARCH__
  return __fmul_rn(a, b);
#else
  return a * b;
#endif
}

WG_HD float Sub(float a, float b) {
#ifdef __CUDA_ARCH__
  return __fsub_rn(a, b);
#else
  return a - b;
#endif
}

// IEEE half to float, exact (every half is a float).
WG_HD float HalfToFloat(uint16_t h) {
  const uint32_t sign = static_cast<uint32_t>(h & 0x8000u) << 16;
  const uint32_t exp = (h >> 10) & 0x1Fu, mant = h & 0x3FFu;
  if (exp == 0) {  // zero or subnormal: mant * 2^-24, exact in float
    const float v = static_cast<float>(mant) * 5.9604644775390625e-8f;
    return sign ? -v : v;
  }
  if (exp == 31) return BitsToFloat(sign | 0x7F800000u | (mant << 13));
  return BitsToFloat(sign | ((exp + 112) << 23) | (mant << 13));
}

WG_HD float HalfAt(const uint8_t* p) {
  return HalfToFloat(static_cast<uint16_t>(p[0] | (p[1] << 8)));
}

// get_scale_min_k4 from ggml: the 6-bit scale and min of Q4_K sub-block j.
WG_HD void ScaleMinK4(int j, const uint8_t* q, int* d, int* m) {
  if (j < 4) {
    *d = q[j] & 63;
    *m = q[j + 4] & 63;
  } else {
    *d = (q[j + 4] & 0xF) | ((q[j - 4] >> 6) << 4);
    *m = (q[j + 4] >> 4) | ((q[j] >> 6) << 4);
  }
}

WG_HD float DequantAt(const uint8_t* base, int type, uint64_t i) {
  switch (type) {
    case kWF32: {
      uint32_t bits;
      memcpy(&bits, base + 4 * i, 4);
      return BitsToFloat(bits);
    }
    case kWF16:
      return HalfAt(base + 2 * i);
    case kWBF16: {
      const uint8_t* p = base + 2 * i;
      return BitsToFloat(static_cast<uint32_t>(p[0] | (p[1] << 8)) << 16);
    }
    case kWQ8_0: {
      const uint8_t* blk = base + (i / 32) * 34;
      const int8_t q = static_cast<int8_t>(blk[2 + i % 32]);
      return Mul(static_cast<float>(q), HalfAt(blk));
    }
    case kWQ4_0: {
      const uint8_t* blk = base + (i / 32) * 18;
      const int j = static_cast<int>(i % 32);
      const uint8_t byte = blk[2 + (j & 15)];
      const int q = (j < 16 ? (byte & 0x0F) : (byte >> 4)) - 8;
      return Mul(static_cast<float>(q), HalfAt(blk));
    }
    case kWQ4K: {  // d, dmin (f16), scales[12], qs[128]
      const uint8_t* blk = base + (i / 256) * 144;
      const int j = static_cast<int>(i % 256);
      const int chunk = j / 64, within = j % 64;
      int sc, m;
      ScaleMinK4(2 * chunk + (within >= 32), blk + 4, &sc, &m);
      const uint8_t byte = blk[16 + 32 * chunk + within % 32];
      const int q = within < 32 ? (byte & 0xF) : (byte >> 4);
      const float d1 = Mul(HalfAt(blk), static_cast<float>(sc));
      const float m1 = Mul(HalfAt(blk + 2), static_cast<float>(m));
      return Sub(Mul(d1, static_cast<float>(q)), m1);
    }
    case kWQ6K: {  // ql[128], qh[64], scales[16] (int8), d (f16)
      const uint8_t* blk = base + (i / 256) * 210;
      const int j = static_cast<int>(i % 256);
      const int half = j / 128, quarter = (j % 128) / 32, l = j % 32;
      const uint8_t* ql = blk + 64 * half;
      const uint8_t* qh = blk + 128 + 32 * half;
      const int8_t scale = static_cast<int8_t>(blk[192 + 8 * half + l / 16 + 2 * quarter]);
      const uint8_t lo = (quarter & 1) ? ql[l + 32] : ql[l];
      const int low = quarter < 2 ? (lo & 0xF) : (lo >> 4);
      const int high = (qh[l] >> (2 * quarter)) & 3;
      const int q = (low | (high << 4)) - 32;
      return Mul(Mul(HalfAt(blk + 208), static_cast<float>(scale)), static_cast<float>(q));
    }
    default:
      return BitsToFloat(0x7FC00000u);  // unreachable: the host maps dtypes first
  }
}

}  // namespace wg::cuda
