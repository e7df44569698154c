// IEEE half (f16) and bfloat16 conversions, round-to-nearest-even.
//
// These are bit-exact with the hardware conversions (F16C's vcvtps2ph with rounding
// mode 0) that llama.cpp uses, and with gguf-py's BF16 rounding, so that files we
// quantize or cast match the reference tools byte for byte.
#pragma once

#include <cstdint>
#include <cstring>

namespace wg {

inline uint32_t FloatBits(float f) {
  uint32_t u;
  std::memcpy(&u, &f, 4);
  return u;
}
inline float BitsFloat(uint32_t u) {
  float f;
  std::memcpy(&f, &u, 4);
  return f;
}

// f16 -> f32, exact.
inline float F16ToF32(uint16_t h) {
  const uint32_t sign = static_cast<uint32_t>(h & 0x8000) << 16;
  const uint32_t exp = (h >> 10) & 0x1f;
  const uint32_t mant = h & 0x3ff;
  if (exp == 0) {
    if (mant == 0) return BitsFloat(sign);
    // subnormal: value = mant * 2^-24
    float f = static_cast<float>(mant) * (1.0f / 16777216.0f);
    return sign ? -f : f;
  }
  if (exp == 31) return BitsFloat(sign | 0x7f800000 | (mant << 13) | (mant ? 0x400000 : 0));  // NaN made quiet, as F16C does
  return BitsFloat(sign | ((exp + 112) << 23) | (mant << 13));
}

// f32 -> f16, round to nearest even; overflow gives inf, NaN stays NaN (quiet).
inline uint16_t F32ToF16(float f) {
  const uint32_t x = FloatBits(f);
  const uint32_t sign = (x >> 16) & 0x8000;
  const uint32_t ax = x & 0x7fffffff;
  if (ax >= 0x7f800000) {  // inf or NaN
    return static_cast<uint16_t>(sign | 0x7c00 | (ax > 0x7f800000 ? (0x200 | ((ax >> 13) & 0x3ff)) : 0));
  }
  if (ax >= 0x477ff000) return static_cast<uint16_t>(sign | 0x7c00);  // rounds to >= 65520: inf
  if (ax < 0x38800000) {  // below the smallest normal f16 (2^-14): subnormal or zero
    // Adding 0.5f aligns the value so that the f32 adder does the RNE rounding for us.
    float r = BitsFloat(ax) + 0.5f;
    return static_cast<uint16_t>(sign | (FloatBits(r) - 0x3f000000));
  }
  const uint32_t mant_odd = (ax >> 13) & 1;
  uint32_t v = ax + 0xc8000fff + mant_odd;  // rebias exponent (-112 << 23) and round
  return static_cast<uint16_t>(sign | (v >> 13));
}

inline float BF16ToF32(uint16_t b) { return BitsFloat(static_cast<uint32_t>(b) << 16); }

// f32 -> bf16 as ggml_compute_fp32_to_bf16 and gguf-py do: RNE, NaN forced quiet.
inline uint16_t F32ToBF16(float f) {
  const uint32_t u = FloatBits(f);
  if ((u & 0x7fffffff) > 0x7f800000) return static_cast<uint16_t>((u >> 16) | 64);
  return static_cast<uint16_t>((u + (0x7fff + ((u >> 16) & 1))) >> 16);
}

}  // namespace wg
