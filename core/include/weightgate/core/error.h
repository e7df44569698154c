// Error: what went wrong, where, and what was expected.
//
// Every fallible function in weightgate returns a Result<T> (or Status) instead of
// throwing across a library boundary. An Error carries enough context for a user to
// act on it without a debugger: the file, the byte offset or field that was wrong, and
// what was expected versus what was found. The CLI maps Error::code() to the exit
// codes documented in README.md.
#pragma once

#include <cstdint>
#include <optional>
#include <string>
#include <utility>
#include <variant>

namespace wg {

enum class ErrorCode {
  kUsage,        // bad command line or API misuse (exit 2)
  kMalformed,    // input violates its format (exit 2; 9 where a verb splits them)
  kUnsupported,  // valid input we do not handle (exit 2)
  kUnsafe,       // input would execute code or is otherwise refused (exit 1)
  kMismatch,     // content differs from what was expected (exit 1)
  kIo,           // the operating system said no: missing file, disk full (exit 8)
  kBadSignature, // a signature does not verify over the bytes it claims to cover (exit 4)
  kUntrusted,    // the signer is not the trusted key or does not chain to a trust root (exit 5)
  kDenied,       // a release policy forbids this (exit 6); the message names the clause
  kNeedsLicence, // the licence must be accepted first, or a separate licence is needed (exit 7)
};

const char* ErrorCodeName(ErrorCode code);

class Error {
 public:
  Error(ErrorCode code, std::string message) : code_(code), message_(std::move(message)) {}

  static Error Usage(std::string m) { return Error(ErrorCode::kUsage, std::move(m)); }
  static Error Malformed(std::string m) { return Error(ErrorCode::kMalformed, std::move(m)); }
  static Error Unsupported(std::string m) { return Error(ErrorCode::kUnsupported, std::move(m)); }
  static Error Unsafe(std::string m) { return Error(ErrorCode::kUnsafe, std::move(m)); }
  static Error Mismatch(std::string m) { return Error(ErrorCode::kMismatch, std::move(m)); }
  static Error Io(std::string m) { return Error(ErrorCode::kIo, std::move(m)); }
  static Error BadSignature(std::string m) { return Error(ErrorCode::kBadSignature, std::move(m)); }
  static Error Untrusted(std::string m) { return Error(ErrorCode::kUntrusted, std::move(m)); }
  static Error Denied(std::string m) { return Error(ErrorCode::kDenied, std::move(m)); }
  static Error NeedsLicence(std::string m) { return Error(ErrorCode::kNeedsLicence, std::move(m)); }
  // An I/O error from errno, e.g. Error::FromErrno("open", path).
  static Error FromErrno(const std::string& what, const std::string& path);

  // Context setters return *this so errors read as one expression:
  //   return Error::Malformed("tensor data out of bounds").File(p).Offset(o).Field(name);
  // An outer layer may add context the inner one lacked; it never overwrites.
  Error& File(std::string f) & { if (!file_) file_ = std::move(f); return *this; }
  Error&& File(std::string f) && { return std::move(File(std::move(f))); }
  Error& Offset(uint64_t o) & { if (!offset_) offset_ = o; return *this; }
  Error&& Offset(uint64_t o) && { return std::move(Offset(o)); }
  Error& Field(std::string f) & { if (!field_) field_ = std::move(f); return *this; }
  Error&& Field(std::string f) && { return std::move(Field(std::move(f))); }
  Error& Expected(std::string e) & { expected_ = std::move(e); return *this; }
  Error&& Expected(std::string e) && { return std::move(Expected(std::move(e))); }
  Error& Found(std::string f) & { found_ = std::move(f); return *this; }
  Error&& Found(std::string f) && { return std::move(Found(std::move(f))); }

  ErrorCode code() const { return code_; }
  const std::string& message() const { return message_; }
  const std::optional<std::string>& file() const { return file_; }
  const std::optional<uint64_t>& offset() const { return offset_; }
  const std::optional<std::string>& field() const { return field_; }
  const std::optional<std::string>& expected() const { return expected_; }
  const std::optional<std::string>& found() const { return found_; }

  // "model.gguf: offset 1234: tensor 'blk.0.attn_q.weight': data out of bounds
  //  (expected end <= 4096, found 8192)"
  std::string ToString() const;

 private:
  ErrorCode code_;
  std::string message_;
  std::optional<std::string> file_;
  std::optional<uint64_t> offset_;
  std::optional<std::string> field_;
  std::optional<std::string> expected_;
  std::optional<std::string> found_;
};

// Result<T> holds a T or an Error. Result<void> (alias Status) holds nothing or an Error.
template <typename T>
class [[nodiscard]] Result {
 public:
  Result(T value) : v_(std::move(value)) {}  // NOLINT: implicit by design
  Result(Error error) : v_(std::move(error)) {}  // NOLINT
  bool ok() const { return v_.index() == 0; }
  explicit operator bool() const { return ok(); }
  T& value() & { return std::get<0>(v_); }
  const T& value() const& { return std::get<0>(v_); }
  T&& value() && { return std::get<0>(std::move(v_)); }
  T& operator*() & { return value(); }
  const T& operator*() const& { return value(); }
  T* operator->() { return &value(); }
  const T* operator->() const { return &value(); }
  Error& error() & { return std::get<1>(v_); }
  const Error& error() const& { return std::get<1>(v_); }
  Error&& error() && { return std::get<1>(std::move(v_)); }

 private:
  std::variant<T, Error> v_;
};

template <>
class [[nodiscard]] Result<void> {
 public:
  Result() = default;
  Result(Error error) : e_(std::move(error)) {}  // NOLINT
  bool ok() const { return !e_.has_value(); }
  explicit operator bool() const { return ok(); }
  Error& error() & { return *e_; }
  const Error& error() const& { return *e_; }
  Error&& error() && { return std::move(*e_); }

 private:
  std::optional<Error> e_;
};

using Status = Result<void>;
inline Status Ok() { return Status(); }

}  // namespace wg

#define WG_CONCAT_INNER(a, b) a##b
#define WG_CONCAT(a, b) WG_CONCAT_INNER(a, b)

// Returns the error of a Status/Result expression from the enclosing function.
#define WG_TRY(expr)                                       \
  do {                                                     \
    auto&& wg_try_status_ = (expr);                        \
    if (!wg_try_status_.ok()) return std::move(wg_try_status_).error(); \
  } while (0)

// WG_ASSIGN_OR_RETURN(auto x, MakeX()); binds x to the value or returns the error.
#define WG_ASSIGN_OR_RETURN(lhs, expr) \
  WG_ASSIGN_OR_RETURN_IMPL(WG_CONCAT(wg_result_, __LINE__), lhs, expr)
#define WG_ASSIGN_OR_RETURN_IMPL(tmp, lhs, expr) \
  auto tmp = (expr);                             \
  if (!tmp.ok()) return std::move(tmp).error();  \
  lhs = std::move(tmp).value()
