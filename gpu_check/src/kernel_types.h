// The kernels' element type (dequant_element.h) for a tensor dtype: the one list of the
// dtypes the CUDA paths dequantize. Plain C++, usable in builds without CUDA.
#pragma once

#include "dequant_element.h"
#include "weightgate/core/dtype.h"

namespace wg::cuda {

// -1 when no kernel handles `t`.
inline int KernelTypeOf(DType t) {
  switch (t) {
    case DType::kF32:
      return kWF32;
    case DType::kF16:
      return kWF16;
    case DType::kBF16:
      return kWBF16;
    case DType::kQ8_0:
      return kWQ8_0;
    case DType::kQ4_0:
      return kWQ4_0;
    case DType::kQ4K:
      return kWQ4K;
    case DType::kQ6K:
      return kWQ6K;
    default:
      return -1;
  }
}

}  // namespace wg::cuda
