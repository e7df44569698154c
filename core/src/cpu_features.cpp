// Runtime CPU feature detection for the hashing engines.
#include <cpuid.h>

#include "weightgate/core/hash_engine.h"

namespace wg {

std::string_view SimdLevelName(SimdLevel s) {
  switch (s) {
    case SimdLevel::kAuto:
      return "auto";
    case SimdLevel::kPortable:
      return "portable";
    case SimdLevel::kAvx2:
      return "avx2";
    case SimdLevel::kAvx512:
      return "avx512";
  }
  return "?";
}

bool CpuSupports(SimdLevel s) {
  // __builtin_cpu_supports also checks that the OS saves the wide registers (XGETBV).
  switch (s) {
    case SimdLevel::kAuto:
    case SimdLevel::kPortable:
      return true;
    case SimdLevel::kAvx2:
      return __builtin_cpu_supports("avx2");
    case SimdLevel::kAvx512:
      return __builtin_cpu_supports("avx512f") && __builtin_cpu_supports("avx512vl") &&
             __builtin_cpu_supports("avx2");
  }
  return false;
}

SimdLevel BestSimdLevel() {
  if (CpuSupports(SimdLevel::kAvx512)) return SimdLevel::kAvx512;
  if (CpuSupports(SimdLevel::kAvx2)) return SimdLevel::kAvx2;
  return SimdLevel::kPortable;
}

bool CpuHasShaExtensions() {
  unsigned a, b, c, d;
  if (!__get_cpuid_count(7, 0, &a, &b, &c, &d)) return false;
  return (b >> 29) & 1;  // CPUID.(EAX=7,ECX=0):EBX.SHA[bit 29]
}

}  // namespace wg
