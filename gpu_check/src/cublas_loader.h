// cuBLAS, opened with dlopen the first time a GPU pass needs it.
//
// Linking libcublas(Lt) into the executable costs every weightgate process ~230 MB of
// resident memory and its start-up time, for a library only `gpu-check` on a GPU uses;
// a machine without it still runs every other verb. Only the few entry points the CUDA
// twin calls are resolved.
#pragma once

#ifdef WG_HAVE_CUDA

#include <cublas_v2.h>

#include "weightgate/core/error.h"

namespace wg::cuda {

struct CublasApi {
  decltype(&cublasCreate_v2) create = nullptr;
  decltype(&cublasDestroy_v2) destroy = nullptr;
  decltype(&cublasSetStream_v2) set_stream = nullptr;
  decltype(&cublasSetMathMode) set_math_mode = nullptr;
  decltype(&cublasSgemv_v2) sgemv = nullptr;
  decltype(&cublasGetStatusName) status_name = nullptr;
  decltype(&cublasGetStatusString) status_string = nullptr;
};

// The loaded API, or why it could not be loaded (library missing, symbol missing).
Result<const CublasApi*> LoadCublas();

}  // namespace wg::cuda

#endif  // WG_HAVE_CUDA
