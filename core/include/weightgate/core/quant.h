// Element conversion between float types and llama.cpp's block-quantized types.
//
// Quantization is bit-identical to llama.cpp's reference quantizers
// (quantize_row_q8_0_ref, quantize_row_q4_0_ref in ggml-quants.c) and dequantization
// matches dequantize_row_* exactly, so GGUF files we write load in llama.cpp with the
// same values it would have produced itself. Rows are independent; callers split large
// tensors into row ranges and convert them in parallel.
//
// Q4_0's reference result depends on whether the compiler fuses x*id + 8.5f. We give
// the fused result, which gguf-py's gguf.quants reproduces and llama.cpp's FMA builds
// (x86-64 native, ARM64) compute; a build without FMA differs in rare last-bit cases.
// An all-zero Q4_0 block gets the scale -0.0 as in llama.cpp (gguf-py writes +0.0 when
// the block's first element is -0.0).
#pragma once

#include <cstdint>

#include "weightgate/core/dtype.h"
#include "weightgate/core/error.h"

namespace wg {

// Block layouts, as in ggml-common.h.
struct BlockQ8_0 {
  uint16_t d;  // f16 scale
  int8_t qs[32];
};
struct BlockQ4_0 {
  uint16_t d;
  uint8_t qs[16];
};
static_assert(sizeof(BlockQ8_0) == 34 && sizeof(BlockQ4_0) == 18);

// n must be a multiple of 32.
void QuantizeRowQ8_0(const float* x, BlockQ8_0* y, uint64_t n);
void QuantizeRowQ4_0(const float* x, BlockQ4_0* y, uint64_t n);

// Converts n elements of `from` to f32. `from` may be any float, integer, bool or
// quantized dtype except F8 (Unsupported). For block types n is a multiple of the block.
Status ToF32(DType from, const uint8_t* src, float* dst, uint64_t n);

// Converts n f32 values to `to`: F64, F32, F16, BF16, Q8_0 or Q4_0 (others: Unsupported).
Status FromF32(DType to, const float* src, uint8_t* dst, uint64_t n);

// Converts n elements from one dtype to another, taking a direct path where one exists
// (F32/F16/BF16 between each other, with SIMD where the CPU has it) and going through
// f32 otherwise. Equal dtypes copy. `scratch` is not needed by callers; chunking is
// internal, so memory use is bounded.
Status Convert(DType from, const uint8_t* src, DType to, uint8_t* dst, uint64_t n);

// Whether the SIMD conversion paths run on this CPU (AVX2 and F16C). Tests switch them
// off to compare the scalar fallback with them; results are identical either way.
bool SimdAvailable();
void SetSimdForTesting(bool enabled);

}  // namespace wg
