#include "command.h"

#include <cstdio>

namespace wg::cli {

int ExitCodeFor(const Error& e) {
  switch (e.code()) {
    case ErrorCode::kUsage:
    case ErrorCode::kMalformed:
    case ErrorCode::kUnsupported:
      return kExitUsage;
    case ErrorCode::kUnsafe:
    case ErrorCode::kMismatch:
      return kExitCheckFailed;
    case ErrorCode::kIo:
      return kExitIo;
    case ErrorCode::kBadSignature:
      return kExitBadSignature;
    case ErrorCode::kUntrusted:
      return kExitUntrusted;
    case ErrorCode::kDenied:
      return kExitDenied;
    case ErrorCode::kNeedsLicence:
      return kExitNeedsLicence;
  }
  return kExitUsage;
}

int ReportError(const Error& e) {
  std::fprintf(stderr, "weightgate: error: %s\n", e.ToString().c_str());
  return ExitCodeFor(e);
}

int ExitCodeSplittingMalformed(const Error& e) {
  if (e.code() == ErrorCode::kMalformed || e.code() == ErrorCode::kUnsupported) return kExitMalformed;
  return ExitCodeFor(e);
}

int ReportErrorSplittingMalformed(const Error& e) {
  std::fprintf(stderr, "weightgate: error: %s\n", e.ToString().c_str());
  return ExitCodeSplittingMalformed(e);
}

}  // namespace wg::cli
