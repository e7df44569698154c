#include "weightgate/core/error.h"

#include <cerrno>
#include <cstring>

namespace wg {

const char* ErrorCodeName(ErrorCode code) {
  switch (code) {
    case ErrorCode::kUsage: return "usage";
    case ErrorCode::kMalformed: return "malformed";
    case ErrorCode::kUnsupported: return "unsupported";
    case ErrorCode::kUnsafe: return "unsafe";
    case ErrorCode::kMismatch: return "mismatch";
    case ErrorCode::kIo: return "io";
    case ErrorCode::kBadSignature: return "bad-signature";
    case ErrorCode::kUntrusted: return "untrusted";
    case ErrorCode::kDenied: return "denied";
    case ErrorCode::kNeedsLicence: return "needs-licence";
  }
  return "unknown";
}

Error Error::FromErrno(const std::string& what, const std::string& path) {
  int err = errno;
  return Error::Io(what + ": " + std::strerror(err)).File(path);
}

std::string Error::ToString() const {
  std::string s;
  if (file_) s += *file_ + ": ";
  if (offset_) s += "offset " + std::to_string(*offset_) + ": ";
  if (field_) s += *field_ + ": ";
  s += message_;
  if (expected_ || found_) {
    s += " (";
    if (expected_) s += "expected " + *expected_;
    if (expected_ && found_) s += ", ";
    if (found_) s += "found " + *found_;
    s += ")";
  }
  return s;
}

}  // namespace wg
