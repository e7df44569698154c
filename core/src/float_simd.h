// AVX2 + F16C kernels for the float conversions (private to core/).
//
// Each kernel gives exactly the bits the scalar conversions in half.h give: F16C's
// conversions round to nearest even and quiet NaNs the same way, and BF16 -> F32 is a
// shift. Callers check SimdAvailable() first; the kernels must not run otherwise.
#pragma once

#include <cstdint>

#include "weightgate/core/quant.h"

namespace wg::simd {

// The CPU has AVX2 and F16C (checked once) and tests have not switched SIMD off.
bool SimdAvailable();
void SetSimdEnabled(bool enabled);

void F32ToF16(const float* src, uint16_t* dst, uint64_t n);
void F16ToF32(const uint16_t* src, float* dst, uint64_t n);
void BF16ToF32(const uint16_t* src, float* dst, uint64_t n);
void BF16ToF16(const uint16_t* src, uint16_t* dst, uint64_t n);

// nb blocks of 32. Blocks the vector code cannot reproduce exactly (a NaN, an infinity,
// a scale whose inverse overflows) go to the scalar reference code.
void QuantizeQ8_0(const float* x, BlockQ8_0* y, uint64_t nb);
void QuantizeQ4_0(const float* x, BlockQ4_0* y, uint64_t nb);

// The scalar reference quantizers (quant.cpp), for one or more whole blocks.
void QuantizeRowQ8_0Scalar(const float* x, BlockQ8_0* y, uint64_t n);
void QuantizeRowQ4_0Scalar(const float* x, BlockQ4_0* y, uint64_t n);

}  // namespace wg::simd
