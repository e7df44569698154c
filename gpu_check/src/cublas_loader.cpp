#ifdef WG_HAVE_CUDA

#include "cublas_loader.h"

#include <dlfcn.h>

#include <mutex>
#include <string>

namespace wg::cuda {
namespace {

// The soname of the cuBLAS we compiled against (libcublas.so.13 for CUDA 13).
std::string CublasSoname() {
  return "libcublas.so." + std::to_string(CUBLAS_VER_MAJOR);
}

template <typename Fn>
bool Resolve(void* lib, const char* name, Fn* out) {
  *out = reinterpret_cast<Fn>(::dlsym(lib, name));
  return *out != nullptr;
}

}  // namespace

Result<const CublasApi*> LoadCublas() {
  static std::once_flag once;
  static CublasApi api;
  static std::string failure;
  std::call_once(once, [] {
    const std::string soname = CublasSoname();
    void* lib = ::dlopen(soname.c_str(), RTLD_NOW | RTLD_LOCAL);
    if (!lib) {
      const char* why = ::dlerror();
      failure = "cannot load " + soname +
                " (the CUDA toolkit's cuBLAS; add its lib folder to "
                "LD_LIBRARY_PATH): " +
                (why ? why : "unknown error");
      return;
    }
    const bool ok = Resolve(lib, "cublasCreate_v2", &api.create) &&
                    Resolve(lib, "cublasDestroy_v2", &api.destroy) &&
                    Resolve(lib, "cublasSetStream_v2", &api.set_stream) &&
                    Resolve(lib, "cublasSetMathMode", &api.set_math_mode) &&
                    Resolve(lib, "cublasSgemv_v2", &api.sgemv) &&
                    Resolve(lib, "cublasGetStatusName", &api.status_name) &&
                    Resolve(lib, "cublasGetStatusString", &api.status_string);
    if (!ok) failure = soname + " lacks an entry point weightgate needs: " + ::dlerror();
  });
  if (!failure.empty()) return Error::Unsupported(failure);
  return &api;
}

}  // namespace wg::cuda

#endif  // WG_HAVE_CUDA
