// AVX2 + F16C kernels for the float conversions (private to core/).
//
// Each kernel gives exactly the bits the scalar conversions in half.h give: F16C's
// conversions round to nearest even and quiet NaNs the same way, and BF16 -> F32 is a
// shift. Callers check SimdAvailable() first; the kernels must not run otherwise.
#pragma once

#include <cstdint>

namespace wg::simd {

// The CPU has AVX2 and F16C (checked once) and tests have not switched SIMD off.
bool SimdAvailable();
void SetSimdEnabled(bool enabled);

void F32ToF16(const float* src, uint16_t* dst, uint64_t n);
void F16ToF32(const uint16_t* src, float* dst, uint64_t n);
void BF16ToF32(const uint16_t* src, float* dst, uint64_t n);
void BF16ToF16(const uint16_t* src, uint16_t* dst, uint64_t n);

}  // namespace wg::simd
